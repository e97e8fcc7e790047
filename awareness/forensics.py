"""Audio splice evidence: word boundaries that change what natural speech keeps steady.

Within one recording the room tone, the noise floor and the spectral colouring stay nearly
constant, and pitch moves smoothly across a word boundary. A word cut in from elsewhere, or
synthesized, tends to break one of these at its edges. For every boundary between aligned
words we measure, over short windows either side:
- noise floor (dB, a low percentile of frame energies over ~0.4 s),
- spectral envelope (distance of mean MFCCs over 60 ms),
- pitch (semitones between the last voiced frame before and the first after, when both are
  within 80 ms of the boundary),
then express each as a robust z-score against the same file's boundaries (median and MAD):
evidence is what is unusual *for this recording*. The combined score is the largest of the
three z-scores at a boundary.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

HOP = 0.01


@dataclass
class Boundary:
    """One word boundary with its jumps and their z-scores against the file."""

    time: float
    left: str
    right: str
    floor_db: float
    spectral: float
    pitch_st: float | None
    z: dict[str, float] = field(default_factory=dict)

    @property
    def score(self) -> float:
        """The strongest evidence at this boundary (a robust z-score)."""
        return max(self.z.values()) if self.z else 0.0


def _frames(x: np.ndarray, sr: int, win: float = 0.025) -> np.ndarray:
    n, hop = int(win * sr), int(HOP * sr)
    if len(x) < n:
        x = np.pad(x, (0, n - len(x)))
    count = 1 + (len(x) - n) // hop
    idx = np.arange(n)[None, :] + hop * np.arange(count)[:, None]
    return x[idx] * np.hanning(n)[None, :]


FEATURE_BLOCK = 6000  # frames (60 s) computed at once: memory flat in the file's length


def features(samples: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per 10 ms frame: energy (dB), 13 MFCCs, F0 (Hz, 0 unvoiced).

    Frames and mel spectra are computed block by block (the same frames as one pass over
    the whole file; a first pass finds the loudest bin, which sets librosa's 80 dB floor),
    so neither the frames nor the mel spectrogram of a long recording is held whole."""
    import librosa

    x = np.asarray(samples, np.float32)
    win, hop, n_fft = int(0.025 * sr), int(HOP * sr), int(0.025 * sr) * 2
    if len(x) < win:
        x = np.pad(x, (0, win - len(x)))
    count = 1 + (len(x) - win) // hop
    energy = np.empty(count)

    def mel(f0: int, f1: int) -> np.ndarray | None:
        seg = x[f0 * hop:(f1 - 1) * hop + n_fft]
        return (librosa.feature.melspectrogram(y=seg, sr=sr, hop_length=hop, n_fft=n_fft,
                                               center=False) if len(seg) >= n_fft else None)

    top = 1e-10  # the loudest mel bin of the whole file: power_to_db's 80 dB floor hangs on it
    for f0 in range(0, count, FEATURE_BLOCK):
        f1 = min(count, f0 + FEATURE_BLOCK)
        seg = x[f0 * hop:(f1 - 1) * hop + win]
        energy[f0:f1] = 10 * np.log10(np.mean(_frames(seg, sr) ** 2, axis=1) + 1e-10)
        m = mel(f0, f1)
        top = max(top, float(m.max())) if m is not None else top
    floor = 10 * np.log10(top) - 80.0
    parts = []
    for f0 in range(0, count, FEATURE_BLOCK):  # again, now that the floor is known
        m = mel(f0, min(count, f0 + FEATURE_BLOCK))
        if m is not None:
            db = np.maximum(librosa.power_to_db(m, top_db=None), floor)
            # a copy: the 13 rows are a view of the block's whole DCT (n_mels rows), and
            # 60 such views of an hour-long file held 300 MB
            parts.append(librosa.feature.mfcc(S=db, n_mfcc=13).T.copy())
    mfcc = np.concatenate(parts) if parts else np.zeros((0, 13))
    del parts
    from retake.voice.analysis import pitch_track

    f0 = pitch_track(samples, sr, len(energy))
    n = min(len(energy), len(mfcc), len(f0))
    return energy[:n], mfcc[:n], f0[:n]


# The smallest spread each measure is trusted to have (a file whose boundaries all match
# would otherwise make any tiny difference look enormous): dB, MFCC distance, semitones.
MIN_SPREAD = {"floor": 3.0, "spectral": 3.0, "pitch": 2.0}


def _robust_z(values: np.ndarray, least: float) -> np.ndarray:
    med = np.median(values)
    mad = max(float(np.median(np.abs(values - med))) * 1.4826, least)
    return (values - med) / mad


def splice_evidence(samples: np.ndarray, sr: int, alignment) -> list[Boundary]:
    """Every boundary between consecutive aligned words, scored against the file's own."""
    energy, mfcc, f0 = features(samples, sr)
    n = len(energy)
    words = alignment.aligned_words()
    out: list[Boundary] = []
    for a, b in zip(words, words[1:], strict=False):
        t = (a.end + b.start) / 2
        c = int(round(t / HOP))
        if c < 6 or c > n - 6:
            continue
        lw, rw = slice(max(0, c - 40), c), slice(c, min(n, c + 40))
        floor = abs(float(np.percentile(energy[lw], 10) - np.percentile(energy[rw], 10)))
        # Envelope: the speech nearest the boundary on each side (skip a pause between).
        le = int(round(a.end / HOP))
        rs = int(round(b.start / HOP))
        left = mfcc[max(0, le - 6):max(1, le)]
        right = mfcc[rs:min(n, rs + 6)]
        spectral = float(np.linalg.norm(left[:, 1:].mean(0) - right[:, 1:].mean(0))) \
            if len(left) and len(right) else 0.0
        pitch = None
        lv = [i for i in range(max(0, le - 8), min(n, le + 1)) if f0[i] > 0]
        rv = [i for i in range(max(0, rs), min(n, rs + 9)) if f0[i] > 0]
        if lv and rv and (rs - le) * HOP < 0.15:
            pitch = float(abs(12 * np.log2(f0[rv[0]] / f0[lv[-1]])))
            if pitch > 12:  # an octave error of the pitch tracker, not a voice
                pitch = None
        out.append(Boundary(round(t, 3), a.text, b.text, floor, spectral, pitch))
    if len(out) >= 4:
        for key, vals in (("floor", [x.floor_db for x in out]),
                          ("spectral", [x.spectral for x in out])):
            z = _robust_z(np.array(vals), MIN_SPREAD[key])
            for x, v in zip(out, z, strict=True):
                x.z[key] = round(float(v), 2)
        voiced = [x for x in out if x.pitch_st is not None]
        if len(voiced) >= 4:
            z = _robust_z(np.array([x.pitch_st for x in voiced]), MIN_SPREAD["pitch"])
            for x, v in zip(voiced, z, strict=True):
                x.z["pitch"] = round(float(v), 2)
    return out
