"""Frame features of a recording (voice/analysis.py): on the exact 10 ms grid at any sample
rate, librosa's MFCC numbers without importing librosa, and no spurious pitch values."""

from __future__ import annotations

import numpy as np
import pytest

from retake.align.types import Alignment
from retake.voice.analysis import _features, mfcc_frames, pitch_track


def _bursts(sr: int, seconds: float, at: list[float]) -> np.ndarray:
    rng = np.random.default_rng(0)
    x = 0.001 * rng.standard_normal(int(seconds * sr)).astype(np.float32)
    t = np.arange(int(0.05 * sr)) / sr
    for s in at:
        k = int(s * sr)
        x[k:k + len(t)] += 0.5 * np.sin(2 * np.pi * 220 * t).astype(np.float32)
    return x


@pytest.mark.parametrize("sr", [16000, 22050, 44100])
def test_frames_stay_on_time_at_any_rate(sr):
    """A burst at 95 s is found in frame 9500 (at 22.05 kHz a 220-sample hop used to put it
    23 frames late)."""
    at = [1.0, 50.0, 95.0]
    x = _bursts(sr, 100.0, at)
    rec = _features(x, sr, Alignment([], 100.0))
    for s in at:
        k = rec.frame(s + 0.02)
        assert rec.energy[k] > rec.energy[rec.frame(s - 0.2)] + 30, s
        onset = int(np.argmax(rec.energy[rec.frame(s - 0.2):] > -20)) + rec.frame(s - 0.2)
        assert abs(onset - round(s / 0.01)) <= 2, (s, onset)


def test_mfcc_matches_librosa(speech):
    import librosa

    from retake.voice.analysis import on_grid

    synth, _ = speech("Printing differs from most if not from all the arts and crafts.")
    x, sr = synth.audio.astype(np.float32), synth.sample_rate
    hop = int(sr * 0.01)
    ref = librosa.feature.mfcc(y=x, sr=sr, n_mfcc=13, n_fft=int(2 ** np.ceil(np.log2(
        0.025 * sr))), hop_length=hop, win_length=int(0.025 * sr), n_mels=40, fmin=60,
        fmax=min(7600, sr // 2)).T
    n = int(len(x) / sr / 0.01)
    mine = mfcc_frames(x, sr)
    assert mine.shape == (n, 13)
    np.testing.assert_allclose(mine, on_grid(ref, hop, sr, n), atol=1e-3)


def test_pitch_has_no_spurious_low_values(speech):
    synth, _ = speech("She sells sea shells by the sea shore, every single morning.")
    f0 = pitch_track(synth.audio, synth.sample_rate, int(synth.audio.size /
                                                         synth.sample_rate / 0.01))
    voiced = f0[f0 > 0]
    assert len(voiced) > 50 and voiced.min() >= 55.0


def test_band_pass_matches_scipy_filtfilt():
    """The speech-band filter (numpy, to spare scipy.signal's import) gives scipy's
    zero-phase Butterworth frame energies to a fraction of a dB."""
    from scipy.signal import butter, sosfiltfilt

    from retake.align.fit import band_pass, frame_energy_db

    rng = np.random.default_rng(0)
    x = (rng.standard_normal(48000) * np.linspace(0.01, 1, 48000)).astype(np.float32)
    x += np.sin(2 * np.pi * 100 * np.arange(48000) / 16000).astype(np.float32)
    x[16000:20000] = 0
    ref = sosfiltfilt(butter(4, [300, 3400], btype="band", fs=16000, output="sos"), x)
    ours = band_pass(x, 300, 3400, 16000)
    assert np.max(np.abs(frame_energy_db(ref.astype(np.float32)) - frame_energy_db(ours))) < 0.5
