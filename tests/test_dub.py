"""Dubbing a real clip: duration, untouched frames, closure on new bilabials, A/V sync."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
from conftest import media

from retake.video.media import probe, read_audio_track, read_frames
from retake.video.visemes import lip_gap

warnings.filterwarnings("ignore", category=UserWarning)

# What pocketsphinx hears in the clip (a rough draft, which is what a user without a
# transcript would align against; the edit only needs the words around it to be right).
SAID = ("rational answer it and really it easy for my second week of new member orientation "
        "additionally where things are how to use the titles")


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 99.0 if mse == 0 else float(10 * np.log10(255 ** 2 / mse))


def test_dub_one_word_of_a_real_clip(tmp_path: Path) -> None:
    from retake.video.dub import dub
    from retake.video.faces import FaceModels
    from retake.video.retime import plan_retime, source_frame_times
    from retake.voice.timemap import TimeMap

    clip = media("video", "WDA_KatieHill_000.mp4")
    out = tmp_path / "dub.mp4"
    models = FaceModels()
    res = dub(clip, out, SAID.replace("second week", "best week"), transcript=SAID,
              models=models, cache_dir=tmp_path / "cache")
    info, src = probe(out), probe(clip)
    timemap = TimeMap.from_json((tmp_path / "dub.timemap.json").read_text())
    # The picture lasts as long as the edited speech, to within a frame.
    assert abs(info.frames / float(info.fps) - timemap.edited_duration) <= 1 / float(info.fps)
    samples, rate = read_audio_track(out)
    assert abs(len(samples) / rate - info.frames / float(info.fps)) < 2 / float(info.fps)
    assert info.width == src.width and info.fps == src.fps
    # Frames outside the edit are the source's own (only the encoder touched them).
    recipes = plan_retime(timemap, source_frame_times(clip), src.fps)
    source = {f.index: f.rgb for f in read_frames(clip)}
    output = {f.index: f.rgb for f in read_frames(out)}
    untouched = [r for r in recipes if r.untouched]
    assert len(untouched) > 0.8 * len(recipes)
    worst = min(_psnr(output[r.index], source[r.sources[0]]) for r in untouched[::5])
    assert worst >= 40, worst
    assert res.mouth_frames >= 3
    # The lips close on the new word's /b/.
    al = json.loads((tmp_path / "dub.json").read_text())
    word = next(w for w in al["words"] if w["text"] == "best")
    b = word["phones"][0]
    assert b["label"].rstrip("012") == "B"
    k = int(round(((b["start"] + b["end"]) / 2 - 0.03) * float(info.fps)))
    gaps = []
    for j in (k - 1, k, k + 1):
        img = output[j]
        lms = models.landmarks(img, models.detect(img)[0])
        gaps.append(lip_gap(lms))
    assert min(gaps) < 0.1, gaps


def test_dub_script_and_errors(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from retake.core.errors import RetakeError
    from retake.ui.cli import app
    from retake.ui.script import load_script
    from retake.video.media import VideoWriter

    script = tmp_path / "s.yaml"
    script.write_text(f'transcript: "{SAID}"\nedits:\n  - {{op: replace, from: 9, to: 9, '
                      'text: third}\nvoice: {speed: 1.1}\n')
    s = load_script(script)
    assert s.edits == [{"op": "replace", "from": 9, "to": 9, "text": "third"}]
    assert s.voice == {"speed": 1.1} and s.transcript == SAID
    for bad, msg in [("to: [1, 2\n", "not valid YAML"), ("colour: red\nto: x\n", "unknown key"),
                     ("to: a\nedits: []\n", "either"), ("to: a\nswap: nope.jpg\n", "exist")]:
        script.write_text(bad)
        try:
            load_script(script)
        except RetakeError as exc:
            assert msg in str(exc)
        else:
            raise AssertionError(bad)
    runner = CliRunner()
    silent = tmp_path / "silent.mp4"
    with VideoWriter(silent, 25, 64, 64) as w:
        for _ in range(10):
            w.write(np.full((64, 64, 3), 100, np.uint8))
    out = tmp_path / "o.mp4"
    r = runner.invoke(app, ["dub", "--consent", str(silent), "-t", "hello there", "--to",
                            "hello you",
                            "-o", str(out)])
    assert r.exit_code != 0 and isinstance(r.exception, RetakeError)
    assert "no audio" in str(r.exception)
    assert not out.exists()
