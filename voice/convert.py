"""Phone by phone, the query voice's spectrum made the speaker's.

A phone borrowed from the query voice (or chosen from it where the speaker's own units fit
far worse) must sound like the speaker. A single long-term filter matches the average
timbre but leaves each phone the query voice's own: its S hisses at another frequency, its
vowels keep another person's formant balance. So the conversion is conditioned on the phone:
for each ARPAbet label, the speaker's mean spectral envelope (over the middle of every unit
of that label in the recording) and the query voice's (over its calibration sentences, after
the same formant shift) give a gain curve, and every frame of the query phrase is filtered
by the curve of the phone it belongs to (its phone class's, or all speech's, where the
speaker never said that phone). This is a frame mapping with one component per phone and
hard assignment, the simplest member of the GMM family the voice-conversion literature
uses, and it needs no parallel recording: both sides are averaged per phone.
"""

from __future__ import annotations

import numpy as np

from retake.voice.analysis import Recording, Unit, phone_class

N_FFT = 1024
HOP = N_FFT // 4
MAX_GAIN_DB = 12.0
SMOOTH_HZ = 300.0  # envelopes are smoothed over this band (harmonics are not timbre)
PER_LABEL = 40  # units of one label averaged at most


def stft(x: np.ndarray, n_fft: int = N_FFT) -> np.ndarray:
    """Complex spectra (frames, n_fft//2+1) of `x`, Hann window, hop n_fft/4, centred."""
    from numpy.lib.stride_tricks import sliding_window_view

    hop = n_fft // 4
    y = np.pad(x.astype(np.float64), (n_fft // 2, n_fft // 2 + n_fft))
    frames = sliding_window_view(y, n_fft)[::hop][: len(x) // hop + 1]
    return np.fft.rfft(frames * _window(n_fft), axis=1)


def istft(spec: np.ndarray, n: int, n_fft: int = N_FFT) -> np.ndarray:
    """Inverse of `stft` by weighted overlap-add, `n` samples long."""
    hop = n_fft // 4
    frames = np.fft.irfft(spec, n_fft, axis=1) * _window(n_fft)
    out = np.zeros(len(frames) * hop + n_fft)
    norm = np.zeros_like(out)
    w2 = _window(n_fft) ** 2
    for k, f in enumerate(frames):
        out[k * hop:k * hop + n_fft] += f
        norm[k * hop:k * hop + n_fft] += w2
    half = n_fft // 2
    out = out[half:half + n] / np.maximum(norm[half:half + n], 1e-8)
    return out.astype(np.float32)


def _window(n_fft: int = N_FFT) -> np.ndarray:
    return np.hanning(n_fft + 1)[:-1]


def _smooth(db: np.ndarray, sample_rate: int) -> np.ndarray:
    width = max(1, int(round(SMOOTH_HZ / (sample_rate / N_FFT))))
    k = np.ones(width) / width
    return np.convolve(np.pad(db, width // 2, mode="edge"), k, "valid")[: len(db)]


def envelopes(rec: Recording, units: list[Unit]) -> dict[str, np.ndarray]:
    """Mean log-power spectrum (dB, smoothed across frequency) over the middle half of each
    unit (at most PER_LABEL units a label), per label, per phone class ("class:<name>") and
    over all speech ("all"). Only the windows inside units are transformed."""
    sr = rec.sample_rate
    x = rec.samples
    half = N_FFT // 2
    padded = len(x) + 2 * half  # frames as if the recording were padded by half a window

    def frame(a: int) -> np.ndarray:  # without copying a long recording to pad it
        lo, hi = a - half, a - half + N_FFT
        seg = x[max(0, lo):max(0, min(len(x), hi))].astype(np.float64)
        return np.pad(seg, (max(0, -lo), N_FFT - len(seg) - max(0, -lo)))

    pools: dict[str, list[np.ndarray]] = {}
    for u in units:
        pool = pools.setdefault(u.label, [])
        if len(pool) >= PER_LABEL:
            continue
        q = (u.end - u.start) / 4
        centres = np.arange(u.start + q, u.end - q, HOP / sr) if u.end - u.start > 0.04 \
            else np.array([(u.start + u.end) / 2])
        starts = [int(c * sr) for c in centres if int(c * sr) + N_FFT <= padded]
        if starts:
            frames = np.stack([frame(a) for a in starts]) * _window()
            pool.append((np.abs(np.fft.rfft(frames, axis=1)) ** 2).mean(axis=0))
    out: dict[str, np.ndarray] = {}
    groups: dict[str, list[np.ndarray]] = {}
    for label, pool in pools.items():
        if pool:
            mean = np.mean(pool, axis=0)
            out[label] = _smooth(10 * np.log10(mean + 1e-10), sr)
            groups.setdefault("class:" + phone_class(label), []).append(mean)
            groups.setdefault("all", []).append(mean)
    for name, means in groups.items():
        out[name] = _smooth(10 * np.log10(np.mean(means, axis=0) + 1e-10), sr)
    return out


def warped(env: dict[str, np.ndarray], factor: float) -> dict[str, np.ndarray]:
    """Envelopes after every resonance moved by `factor` (E'(f) = E(f / factor))."""
    bins = np.arange(N_FFT // 2 + 1, dtype=np.float64)
    return {k: np.interp(bins / factor, bins, v) for k, v in env.items()}


def _lookup(env: dict[str, np.ndarray], label: str) -> np.ndarray | None:
    for key in (label, "class:" + phone_class(label), "all"):
        if key in env:
            return env[key]
    return None


def gains(speaker: dict[str, np.ndarray], query: dict[str, np.ndarray]
          ) -> dict[str, np.ndarray]:
    """Per label both voices said (and per class, and over all speech): the speaker's
    envelope over the query voice's in dB, within ±MAX_GAIN_DB, the overall level difference
    removed (level is matched apart). A label only the query voice said takes its class's
    gain, so the phone keeps its own sound and takes on the speaker's timbre."""
    out = {k: speaker[k] - q for k, q in query.items() if k in speaker}
    if "all" not in out:
        return {}
    offset = float(np.median(out["all"]))
    return {k: np.clip(v - offset, -MAX_GAIN_DB, MAX_GAIN_DB) for k, v in out.items()}


def apply(x: np.ndarray, sample_rate: int, phones: list[tuple[str, float, float]],
          gain: dict[str, np.ndarray]) -> np.ndarray:
    """Filter each frame of `x` by the gain of the phone it lies in ("all" between phones),
    the gains glided over 3 frames so no phone boundary clicks."""
    if "all" not in gain or len(x) < N_FFT:
        return x
    spec = stft(x)
    t = (np.arange(len(spec)) * HOP) / sample_rate
    curves = np.tile(gain["all"], (len(spec), 1))
    for label, a, b in phones:
        g = _lookup(gain, label)
        if g is not None:
            curves[(t >= a) & (t < b)] = g
    kernel = np.ones(3) / 3
    curves = np.apply_along_axis(lambda c: np.convolve(np.pad(c, 1, mode="edge"), kernel,
                                                       "valid"), 0, curves)
    return istft(spec * 10 ** (curves / 20), len(x))
