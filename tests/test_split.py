"""Long single jobs split into pieces run in parallel merge exactly as one process runs them:
`faces extract` of a clip cut into frame ranges, `align` of speech cut at its pauses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import media

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Please call Stella and ask her to bring these things with her from the store.",
    "We also need a small plastic snake and a big toy frog for the kids.",
    "She can scoop these things into three red bags, and we will go meet her.",
]


def _lines(root: Path) -> list[dict]:
    return [json.loads(s) for s in (root / "faces.jsonl").read_text().splitlines() if s]


def test_split_extraction_equals_single_process(tmp_path: Path, monkeypatch) -> None:
    from retake.video import faceset_parallel as fp
    from retake.video.faces import FaceModels
    from retake.video.faceset import extract, load
    from retake.video.faceset_parallel import extract_faces_parallel, frame_pts

    clip = media("video", "retalking_2.mp4")  # 5 s, 125 frames
    # The first boundary check fails once, as if the tracker had not converged: that piece
    # is tracked again with a wider warm-up, and the result must still be the same.
    real, calls = fp._converged, []

    def flaky(*args):
        calls.append(1)
        return None if len(calls) == 1 else real(*args)

    monkeypatch.setattr(fp, "_converged", flaky)
    one = extract([clip], tmp_path / "one", FaceModels())
    report: dict = {}
    split = extract_faces_parallel(clip, tmp_path / "split", FaceModels(), workers=2,
                                   pieces=3, report=report)
    assert report["pieces"] == 3 and report["reruns"] == 1
    assert len(frame_pts(clip)[0]) == 125
    a, b = _lines(tmp_path / "one"), _lines(tmp_path / "split")
    assert [(r["frame"], r["track"], r["file"]) for r in a] == \
        [(r["frame"], r["track"], r["file"]) for r in b]
    assert {r["frame"] for r in b} == set(range(125))
    for ra, rb in zip(a, b, strict=True):
        assert np.allclose(ra["landmarks"], rb["landmarks"], atol=0.01)
        assert ra["embedding"] == rb["embedding"] or np.allclose(
            ra["embedding"], rb["embedding"], atol=1e-5)
    for ra, rb in zip(one.records, split.records, strict=True):
        diff = np.abs(one.image(ra).astype(int) - split.image(rb).astype(int))
        assert diff.max() <= 2
    assert load(tmp_path / "split").size == one.size
    assert not (tmp_path / "split" / ".pieces").exists()


@pytest.fixture(scope="module")
def long_speech():
    """Four espeak sentences joined by 0.6-1.0 s of silence, its transcript, and the
    single-process alignment."""
    from retake.align.aligner import align
    from retake.align.audio import Audio
    from retake.align.espeak import synthesize

    parts, rate = [], 0
    for i, s in enumerate(SENTENCES):
        syn = synthesize(s)
        rate = syn.sample_rate
        parts += [syn.audio, np.zeros(int((0.6 + 0.2 * i) * rate), np.float32)]
    audio = Audio(np.concatenate(parts[:-1]), rate)
    text = " ".join(SENTENCES)
    return audio, text, align(audio, text)


def _same_words(split, one) -> None:
    assert [w.text for w in split.words] == [w.text for w in one.words]
    assert [(w.char_start, w.char_end) for w in split.words] == \
        [(w.char_start, w.char_end) for w in one.words]
    assert all(w.aligned for w in split.words)
    # pocketsphinx normalises features (CMN) and seeds its dither over the utterance it is
    # given, so a piece's boundaries may move by a frame or two: nearly all agree within
    # 10 ms, none by more than 20 ms (two frames).
    diffs = np.array([abs(a - b) for ws, wo in zip(split.words, one.words, strict=True)
                      for a, b in ((ws.start, wo.start), (ws.end, wo.end))])
    assert np.mean(diffs <= 0.0105) >= 0.85, diffs
    assert diffs.max() <= 0.0205 and diffs.mean() <= 0.005, diffs


def test_split_alignment_equals_single_process(long_speech) -> None:
    from retake.align.audio import ALIGN_RATE, resample
    from retake.align.parallel import align_parallel, plan

    audio, text, one = long_speech
    report: dict = {}
    split = align_parallel(audio, text, workers=2, pieces=2, report=report)
    assert report["pieces"] == 2 and not report["fallback"], report
    _same_words(split, one)
    assert split.duration == pytest.approx(one.duration, abs=1e-3)
    # The cut falls between sentences, at a pause.
    x = resample(audio.samples, audio.sample_rate, ALIGN_RATE).astype(np.float32)
    first = plan(x, text, 2)[0]
    assert text[first[2]:first[3]].endswith(".")


def test_split_alignment_on_local_ray(long_speech, monkeypatch) -> None:
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # no token written to the home folder
    ray = pytest.importorskip("ray")
    from retake.align.parallel import align_parallel

    audio, text, one = long_speech
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        report: dict = {}
        split = align_parallel(audio, text, workers=2, ray="auto", report=report)
    finally:
        ray.shutdown()
    assert report["pieces"] == 2 and not report["fallback"], report
    _same_words(split, one)


@pytest.mark.parametrize("pieces", [1, 3])
def test_plan_covers_the_recording(pieces: int) -> None:
    from retake.video.faceset_parallel import plan

    ranges = plan(250, pieces, 12, 24)
    assert ranges[0][:2] == (0, 0) and ranges[-1][2] == 250
    assert all(s % 12 == 0 and w % 12 == 0 and w <= s for w, s, _ in ranges)
    assert all(a[2] == b[1] for a, b in zip(ranges, ranges[1:], strict=False))


def test_align_command_splits_with_workers(long_speech, tmp_path: Path) -> None:
    """`retake align -j 2` writes the same words as the one-process run."""
    import json
    import os
    import subprocess
    import sys

    from retake.align.audio import write_wav

    audio, text, one = long_speech
    wav = tmp_path / "long.wav"
    write_wav(wav, audio.samples, audio.sample_rate)
    run = subprocess.run([sys.executable, "-m", "retake", "align", str(wav), text, "-o",
                          str(tmp_path / "out"), "-j", "2", "--no-table"],
                         capture_output=True, text=True, timeout=300,
                         env={**os.environ, "COLUMNS": "200"})
    assert run.returncode == 0, run.stderr
    words = json.loads((tmp_path / "out.json").read_text())["words"]
    assert [w["text"] for w in words] == [w.text for w in one.words]
