"""Forced alignment on generated speech with known timings, and on real speech."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import media

from retake.align import Audio, align, load_audio
from retake.core.errors import AlignmentError, AudioError, TranscriptError

TEXT = ("The quick brown fox jumps over the lazy dog. Retake aligns every word it hears, "
        "even Zyxel and 42 others, on March 3rd.")


def start_errors(al, ref) -> list[float]:
    errs = []
    for w in al.words:
        truth = [t for c, t in ref.items() if w.char_start <= c < w.char_end]
        if truth and w.aligned:
            errs.append(abs(w.start - truth[0]))
    return errs


@pytest.fixture(scope="module")
def clean(speech):
    synth, ref = speech(TEXT)
    al = align(Audio(synth.audio, synth.sample_rate), TEXT)
    return synth, ref, al


def test_words_are_found_where_espeak_spoke_them(clean):
    synth, ref, al = clean
    errs = start_errors(al, ref)
    assert len(errs) >= len(al.words) - 1
    assert np.mean(errs) < 0.035, errs
    assert np.median(errs) < 0.025
    assert max(errs) < 0.25


def test_every_token_is_reported_as_typed_with_phones(clean):
    _, _, al = clean
    assert [w.text for w in al.words][-5:] == ["and", "42", "others", "on", "March", "3rd"][-5:]
    assert all(w.aligned for w in al.words)
    w42 = next(w for w in al.words if w.text == "42")
    assert w42.spoken == ["forty", "two"]
    labels = [p.label for p in w42.phones]
    assert labels[:2] == ["F", "AO"] and "T" in labels
    for w in al.words:
        assert w.phones and w.phones[0].start == pytest.approx(w.start, abs=1e-6)
        assert w.phones[-1].end == pytest.approx(w.end, abs=1e-6)
        assert 0.0 <= w.confidence <= 1.0
    starts = [w.start for w in al.words]
    assert starts == sorted(starts)


def test_out_of_dictionary_word_gets_a_pronunciation(clean):
    _, _, al = clean
    zyxel = next(w for w in al.words if w.text == "Zyxel")
    assert zyxel.aligned and len(zyxel.phones) >= 4
    assert zyxel.phones[0].label == "Z"


def test_any_sample_rate_and_level(speech):
    synth, ref = speech("Alignment does not care about the sample rate or the level.")
    from retake.align.audio import resample

    x = resample(synth.audio, synth.sample_rate, 44100) * 0.1
    al = align(Audio(x, 44100), "Alignment does not care about the sample rate or the level.")
    assert np.mean(start_errors(al, ref)) < 0.04


def test_alignment_is_cached(tmp_path, speech):
    synth, _ = speech("Cache me if you can.")
    audio = Audio(synth.audio, synth.sample_rate)
    first = align(audio, "Cache me if you can.", cache_dir=tmp_path)
    assert list((tmp_path / "align").glob("*.json"))
    second = align(audio, "Cache me if you can.", cache_dir=tmp_path)
    assert second.to_json() == first.to_json()


def test_silence_is_refused():
    with pytest.raises(AudioError, match="silent"):
        align(Audio(np.zeros(16000 * 3, np.float32), 16000), "hello there")


def test_too_short_is_refused():
    with pytest.raises(AudioError, match="too short"):
        align(Audio(np.zeros(800, np.float32), 16000), "hello")


def test_nothing_to_say_is_refused(speech):
    synth, _ = speech("hello there")
    with pytest.raises(TranscriptError):
        align(Audio(synth.audio, synth.sample_rate), "  -- ... !!! ")
    with pytest.raises(TranscriptError):
        align(Audio(synth.audio, synth.sample_rate), "")


def test_noise_matches_no_words(rng):
    noise = (rng.standard_normal(16000 * 4) * 0.1).astype(np.float32)
    with pytest.raises((AudioError, AlignmentError), match="no speech|none of the"):
        align(Audio(noise, 16000), "the transcript of speech that is not there at all")


def test_real_speech_against_mfa_reference():
    from praatio import textgrid

    wav = media("speech", "mfa", "acoustic_corpus.wav")
    text = media("speech", "mfa", "acoustic_corpus.lab").read_text()
    ref = textgrid.openTextgrid(str(wav.with_suffix(".TextGrid")), includeEmptyIntervals=False)
    ref_words = [(e.label, e.start, e.end) for e in ref.getTier("words").entries]
    al = align(load_audio(wav), text)
    hyp = [(w.text.lower(), w.start, w.end) for w in al.words if w.aligned]
    import difflib

    sm = difflib.SequenceMatcher(a=[r[0] for r in ref_words], b=[h[0] for h in hyp],
                                 autojunk=False)
    errs = []
    for a0, b0, n in sm.get_matching_blocks():
        for k in range(n):
            errs += [abs(ref_words[a0 + k][1] - hyp[b0 + k][1]),
                     abs(ref_words[a0 + k][2] - hyp[b0 + k][2])]
    assert len(errs) > 100
    assert np.mean(errs) < 0.04 and np.median(errs) <= 0.011
    assert not al.unaligned
