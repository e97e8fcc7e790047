"""The synthesized-speech watermark: payload coding, robustness, localisation, false alarms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retake.align.audio import codec_roundtrip as roundtrip
from retake.align.audio import resample
from retake.awareness.watermark import (
    Payload,
    WatermarkError,
    detect,
    embed,
    segmental_snr,
    version_code,
)

SPEECH = Path(__file__).resolve().parents[1].parent / "shared" / "media" / "speech"
TOLERANCE_S = 0.25
PAYLOAD = Payload(version_code("0.1.0"), 0xA5C3E1)


def transformations(y, sr, span, other):
    """(name, audio, rate, true span) after each kind of ordinary handling."""
    a, b = span
    rng = np.random.default_rng(20)
    power = float(np.mean(y.astype(np.float64) ** 2))
    noisy = (y + rng.standard_normal(len(y)) * np.sqrt(power / 100)).astype(np.float32)
    piece = y[int((a + 0.3) * sr):int((a + 1.8) * sr)]  # first 0.3 s cut, 1.5 s kept
    at = len(other) // 2
    return [
        ("clean", y, sr, span),
        ("mp3 64k", roundtrip(y, sr, "libmp3lame"), sr, span),
        ("aac 64k", roundtrip(y, sr, "aac"), sr, span),
        ("resample 16k", resample(y, sr, 16000), 16000, span),
        ("resample 48k", resample(y, sr, 48000), 48000, span),
        ("+6 dB", np.clip(2 * y, -1, 1), sr, span),
        ("-6 dB", 0.5 * y, sr, span),
        ("noise 20 dB", noisy, sr, span),
        ("trim", piece, sr, (0.0, 1.5)),
        ("re-splice", np.concatenate([other[:at], piece, other[at:]]), sr,
         (at / sr, at / sr + 1.5)),
    ]


def check_robust(x, sr, span, other):
    y = embed(x, sr, PAYLOAD, *span)
    assert segmental_snr(x, y, sr, *span) > 25
    failures = []
    for name, audio, rate, (a, b) in transformations(y, sr, span, other):
        found = [d for d in detect(audio, rate) if d.payload == PAYLOAD]
        if not found:
            failures.append(f"{name}: not detected")
            continue
        # Under added noise the edges blur where the span meets a pause (bench: 84% within
        # 0.25 s); detection with the right payload is what must hold, the place roughly.
        tol = 2 * TOLERANCE_S if name.startswith("noise") else TOLERANCE_S
        if not (abs(found[0].start - a) <= tol and abs(found[0].end - b) <= tol):
            failures.append(f"{name}: at {found[0].start:.2f}-{found[0].end:.2f}, not {a}-{b}")
    assert not failures, failures


@pytest.fixture(scope="module")
def espeak_speech():
    from retake.align.espeak import synthesize

    s = synthesize("Every span that the editor writes carries a quiet mark of its origin. "
                   "It survives compression, resampling and cutting, yet nobody hears it.")
    o = synthesize("This other recording was never edited and carries no mark at all.",
                   pitch=40)
    return s.audio.astype(np.float32), s.sample_rate, resample(o.audio, o.sample_rate,
                                                               s.sample_rate)


def test_payload_roundtrip_and_crc():
    bits = PAYLOAD.pack()
    assert bits.shape == (48,)
    assert Payload.unpack(bits) == PAYLOAD
    for k in (0, 17, 40):
        flipped = bits.copy()
        flipped[k] ^= 1
        assert Payload.unpack(flipped) is None
    assert version_code("0.1.0") == 4
    with pytest.raises(WatermarkError):
        Payload(256, 0)
    with pytest.raises(WatermarkError):
        Payload(1, 1 << 24)


def test_embed_marks_only_the_span(espeak_speech):
    x, sr, _ = espeak_speech
    y = embed(x, sr, PAYLOAD, 1.0, 3.0)
    assert y is not x and y.dtype == np.float32 and len(y) == len(x)
    assert np.array_equal(y[:int(0.99 * sr)], x[:int(0.99 * sr)])
    assert np.array_equal(y[int(3.01 * sr):], x[int(3.01 * sr):])
    assert np.any(y[int(1.1 * sr):int(2.9 * sr)] != x[int(1.1 * sr):int(2.9 * sr)])


def test_bad_input_is_refused(espeak_speech):
    x, sr, _ = espeak_speech
    with pytest.raises(WatermarkError):
        embed(x, sr, PAYLOAD, 2.0, 2.0)
    with pytest.raises(WatermarkError):
        embed(resample(x, sr, 8000), 8000, PAYLOAD)
    with pytest.raises(WatermarkError):
        embed(np.stack([x, x]), sr, PAYLOAD)


def test_espeak_speech_survives_handling(espeak_speech):
    x, sr, other = espeak_speech
    check_robust(x, sr, (2.0, 4.0), other)


def test_real_speech_survives_handling():
    import soundfile as sf

    path, other_path = SPEECH / "ljspeech" / "LJ001-0010.wav", SPEECH / "mfa" / "cold_corpus.wav"
    if not (path.exists() and other_path.exists()):
        pytest.skip(f"shared media not available: {SPEECH}")
    x, sr = sf.read(path, dtype="float32")
    other, other_sr = sf.read(other_path, dtype="float32")
    check_robust(x, sr, (3.4, 5.4), resample(other[:8 * other_sr], other_sr, sr))


def test_no_detection_on_unmarked_speech(espeak_speech):
    import soundfile as sf

    x, sr, other = espeak_speech
    assert detect(x, sr) == [] and detect(other, sr) == []
    for path in sorted(SPEECH.glob("*/*.wav")):
        audio, rate = sf.read(path, dtype="float32")
        assert detect(audio, rate) == [], path.name


def test_two_spans_are_found_apart(espeak_speech):
    x, sr, _ = espeak_speech
    other = Payload(PAYLOAD.version, 12345)
    y = embed(embed(x, sr, PAYLOAD, 0.5, 2.5), sr, other, 4.0, 6.0)
    found = detect(roundtrip(y, sr, "libmp3lame"), sr)
    assert [d.payload for d in found] == [PAYLOAD, other]
    assert abs(found[0].start - 0.5) <= TOLERANCE_S and abs(found[1].end - 6.0) <= TOLERANCE_S


def test_pieces_of_one_mark_are_reported_as_one():
    """Detections of one decoded payload under a second apart are one mark read in pieces
    (ffmpeg's atempo splices a pitch-shifted file every few tens of ms); a payload's pieces
    farther apart, other payloads, and marks without a payload stay apart."""
    from retake.awareness.watermark import MERGE_GAP_S, Detection, _merge

    other = Payload(PAYLOAD.version, 12345)
    a = Detection(1.0, 2.0, PAYLOAD, 9.0, 6.0, "played 0.6% faster")
    b = Detection(2.0 + MERGE_GAP_S / 2, 4.0, PAYLOAD, 8.0, 5.5, "played 0.6% faster")
    far = Detection(4.0 + 2 * MERGE_GAP_S, 7.0, PAYLOAD, 8.0, 5.5)
    assert _merge([b, a, far]) == [
        Detection(1.0, 4.0, PAYLOAD, 9.0, 6.0, "played 0.6% faster"), far]
    assert len(_merge([a, Detection(2.3, 3.0, other, 8.0, 5.0)])) == 2
    assert len(_merge([Detection(1.0, 2.0, None, 0.0, 7.5),
                       Detection(2.3, 3.0, None, 0.0, 7.5)])) == 2


def test_a_minute_of_audio_is_searched_whole(espeak_speech):
    """Detection over a long file finds the one marked span and nothing else (its speed is
    measured in bench/watermark.py, not asserted here)."""
    x, sr, _ = espeak_speech
    long = np.tile(x, int(np.ceil(60 * sr / len(x))))[:60 * sr]
    marked = embed(long, sr, PAYLOAD, 30.0, 32.0)
    found = detect(marked, sr)
    assert [d.payload for d in found] == [PAYLOAD]
    assert abs(found[0].start - 30.0) <= TOLERANCE_S


# --- issue 18: what happens to real recordings (speed, pitch, room, noise) ------------------

def sped(y, sr, factor):
    """Played `factor` times faster by resampling (pitch rises with it)."""
    import soxr

    return soxr.resample(y.astype(np.float32), sr * factor, sr, "HQ").astype(np.float32)


def reverberant(y, sr, rt60, seed=3):
    """A direct path plus an exponentially decaying noise tail of equal energy (seeded)."""
    from scipy.signal import fftconvolve

    rng = np.random.default_rng(seed)
    t = np.arange(1, int(rt60 * sr)) / sr
    tail = rng.standard_normal(len(t)) * np.exp(-6.9 * t / rt60)
    h = np.concatenate([[1.0], tail / np.sqrt(np.sum(tail ** 2))])
    return (fftconvolve(y.astype(np.float64), h)[:len(y)] / np.sqrt(2)).astype(np.float32)


def noisy(y, snr_db, seed=4):
    power = float(np.mean(y.astype(np.float64) ** 2))
    rng = np.random.default_rng(seed)
    return (y + rng.standard_normal(len(y)) * np.sqrt(power / 10 ** (snr_db / 10))
            ).astype(np.float32)


def pitched(y, sr, semitones):
    import librosa

    return librosa.effects.pitch_shift(y, sr=sr, n_steps=semitones).astype(np.float32)


ATTACKS = {
    "speed +3%": (lambda y, sr: sped(y, sr, 1.03), 1.03),
    "speed -3%": (lambda y, sr: sped(y, sr, 0.97), 0.97),
    "reverb RT60 0.3 s": (lambda y, sr: reverberant(y, sr, 0.3), 1.0),
    "noise 10 dB": (lambda y, sr: noisy(y, 10), 1.0),
    "pitch +1 semitone": (lambda y, sr: pitched(y, sr, 1.0), 1.0),
}
NOT_YET = {  # measured in bench/watermark.py --attacks-only; see the module docstring
    "pitch +1 semitone": "a phase-vocoder pitch shift scrambles the chips' phase; the pitch "
                         "search reads them bin by bin, which needs about the 6 s an edit "
                         "marks (below), not 2 s",
}


@pytest.mark.parametrize("name", [
    pytest.param(k, marks=pytest.mark.xfail(reason=NOT_YET[k], strict=True)) if k in NOT_YET
    else k for k in ATTACKS])
def test_marked_speech_survives_recording_attacks(espeak_speech, name):
    x, sr, _ = espeak_speech
    attack, factor = ATTACKS[name]
    found = [d for d in detect(attack(embed(x, sr, PAYLOAD, 2.0, 4.0), sr), sr)
             if d.payload == PAYLOAD]
    assert found, f"{name}: not detected"
    assert abs(found[0].start - 2.0 / factor) <= 2 * TOLERANCE_S
    assert abs(found[0].end - 4.0 / factor) <= 2 * TOLERANCE_S


def test_no_detection_on_attacked_unmarked_speech(espeak_speech):
    """The speed search tries ~260 factors; none may turn unmarked speech into a detection."""
    x, sr, other = espeak_speech
    for name, (attack, _) in ATTACKS.items():
        for clean in (x, other):
            assert detect(attack(clean, sr), sr) == [], name


# Real speech (shared media) under the same attacks: the espeak voice above is cleaner and
# steadier than a recording, so 10 dB of noise, which it survives, loses the mark here.
REAL = SPEECH / "ljspeech" / "LJ001-0010.wav"
REAL_SPAN = (3.4, 5.4)
REAL_ATTACKS = {**ATTACKS, "pitch -1 semitone": (lambda y, sr: pitched(y, sr, -1.0), 1.0)}
REAL_NOT_YET = {
    **NOT_YET,
    "pitch -1 semitone": NOT_YET["pitch +1 semitone"],
    "noise 10 dB": "the 162 coded bits over 2 s are not decoded at 10 dB SNR in most real "
                   "recordings (bench: 7/25); the 6 s an edit marks are (below; bench 22/25)",
}


@pytest.fixture(scope="module")
def real_speech():
    import soundfile as sf

    if not REAL.exists():
        pytest.skip(f"shared media not available: {SPEECH}")
    x, sr = sf.read(REAL, dtype="float32")
    return x, sr


@pytest.mark.parametrize("name", [
    pytest.param(k, marks=pytest.mark.xfail(reason=REAL_NOT_YET[k], strict=True))
    if k in REAL_NOT_YET else k for k in REAL_ATTACKS])
def test_marked_real_speech_survives_recording_attacks(real_speech, name):
    x, sr = real_speech
    attack, factor = REAL_ATTACKS[name]
    a, b = REAL_SPAN
    found = [d for d in detect(attack(embed(x, sr, PAYLOAD, a, b), sr), sr)
             if d.payload == PAYLOAD]
    assert found, f"{name}: not detected"
    assert abs(found[0].start - a / factor) <= 2 * TOLERANCE_S
    assert abs(found[0].end - b / factor) <= 2 * TOLERANCE_S
    # the report says how the audio had been changed when that was undone to find the mark
    expected = "" if factor == 1.0 else f"played 3.0% {'faster' if factor > 1 else 'slower'}"
    assert found[0].altered == expected


def test_no_detection_on_attacked_unmarked_real_speech(real_speech):
    """No attack (speed search included) turns an unmarked recording into a detection."""
    x, sr = real_speech
    for name, (attack, _) in REAL_ATTACKS.items():
        assert detect(attack(x, sr), sr) == [], name


def edit_length_span(name: str) -> tuple[np.ndarray, int, float, float]:
    """A real recording and the span `retake edit` would mark mid-way (MIN_MARK_S long)."""
    import soundfile as sf

    from retake.voice.edit import MIN_MARK_S

    path = SPEECH / "ljspeech" / name
    if not path.exists():
        pytest.skip(f"shared media not available: {SPEECH}")
    x, sr = sf.read(path, dtype="float32")
    a = (len(x) / sr - MIN_MARK_S) / 2
    assert a > 0.2
    return x, sr, a, a + MIN_MARK_S


@pytest.mark.parametrize("name", ["LJ001-0010.wav", "LJ001-0007.wav"])
def test_a_mark_as_long_as_an_edit_makes_survives_10_db_of_noise(name):
    """`retake edit` marks MIN_MARK_S around each new word: at 10 dB SNR, where a 2 s mark
    is lost (above), that length comes back with its payload (on LJ001-0007 only through
    the second pass's 4-block sync windows), and the unmarked noisy speech stays clean."""
    x, sr, a, b = edit_length_span(name)
    attack, _ = REAL_ATTACKS["noise 10 dB"]
    found = [d for d in detect(attack(embed(x, sr, PAYLOAD, a, b), sr), sr)
             if d.payload == PAYLOAD]
    assert found, "not detected"
    assert found[0].start < b and a < found[0].end
    assert detect(attack(x, sr), sr) == []


def test_a_quiet_recordings_edit_mark_is_read_whole_under_10_db_of_noise():
    """A recording with little power in the mark's band (mfa/cold_corpus): at 10 dB SNR its
    sync stands out only summed over the whole 6 s mark, which the third pass's 5.76 s
    windows do (the 2- and 4-block passes find nothing here); the unmarked noisy
    recording stays clean."""
    import soundfile as sf

    from retake.voice.edit import MIN_MARK_S

    path = SPEECH / "mfa" / "cold_corpus.wav"
    if not path.exists():
        pytest.skip(f"shared media not available: {SPEECH}")
    x, sr = sf.read(path, dtype="float32")
    a, b = 3.0, 3.0 + MIN_MARK_S
    attack, _ = REAL_ATTACKS["noise 10 dB"]
    found = [d for d in detect(attack(embed(x, sr, PAYLOAD, a, b), sr), sr)
             if d.payload == PAYLOAD]
    assert found, "not detected"
    assert abs(found[0].start - a) <= TOLERANCE_S and abs(found[0].end - b) <= TOLERANCE_S
    assert detect(attack(x, sr), sr) == []


def test_the_edit_window_pass_takes_a_later_version_for_chance(espeak_speech):
    """The third pass (5.76 s windows) keeps only payloads naming a Retake version up to
    this one: a mark naming a later one is read there, then set aside as a chance CRC
    match; the same mark is still found by the first pass, which has no such rule."""
    from retake.awareness import watermark as wm

    x, sr, _ = espeak_speech
    later = Payload(255, 0x123456)
    marked = embed(x, sr, later, 0.2, len(x) / sr - 0.2)
    y, quality = wm._whiten(resample(marked, sr, wm.RATE).astype(np.float64), wm.DEFAULT)
    z = wm._sync_z(y, wm.DEFAULT)
    assert [d.payload for d in wm._find_at(y, quality, z, wm.DEFAULT, 12, False)] == [later]
    assert wm._find_at(y, quality, z, wm.DEFAULT, 12, False, version_code("0.2.0")) == []
    assert [d.payload for d in detect(marked, sr)] == [later]


@pytest.mark.parametrize("name,semitones,rate", [
    ("LJ001-0009.wav", 1.0, None), ("LJ001-0009.wav", -1.0, None),
    ("LJ001-0009.wav", 1.0, 48000)])
def test_a_mark_as_long_as_an_edit_makes_survives_a_pitch_shift(name, semitones, rate):
    """A phase vocoder scrambles the chips' phase bin by bin (a 2 s mark is lost, above);
    over the 6 s an edit marks, the pitch search (awareness/watermark_pitch.py) reads the
    sync bin by bin whatever its phase and decodes the payload against it as a pilot. Also
    at 48 kHz, where the vocoder's frames (2048 samples, hop 512) are a third as long as at
    the recording's own 22.05 kHz. The unmarked shifted speech stays clean."""
    x, sr, a, b = edit_length_span(name)
    if rate:
        x, sr = resample(x, sr, rate).astype(np.float32), rate
    found = [d for d in detect(pitched(embed(x, sr, PAYLOAD, a, b), sr, semitones), sr)
             if d.payload == PAYLOAD]
    assert found, "not detected"
    assert found[0].start < a + 1.0 and b - 1.0 < found[0].end
    assert found[0].altered == f"pitch shifted by {semitones:+.1f} semitones"
    assert detect(pitched(x, sr, semitones), sr) == []
