"""The `retake` command line: outputs in every format, and one clear line for every error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MEDIA, ROOT

from retake.align.audio import write_wav

TEXT = "Please call Stella. Ask her to bring these things with her from the store."


def retake(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}  # RETAKE_CACHE: the test's own (conftest)
    return subprocess.run([sys.executable, "-m", "retake", *args], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=300)


@pytest.fixture(scope="module")
def sample(tmp_path_factory, speech):
    folder = tmp_path_factory.mktemp("cli")
    synth, _ = speech(TEXT)
    wav = folder / "stella.wav"
    write_wav(wav, synth.audio, synth.sample_rate)
    (folder / "stella.txt").write_text(TEXT + "\n")
    return folder, wav


def test_align_writes_json_textgrid_and_labels(sample):
    import parselmouth
    from parselmouth.praat import call

    folder, wav = sample
    r = retake("align", str(wav), str(folder / "stella.txt"), "-o", str(folder / "out"),
               cwd=folder)
    assert r.returncode == 0, r.stderr
    data = json.loads((folder / "out.json").read_text())
    assert data["format"] == "retake.alignment"
    words = [w["text"] for w in data["words"]]
    assert words[:3] == ["Please", "call", "Stella"]
    assert "Stella" in r.stdout  # the word table

    tg = parselmouth.read(str(folder / "out.TextGrid"))  # Praat's own parser
    assert call(tg, "Get number of tiers") == 2
    assert call(tg, "Get tier name...", 1) == "words"
    assert call(tg, "Get tier name...", 2) == "phones"
    labels = [call(tg, "Get label of interval...", 1, i)
              for i in range(1, call(tg, "Get number of intervals...", 1) + 1)]
    assert [x for x in labels if x] == words
    first = next(w for w in data["words"])
    i = labels.index("Please") + 1
    assert call(tg, "Get start time of interval...", 1, i) == pytest.approx(first["start"],
                                                                              abs=1e-3)
    n_phones = sum(len(w["phones"]) for w in data["words"])
    phone_labels = [call(tg, "Get label of interval...", 2, i)
                    for i in range(1, call(tg, "Get number of intervals...", 2) + 1)]
    assert len([p for p in phone_labels if p]) == n_phones

    rows = [line.split("\t") for line in (folder / "out.labels.txt").read_text().splitlines()]
    assert [r[2] for r in rows] == words
    assert all(float(r[0]) < float(r[1]) for r in rows)


def test_transcript_can_be_given_inline_and_output_to_a_folder(sample):
    folder, wav = sample
    dest = folder / "aligned"
    dest.mkdir()
    r = retake("align", str(wav), TEXT, "-o", str(dest), "--no-table", cwd=folder)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in dest.iterdir()) == [
        "stella.TextGrid", "stella.json", "stella.labels.txt"]


def _assert_clean_failure(r, folder: Path, before: set[str]):
    assert r.returncode == 1, (r.stdout, r.stderr)
    lines = [x for x in r.stderr.strip().splitlines() if x.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error:")
    assert "Traceback" not in r.stderr
    assert {p.name for p in folder.iterdir()} == before


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty"), (os.urandom(5000), "not a readable"), (bytes(44), "not a readable")],
)
def test_unreadable_audio_fails_cleanly(tmp_path, content, message):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(content)
    before = {p.name for p in tmp_path.iterdir()}
    r = retake("align", str(bad), "hello world", "-o", str(tmp_path / "out"), cwd=tmp_path)
    _assert_clean_failure(r, tmp_path, before)
    assert message in r.stderr


def test_silent_audio_fails_cleanly(tmp_path):
    import numpy as np

    wav = tmp_path / "silence.wav"
    write_wav(wav, np.zeros(16000 * 2, np.float32), 16000)
    before = {p.name for p in tmp_path.iterdir()}
    r = retake("align", str(wav), "hello world", "-o", str(tmp_path / "out"), cwd=tmp_path)
    _assert_clean_failure(r, tmp_path, before)
    assert "silent" in r.stderr


def test_transcript_with_nothing_to_align_fails_cleanly(sample, tmp_path):
    _, wav = sample
    r = retake("align", str(wav), "— ... !!!", "-o", str(tmp_path / "out"), cwd=tmp_path)
    _assert_clean_failure(r, tmp_path, set())
    bin_txt = tmp_path / "bin.txt"
    bin_txt.write_bytes(b"\x00\x01\x02binary\xff\xfe")
    before = {p.name for p in tmp_path.iterdir()}
    r = retake("align", str(wav), str(bin_txt), "-o", str(tmp_path / "out"), cwd=tmp_path)
    _assert_clean_failure(r, tmp_path, before)
    r = retake("align", str(wav), str(tmp_path / "missing.txt"), "-o", str(tmp_path / "o"),
               cwd=tmp_path)
    _assert_clean_failure(r, tmp_path, before)
    assert "no such transcript" in r.stderr


def test_unwritable_output_fails_cleanly(sample, tmp_path):
    _, wav = sample
    r = retake("align", str(wav), TEXT, "-o", str(tmp_path / "no" / "such" / "dir" / "x"),
               cwd=tmp_path)
    _assert_clean_failure(r, tmp_path, set())
    assert "does not exist" in r.stderr
    if os.geteuid() != 0:  # root can write anywhere
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        r = retake("align", str(wav), TEXT, "-o", str(locked / "x"), cwd=tmp_path)
        assert r.returncode == 1


@pytest.mark.parametrize("name", ["empty.wav", "garbage.wav", "image_named.mp3",
                                  "video_no_audio.mp4", "truncated.mp4", "truncated.wav",
                                  "silence_10s.wav", "noise_5s.wav"])
def test_shared_bad_media_fails_cleanly(tmp_path, name):
    path = MEDIA / "bad" / name
    if not path.exists():
        pytest.skip("shared media not available")
    r = retake("align", str(path), "this is what the speaker said", "-o",
               str(tmp_path / "out"), cwd=tmp_path)
    _assert_clean_failure(r, tmp_path, set())


def test_binary_transcript_from_shared_media(sample, tmp_path):
    path = MEDIA / "bad" / "binary_transcript.txt"
    if not path.exists():
        pytest.skip("shared media not available")
    _, wav = sample
    r = retake("align", str(wav), str(path), "-o", str(tmp_path / "out"), cwd=tmp_path)
    _assert_clean_failure(r, tmp_path, set())


def test_transcribe_labels_its_output_a_draft(sample, tmp_path):
    _, wav = sample
    r = retake("transcribe", str(wav), "-o", str(tmp_path / "draft.txt"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "DRAFT" in r.stderr
    draft = (tmp_path / "draft.txt").read_text().split()
    assert len(draft) >= 5


def test_engines_lists_the_default_aligner():
    r = retake("engines")
    assert r.returncode == 0
    assert "pocketsphinx" in r.stdout and "align" in r.stdout and "yes" in r.stdout


def test_demo_runs_offline(tmp_path):
    r = retake("demo", "--output", str(tmp_path / "demo"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    names = {p.name for p in (tmp_path / "demo").iterdir()}
    assert {"sample.wav", "sample.json", "sample.TextGrid", "sample.labels.txt"} <= names
    # the edit table: the new word made from the sample speaker's own units, and heard
    assert "units" in r.stdout and "edited" in r.stdout
