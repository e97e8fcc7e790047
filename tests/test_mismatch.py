"""Transcript and audio that disagree: the disagreement is reported, the neighbours stay put."""

from __future__ import annotations

import difflib

import numpy as np
import pytest

from retake.align import Aligner, Audio
from retake.align.audio import resample

S1 = "The weather station reported a cold front moving in from the north."
S2 = "Nobody expected the river to freeze before the middle of December."
S3 = "Farmers brought their animals inside and waited for the storm to pass."
RATE = 16000


@pytest.fixture(scope="module")
def parts(speech):
    """Each sentence as 16 kHz audio with (word, start) references."""
    out = {}
    for key, text in (("s1", S1), ("s2", S2), ("s3", S3)):
        synth, ref = speech(text)
        x = resample(synth.audio, synth.sample_rate, RATE)
        words = [(text[c:].split()[0].strip(".,").lower(), t) for c, t in sorted(ref.items())]
        out[key] = (x, words)
    return out


def build(parts, *pieces):
    """Concatenate sentences / other signals; return audio and the word references."""
    audio, refs, t = [], [], 0.0
    for p in pieces:
        if isinstance(p, str):
            x, words = parts[p]
            refs += [(w, s + t) for w, s in words]
        else:
            x = p
        audio.append(x)
        t += len(x) / RATE
    return Audio(np.concatenate(audio).astype(np.float32), RATE), refs


def start_errors(al, refs) -> list[float]:
    hyp = [(w.text.lower(), w.start) for w in al.words if w.aligned]
    sm = difflib.SequenceMatcher(a=[r[0] for r in refs], b=[h[0] for h in hyp], autojunk=False)
    errs = []
    for a0, b0, n in sm.get_matching_blocks():
        errs += [abs(refs[a0 + k][1] - hyp[b0 + k][1]) for k in range(n)]
    return errs


def overlap(span, t0, t1) -> float:
    return max(0.0, min(span.end, t1) - max(span.start, t0)) / (t1 - t0)


@pytest.fixture(scope="module")
def aligner():
    return Aligner()


def test_extra_speech_in_the_audio_is_reported_not_smeared(parts, aligner):
    audio, refs = build(parts, "s1", "s2", "s3")
    al = aligner.align(audio, f"{S1} {S3}")
    t0 = len(parts["s1"][0]) / RATE
    t1 = t0 + len(parts["s2"][0]) / RATE
    extra = [s for s in al.unaligned if s.kind == "untranscribed"]
    assert extra and max(overlap(s, t0, t1) for s in extra) > 0.7, al.unaligned
    assert all(w.aligned for w in al.words)
    s3_refs = [r for r in refs if r[1] >= t1]
    errs = start_errors(al, [r for r in refs if r[1] < t0] + s3_refs)
    assert len(errs) >= len(al.words) - 3
    assert np.mean(errs) < 0.05 and max(errs) < 0.3, errs


def test_words_missing_from_the_audio_are_listed(parts, aligner):
    audio, refs = build(parts, "s1", "s3")
    al = aligner.align(audio, f"{S1} {S2} {S3}")
    missing = [s for s in al.unaligned if s.kind == "missing"]
    listed = {al.words[i].text.strip(".,").lower() for s in missing for i in s.words}
    s2_words = {w.strip(".,").lower() for w in S2.split()}
    assert len(listed & s2_words) >= 0.8 * len(s2_words), al.unaligned
    wrongly_missing = listed - s2_words
    assert not wrongly_missing
    errs = start_errors(al, refs)
    assert np.mean(errs) < 0.05, errs


def test_music_between_sentences_is_untranscribed(parts, aligner, rng):
    t = np.arange(int(2.5 * RATE)) / RATE
    chord = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for f in (220, 277, 330, 440))
    music = (0.08 * chord * (1 + 0.5 * np.sin(2 * np.pi * 2 * t))).astype(np.float32)
    audio, refs = build(parts, "s1", music, "s3")
    al = aligner.align(audio, f"{S1} {S3}")
    t0 = len(parts["s1"][0]) / RATE
    extra = [s for s in al.unaligned if s.kind == "untranscribed"]
    assert extra and max(overlap(s, t0, t0 + 2.5) for s in extra) > 0.6, al.unaligned
    errs = start_errors(al, refs)
    assert len(errs) >= len(al.words) - 3 and np.mean(errs) < 0.05, errs


def test_a_long_silence_does_not_pull_words_into_it(parts, aligner, rng):
    hush = (rng.standard_normal(8 * RATE) * 1e-3).astype(np.float32)
    audio, refs = build(parts, "s1", hush, "s3")
    al = aligner.align(audio, f"{S1} {S3}")
    assert all(w.aligned for w in al.words)
    assert not [s for s in al.unaligned if s.kind == "missing"]
    errs = start_errors(al, refs)
    assert np.mean(errs) < 0.04 and max(errs) < 0.2, errs
    t0 = len(parts["s1"][0]) / RATE
    inside = [w for w in al.words if t0 + 0.3 < w.start < t0 + 7.7]
    assert not inside
