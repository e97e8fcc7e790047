"""Per-recording analysis the editor needs: pitch, spectra, loudness, room tone, phone units.

A `Recording` bundles a speaker's audio with its Alignment and the frame-level features that
unit selection and splicing read: F0 (Praat's autocorrelation pitch via parselmouth), MFCCs
and log energy, all at 10 ms frames; the quietest stretch of the recording as room tone; and
every aligned phone as a `Unit` with its context.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from retake.align.chunks import frame_energy_db
from retake.align.types import Alignment

HOP_S = 0.01
VOWELS = frozenset(
    ["AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"]
)
CLASSES = {
    **{p: "vowel" for p in VOWELS},
    **{p: "stop" for p in ["P", "B", "T", "D", "K", "G"]},
    **{p: "fricative" for p in ["F", "V", "TH", "DH", "S", "Z", "SH", "ZH", "HH"]},
    **{p: "affricate" for p in ["CH", "JH"]},
    **{p: "nasal" for p in ["M", "N", "NG"]},
    **{p: "liquid" for p in ["L", "R"]},
    **{p: "glide" for p in ["W", "Y"]},
    "SIL": "silence",
}


def phone_class(label: str) -> str:
    """Broad class of an ARPAbet phone (vowel, stop, fricative, ...)."""
    return CLASSES.get(label, "other")


@dataclass
class Unit:
    """One aligned phone of a recording, usable as a building block for new speech."""

    index: int  # position in the recording's phone sequence
    label: str
    start: float  # seconds
    end: float
    left: str  # previous phone, or SIL after a pause
    right: str
    word: int  # index of the spoken word it belongs to (in the recording's word list)
    position: str  # "initial" | "medial" | "final" | "single" in its word
    f0: float  # median F0 in Hz over the unit, 0 if unvoiced
    energy: float  # mean log energy (dB)
    next_index: int | None = None  # index of the unit that follows it in the same stretch
    source: int = 0  # which recording of an inventory it comes from (0: the one edited)

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.end - self.start


@dataclass
class Recording:
    """A speaker's recording with its alignment and frame features (10 ms frames)."""

    samples: np.ndarray
    sample_rate: int
    alignment: Alignment
    f0: np.ndarray  # Hz per frame, 0 = unvoiced
    mfcc: np.ndarray  # (frames, 13)
    energy: np.ndarray  # dB per frame
    units: list[Unit] = field(default_factory=list)
    room_tone: np.ndarray | None = None
    agreement: object | None = None  # align.agreement.Agreement, when checked

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.sample_rate

    def frame(self, t: float) -> int:
        """Index of the 10 ms frame at time `t` (clipped to the recording)."""
        return int(np.clip(round(t / HOP_S), 0, len(self.energy) - 1))

    def speech_level(self) -> float:
        """Median frame energy (dB) over aligned speech."""
        frames = [self.energy[self.frame(w.start):self.frame(w.end)]
                  for w in self.alignment.words if w.aligned]
        frames = [f for f in frames if len(f)]
        return float(np.median(np.concatenate(frames))) if frames else float(np.max(self.energy))

    def median_f0(self) -> float:
        """The speaker's median F0 in Hz (over voiced frames)."""
        voiced = self.f0[self.f0 > 0]
        return float(np.median(voiced)) if len(voiced) else 150.0


PITCH_BLOCK_S = 60.0  # long recordings are pitch-tracked in blocks of this length...
PITCH_CONTEXT_S = 2.0  # ...each with this much context either side (memory flat in length)


def pitch_track(samples: np.ndarray, sample_rate: int, n_frames: int) -> np.ndarray:
    """F0 in Hz per 10 ms frame (0 where unvoiced), frame t centred at t*10 ms + 5 ms.

    A recording longer than two blocks is tracked block by block with context either side
    (Praat's tracker holds several float64 copies of what it is given: a 60-minute file
    took gigabytes); shorter ones in one piece, as before."""
    if len(samples) <= 2 * PITCH_BLOCK_S * sample_rate:
        return _pitch_block(samples, sample_rate, 0, n_frames, 0)
    out = np.zeros(n_frames)
    step, ctx = int(PITCH_BLOCK_S / HOP_S), int(PITCH_CONTEXT_S / HOP_S)
    # Praat calls a frame silent against the whole sound's peak: give each block that peak
    peak = max(float(np.max(np.abs(samples[a:a + (1 << 20)])))
               for a in range(0, len(samples), 1 << 20))
    for f0 in range(0, n_frames, step):
        f1 = min(n_frames, f0 + step)
        c0, c1 = max(0, f0 - ctx), min(n_frames, f1 + ctx)
        a = int(round(c0 * HOP_S * sample_rate))
        b = min(len(samples), int(round((c1 + 1) * HOP_S * sample_rate)))
        out[f0:f1] = _pitch_block(samples[a:b], sample_rate, c0, c1, a, peak)[f0 - c0:f1 - c0]
    return out


def _pitch_block(samples: np.ndarray, sample_rate: int, f0: int, f1: int, at: int,
                 peak: float | None = None) -> np.ndarray:
    """F0 of grid frames [f0, f1) from `samples`, which start at sample `at`; `peak` is the
    whole recording's when `samples` is part of it."""
    import parselmouth

    snd = parselmouth.Sound(samples.astype(np.float64), sample_rate)
    silence = 0.03  # Praat's default, relative to the sound's peak
    if peak:
        silence *= peak / max(float(np.max(np.abs(samples))), 1e-9)
    pitch = snd.to_pitch_ac(time_step=HOP_S, pitch_floor=60.0, pitch_ceiling=500.0,
                            silence_threshold=silence)
    f = pitch.selected_array["frequency"]
    times = pitch.xs()
    grid = np.arange(f0, f1) * HOP_S + HOP_S / 2 - at / sample_rate
    out = np.interp(grid, times, f, left=0.0, right=0.0)
    # interpolation across a voiced/unvoiced edge produces spurious low values (down to
    # 1e-11 Hz): a grid point is voiced only when the frames on both sides of it are
    idx = np.searchsorted(times, grid)
    after = f[np.clip(idx, 0, len(f) - 1)]
    before = f[np.clip(idx - 1, 0, len(f) - 1)]
    out[(after == 0) | (before == 0)] = 0.0
    return out


def _room_tone(samples: np.ndarray, sample_rate: int, energy: np.ndarray) -> np.ndarray:
    """The quietest 300 ms of the recording that is not digital silence, for filling pauses."""
    win = int(0.3 / HOP_S)
    if len(energy) <= win:
        return np.zeros(int(0.3 * sample_rate), np.float32)
    live = np.where(energy > -90, energy, 40.0)
    smooth = np.convolve(live, np.ones(win) / win, mode="valid")
    k = int(np.argmin(smooth))
    a = int(k * HOP_S * sample_rate)
    return samples[a:a + int(0.3 * sample_rate)].astype(np.float32).copy()


def analyse(samples: np.ndarray, sample_rate: int, alignment: Alignment,
            cache_dir=None) -> Recording:
    """Frame features and the unit inventory of an aligned recording. The features depend on
    the audio alone and are cached by its content (a second edit skips pitch and MFCCs)."""
    from retake.core import cache

    key = cache.content_key(samples, sample_rate, "features-v2")
    hit = cache.load_arrays(cache_dir, "features", key)
    if hit is not None and {"f0", "mfcc", "energy", "room_tone"} <= set(hit):
        rec = Recording(samples.astype(np.float32, copy=False), sample_rate, alignment,
                        hit["f0"], hit["mfcc"], hit["energy"])
        rec.room_tone = hit["room_tone"]
    else:
        rec = _features(samples, sample_rate, alignment)
        cache.store_arrays(cache_dir, "features", key, f0=rec.f0, mfcc=rec.mfcc,
                           energy=rec.energy, room_tone=rec.room_tone)
    rec.units = build_units(rec)
    return rec


def on_grid(values: np.ndarray, hop: int, sample_rate: int, n: int) -> np.ndarray:
    """Frame features computed every `hop` samples, resampled onto the exact 10 ms grid
    (frame t at t * 10 ms). At 22.05 kHz a 220-sample hop is 9.977 ms: without this, frame
    indices drift from times by 0.23 s over 100 s, and features land on the wrong phones."""
    if hop == sample_rate * HOP_S:
        out = values[:n]
    else:
        src = np.arange(len(values)) * hop / sample_rate
        grid = np.arange(n) * HOP_S
        out = np.stack([np.interp(grid, src, v) for v in np.atleast_2d(values.T)], axis=1)
        out = out if values.ndim == 2 else out[:, 0]
    if len(out) < n:
        pad = ((0, n - len(out)),) + ((0, 0),) * (out.ndim - 1)
        out = np.pad(out, pad, mode="edge")
    return out


def _mel_filters(sample_rate: int, n_fft: int, n_mels: int, fmin: float,
                 fmax: float) -> np.ndarray:
    """Slaney-style mel filterbank (area-normalised triangles), as librosa's default."""
    step = 200.0 / 3
    logstep = np.log(6.4) / 27.0

    def to_mel(f):
        f = np.asarray(f, dtype=np.float64)
        return np.where(f >= 1000, 15.0 + np.log(np.maximum(f, 1e-10) / 1000) / logstep,
                        f / step)

    def to_hz(m):
        return np.where(m >= 15.0, 1000 * np.exp(logstep * (m - 15.0)), m * step)

    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    edges = to_hz(np.linspace(to_mel(fmin), to_mel(fmax), n_mels + 2))
    ramps = edges[:, None] - freqs[None, :]
    width = np.diff(edges)
    lower = -ramps[:-2] / width[:-1, None]
    upper = ramps[2:] / width[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    return weights * (2.0 / (edges[2:] - edges[:-2]))[:, None]


MFCC_BLOCK = 8192  # frames per FFT block (~80 s)


def mfcc_frames(samples: np.ndarray, sample_rate: int, n: int | None = None) -> np.ndarray:
    """MFCCs (13, 25 ms Hann windows, 40 Slaney mel bands 60 Hz-7.6 kHz, dB with an 80 dB
    floor, orthonormal DCT) on the 10 ms grid: librosa.feature.mfcc's numbers (tested),
    in numpy, because importing librosa costs more CPU than a whole cached edit."""
    from scipy.fft import dct

    hop = int(sample_rate * HOP_S)
    n = n if n is not None else max(1, int(len(samples) / sample_rate / HOP_S))
    n_fft = int(2 ** np.ceil(np.log2(0.025 * sample_rate)))
    win = int(0.025 * sample_rate)
    window = np.zeros(n_fft)
    start = (n_fft - win) // 2
    window[start:start + win] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)
    half = n_fft // 2
    total = max(len(samples) + 2 * half, n_fft)  # the zero-padded signal's length
    count = (total - n_fft) // hop + 1
    filters = _mel_filters(sample_rate, n_fft, 40, 60.0, float(min(7600, sample_rate // 2))).T
    # The padded signal is never built: each block's frames are cut from a padded copy of
    # just its own stretch, and the mel energies turn into dB in place (a 60-minute file
    # held its copy, the mel energies and three dB arrays at once: a gigabyte).
    db = np.empty((count, filters.shape[1]))
    for a in range(0, count, MFCC_BLOCK):  # in blocks: memory flat in length
        b = min(count, a + MFCC_BLOCK)
        seg = padded_span(samples, a * hop - half, (b - 1) * hop + n_fft - half)
        frames = np.lib.stride_tricks.sliding_window_view(seg, n_fft)[::hop]
        power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
        block = db[a:b]
        block[:] = power @ filters
        np.maximum(block, 1e-10, out=block)
        np.log10(block, out=block)
        block *= 10
    floor = db.max() - 80.0
    mfcc = np.empty((count, 13))
    for a in range(0, count, MFCC_BLOCK):
        block = np.maximum(db[a:a + MFCC_BLOCK], floor)
        mfcc[a:a + MFCC_BLOCK] = dct(block, type=2, axis=1, norm="ortho")[:, :13]
    del db
    return on_grid(mfcc, hop, sample_rate, n)


def padded_span(samples: np.ndarray, a: int, b: int, dtype=np.float32) -> np.ndarray:
    """Samples [a, b) of `samples` as `dtype`, with zeros where the range runs past either
    end."""
    out = np.zeros(b - a, dtype)
    s0, s1 = max(a, 0), min(b, len(samples))
    if s1 > s0:
        out[s0 - a:s1 - a] = samples[s0:s1]
    return out


class ZeroPadded:
    """`samples` with zeros before and after, sliceable without building the padded copy
    (what `np.pad(samples, (left, right))` holds, a stretch at a time)."""

    def __init__(self, samples: np.ndarray, left: int, right: int) -> None:
        self.samples, self.left, self.right = samples, left, right

    def __len__(self) -> int:
        return self.left + len(self.samples) + self.right

    def __getitem__(self, index: slice) -> np.ndarray:
        a, b, _ = index.indices(len(self))
        return padded_span(self.samples, a - self.left, max(a, b) - self.left,
                           self.samples.dtype)


def _features(samples: np.ndarray, sample_rate: int, alignment: Alignment) -> Recording:
    hop = int(sample_rate * HOP_S)
    n = max(1, int(len(samples) / sample_rate / HOP_S))
    mfcc = mfcc_frames(samples, sample_rate, n)
    # mean power of 2-hop windows every hop (a running sum, block by block: no frame copies)
    energy = frame_energy_db(ZeroPadded(samples, 0, hop * 3), hop=hop, win=hop * 2)
    energy = on_grid(energy, hop, sample_rate, n)
    f0 = pitch_track(samples, sample_rate, n)
    rec = Recording(samples.astype(np.float32, copy=False), sample_rate, alignment, f0, mfcc,
                    energy)
    rec.room_tone = _room_tone(samples, sample_rate, energy)
    return rec


def build_units(rec: Recording) -> list[Unit]:
    """Every aligned phone as a Unit, with its neighbours and word position."""
    units: list[Unit] = []
    spoken_index = 0
    prev_end = -1.0
    for w in rec.alignment.words:
        n_spoken = max(1, len(w.spoken))
        if not w.aligned or not w.phones:
            spoken_index += n_spoken
            continue
        for k, p in enumerate(w.phones):
            a, b = rec.frame(p.start), max(rec.frame(p.end), rec.frame(p.start) + 1)
            f = rec.f0[a:b]
            voiced = f[f > 0]
            pos = ("single" if len(w.phones) == 1 else "initial" if k == 0
                   else "final" if k == len(w.phones) - 1 else "medial")
            contiguous = abs(p.start - prev_end) < 1e-3
            if units and contiguous:
                units[-1].next_index = len(units)
            left = units[-1].label if units and contiguous else "SIL"
            units.append(Unit(len(units), p.label, p.start, p.end, left, "SIL", spoken_index,
                              pos, float(np.median(voiced)) if len(voiced) else 0.0,
                              float(np.mean(rec.energy[a:b]))))
            prev_end = p.end
        spoken_index += n_spoken
    for u in units:
        if u.next_index is not None:
            u.right = units[u.next_index].label
    return units
