"""Crafted edit lists, scripts and absurd options: one `error:` line, exit 1 (2 for a usage
error), within seconds and before any analysis (the cache stays empty); nothing written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from retake.core import cache

ROOT = Path(__file__).resolve().parents[1]
TEXT = "Please call Stella and ask her to bring these things with her from the store."


@pytest.fixture(scope="module")
def memo(tmp_path_factory):
    from retake.align.audio import write_wav
    from retake.align.espeak import synthesize

    folder = tmp_path_factory.mktemp("memo")
    s = synthesize(TEXT)
    write_wav(folder / "memo.wav", s.audio, s.sample_rate)
    return folder / "memo.wav"


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "retake", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120, env={**os.environ})


def _clean_failure(r, tmp_path, code: int = 1) -> None:
    assert r.returncode == code, (r.stdout, r.stderr)
    if code == 1:
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:"), r.stderr
        assert "internal error" not in r.stderr
    assert not list(tmp_path.glob("out*")), "something was written"
    assert not cache.entries(Path(os.environ["RETAKE_CACHE"])), "analysis ran before the check"


@pytest.mark.parametrize("edits", [
    "[1, 2]",
    '{"op": "delete", "from": 1}',
    '[{"op": "delete"}]',
    '[{"op": "replace", "from": 1, "to": 1, "text": null}]',
    '[{"op": "replace", "from": 1, "to": 1, "text": "x", "colour": "red"}]',
    '[{"op": "delete", "from": NaN}]',
    '[{"op": "delete", "from": Infinity}]',
    '[{"op": "delete", "from": 1.5}]',
    '[{"op": "explode", "from": 1}]',
    "[" * 5000 + "]" * 5000,
    "not json at all",
], ids=["not-ops", "not-a-list", "missing-from", "null-text", "unknown-field", "nan",
        "infinity", "float-index", "unknown-op", "deep", "garbage"])
def test_malformed_edit_lists(memo, tmp_path, edits):
    path = tmp_path / "edits.json"
    path.write_text(edits)
    r = _run("edit", "--consent", str(memo), "-t", TEXT, "--edits", str(path), "-o",
             str(tmp_path / "out.wav"), cwd=tmp_path)
    _clean_failure(r, tmp_path)


def test_edit_outside_the_transcript_is_one_line(memo, tmp_path):
    path = tmp_path / "edits.json"
    path.write_text(json.dumps([{"op": "delete", "from": 400}]))
    r = _run("edit", "--consent", str(memo), "-t", TEXT, "--edits", str(path), "-o",
             str(tmp_path / "out.wav"), cwd=tmp_path)
    _clean_failure(r, tmp_path)


@pytest.mark.parametrize("option", [["--pitch", "1000"], ["--speed", "0"], ["--takes", "100000"],
                                    ["--seed", "-1"]])
def test_absurd_options_are_usage_errors(memo, tmp_path, option):
    r = _run("edit", "--consent", str(memo), "-t", TEXT, "--to", TEXT.replace("Stella", "Bella"),
             "-o", str(tmp_path / "out.wav"), *option, cwd=tmp_path)
    _clean_failure(r, tmp_path, code=2)


@pytest.mark.parametrize("script", [
    "to: hello there\nvoice: {takes: 100000}\n",
    "to: hello there\nvoice: {speed: 0}\n",
    "to: hello there\nvoice: {pitch: 1.0e308}\n",
    "to: hello there\nvoice: {pitch: .nan}\n",
    "to: hello there\nvoice: {takes: true}\n",
    "to: hello there\nvoice: {colour: red}\n",
    "to: hello there\nvoice: [1, 2]\n",
    "edits: [{op: replace, from: 1, to: 1, text: null}]\n",
    "to: " + "[" * 5000 + "]" * 5000 + "\n",
], ids=["takes", "speed", "pitch-huge", "pitch-nan", "takes-bool", "unknown", "not-mapping",
        "null-text", "deep"])
def test_crafted_dub_scripts(tmp_path, script):
    """Scripts no longer bypass the CLI's limits; the video need not even be valid, since
    the script is checked first."""
    path = tmp_path / "script.yaml"
    path.write_text(script)
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\0" * 1000)
    r = _run("dub", "--consent", str(video), "--script", str(path), "-o",
             str(tmp_path / "out.mp4"), cwd=tmp_path)
    _clean_failure(r, tmp_path)


def test_check_edits_accepts_the_documented_forms():
    from retake.voice.plan import apply_edits, check_edits

    ops = [{"op": "delete", "from": 0}, {"op": "insert", "after": -1, "text": "Hi,"},
           {"op": "replace", "from": 2, "to": 2, "text": "Bella"},
           {"op": "move", "from": 3, "to": 3, "after": 4}]
    assert check_edits(ops) is ops
    assert apply_edits(["please", "call", "stella", "and", "ask"], ops) == \
        "Hi, call Bella ask and"
