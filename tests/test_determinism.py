"""Same input, same output: two runs of the same edit give the same audio, sample for sample,
and the same sidecars; `--seed` gives another variant of the new words."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
TEXT = "Please call Stella and ask her to bring these things with her from the store today."
# "vivid" needs a phone the recording lacks (espeak-ng fallback); "Bella" comes from units.
NEW = "Please call Bella and ask her to bring these vivid things with her from the store today."


def _edit(memo: Path, out: Path, cache: Path, *extra: str) -> None:
    env = {**os.environ, "RETAKE_CACHE": str(cache)}
    r = subprocess.run([sys.executable, "-m", "retake", "edit", "--consent", str(memo), "-t",
                        TEXT, "--to", NEW, "-o", str(out), *extra], capture_output=True,
                       text=True, cwd=ROOT, env=env, timeout=300)
    assert r.returncode == 0, r.stderr


def test_two_runs_are_identical_and_a_seed_makes_a_variant(tmp_path):
    from retake.align.audio import write_wav
    from retake.align.espeak import synthesize

    s = synthesize(TEXT)
    memo = tmp_path / "memo.wav"
    write_wav(memo, s.audio, s.sample_rate)
    _edit(memo, tmp_path / "a.wav", tmp_path / "cache-a")  # cold caches both times
    _edit(memo, tmp_path / "b.wav", tmp_path / "cache-b")
    _edit(memo, tmp_path / "c.wav", tmp_path / "cache-a", "--seed", "7")
    a, _ = sf.read(tmp_path / "a.wav", dtype="int16")
    b, _ = sf.read(tmp_path / "b.wav", dtype="int16")
    c, _ = sf.read(tmp_path / "c.wav", dtype="int16")
    assert a.tobytes() == b.tobytes()
    for side in (".json", ".TextGrid", ".timemap.json", ".report.json"):
        assert (tmp_path / f"a{side}").read_bytes() == (tmp_path / f"b{side}").read_bytes()
    assert len(a) != len(c) or a.tobytes() != c.tobytes()


def test_the_same_audio_aligns_the_same_twice_in_one_process(speech):
    """pocketsphinx's front end (its dither generator, the cepstral mean) carried over from
    one utterance to the next: a second render in the same studio session re-aligned the
    same audio differently (the new word 28 samples longer each time)."""
    from retake.align import Audio
    from retake.align.aligner import Aligner

    text = "Please call Stella and ask her to bring these things."
    s, _ = speech(text)
    aligner = Aligner(cache_dir=None)
    first = aligner.align(Audio(s.audio, s.sample_rate), text)
    aligner.align(Audio(s.audio[: len(s.audio) // 2], s.sample_rate), "Please call Stella")
    again = aligner.align(Audio(s.audio, s.sample_rate), text)
    assert first == again
