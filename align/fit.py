"""How well words fit the sound: thresholds relative to the recording, the records of
where words and pauses were found, and the band-energy tests for loud pauses."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from retake.align.audio import ALIGN_RATE
from retake.align.chunks import FRAME, HOP, frame_energy_db
from retake.align.timing import WordTiming
from retake.align.types import Phone

SKIP_PROB = 1e-8  # robust search: prior of a transcript word being absent
GARBAGE_PROB = 1e-10  # robust search: prior per phone of untranscribed sound
UNSCORED = -60.0  # score given to words placed by the robust search alone (no phones)
MIN_GARBAGE = 0.25  # seconds of untranscribed sound worth reporting


@dataclass(frozen=True)
class Limits:
    """Score-per-frame thresholds for one recording.

    Scores are pocketsphinx acoustic scores relative to the best senone of each frame. How
    well a voice fits the model varies a lot (clean natural speech: median about -15;
    a cold or a noisy room: -30; synthetic speech: -40), so word thresholds are set relative
    to the recording's own typical word score (the upper quartile less 4, which a stretch of
    mismatched transcript barely moves), clamped so that a transcript that is wrong
    throughout still looks wrong. Pauses are judged against the same base, never more
    strictly than a fixed floor.
    """

    base: float = -20.0

    @classmethod
    def from_scores(cls, scores: list[float]) -> Limits:
        """Limits for a recording whose words scored `scores` in the plain alignment."""
        if not scores:
            return cls()
        return cls(float(np.clip(np.percentile(scores, 75) - 4.0, -45.0, -10.0)))

    @property
    def bad_run(self) -> float:
        """Words this bad, several together, are re-aligned robustly."""
        return self.base - 35.0

    @property
    def bad_single(self) -> float:
        """A single word this bad is re-aligned robustly."""
        return self.base - 95.0

    @property
    def bad_pause(self) -> float:
        """A pause fitting worse than this is not silence (the speech-band energy test in
        `noisy_pauses` catches loud sound whatever the fit)."""
        return min(-40.0, self.base - 30.0)

    def garbage_prob(self, natural: float) -> float:
        """Prior per phone of untranscribed sound, made rarer for voices that fit the model
        badly: against such a voice a free phone loop beats the right words by more, so
        the loop must cost proportionally more to be chosen only for sound that is really
        not in the transcript."""
        return float(10.0 ** (math.log10(natural) * max(1.0, self.base / -22.0)))

    def confidence(self, score_per_frame: float) -> float:
        """0-1 confidence: 0.5 at 25 below the recording's median fit, logistic."""
        z = (score_per_frame - (self.base - 25.0)) / 8.0
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


class LocalLimits:
    """`Limits` that follow the recording: each is computed from the words within
    `window` seconds, so a long recording whose voice, room or speaker changes is judged
    against its own neighbourhood, not against its average."""

    def __init__(self, results: list, window: float = 15.0) -> None:
        found = [r for r in results if r is not None]
        self._t = np.array([r.start for r in found])
        self._s = np.array([r.spf for r in found])
        self._window = window
        self._cache: dict[int, Limits] = {}

    def at(self, t: float) -> Limits:
        """Limits for time `t` (seconds); computed once per 5 s bucket."""
        key = int(t // 5.0)
        if key not in self._cache:
            near = np.abs(self._t - (key * 5.0 + 2.5)) <= self._window
            self._cache[key] = Limits.from_scores(list(self._s[near]))
        return self._cache[key]


@dataclass
class Result:
    """Where one spoken word was found (times in seconds)."""

    start: float
    end: float
    phones: list[Phone] = field(default_factory=list)
    spf: float = 0.0
    found: bool = True


@dataclass
class Pause:
    """A pause or filler the engine placed between words, with its acoustic fit."""

    start: float
    end: float
    spf: float


def to_results(
    timings: list[WordTiming], offset: int, index_base: int, out: list, pauses: list
) -> int:
    """Store engine timings (frames relative to a piece) as results; return next word index."""
    nxt = index_base
    for t in timings:
        if t.index < 0:
            pauses.append(Pause((t.start + offset) * FRAME, (t.end + offset) * FRAME,
                                 t.score_per_frame))
            continue
        phones = [Phone(p.label, (p.start + offset) * FRAME, (p.end + offset) * FRAME)
                  for p in t.phones]
        out[index_base + t.index] = Result(
            (t.start + offset) * FRAME, (t.end + offset) * FRAME, phones, t.score_per_frame
        )
        nxt = index_base + t.index + 1
    return nxt


def band_floor(band: np.ndarray) -> float:
    """Noise floor (dB): 10th percentile of the frames that are not digital silence."""
    live = band[band > -90.0]
    return float(np.percentile(live, 10)) if len(live) else -90.0


def loud_threshold(floor: float, level: float) -> float:
    """Speech-band energy (dB) above which a pause holds real sound: well above the noise
    floor and within 20 dB of the speech around it (digital silence does not count as the
    floor: it would make a stop's closure look loud)."""
    return max(floor + max(10.0, 0.5 * (level - floor)), level - 20.0)


def robust_as_timings(engine, piece: np.ndarray, words: list[str]) -> list[WordTiming]:
    """Fallback when the plain search fails: word times from the robust search, no phones."""
    items = engine.align_robust(piece, words, SKIP_PROB, GARBAGE_PROB) or []
    return [WordTiming(it.index, it.start, it.end, UNSCORED * (it.end - it.start), [])
            for it in items if it.index is not None]


def speech_band_db(x: np.ndarray) -> np.ndarray:
    """Frame energy (dB, 10 ms frames) of 16 kHz audio in the speech band, 300-3400 Hz, where
    rumble, hum and thumps of a room do not count. Filtered and measured block by block, so
    a long recording's band-passed copy is never held whole."""
    win = 400
    n = max(1, 1 + (len(x) - win) // HOP) if len(x) >= win else 1
    if n <= BAND_BLOCK // HOP:
        return frame_energy_db(band_pass(x, 300.0, 3400.0, ALIGN_RATE))
    step = BAND_BLOCK // HOP  # frames per block
    out = np.empty(n)
    for f0 in range(0, n, step):
        f1 = min(n, f0 + step)
        a, b = f0 * HOP, min(len(x), (f1 - 1) * HOP + win)
        y = _band_pass_range(x, a, b, 300.0, 3400.0, ALIGN_RATE, 4)
        out[f0:f1] = frame_energy_db(y)[:f1 - f0]
    return out


BAND_OVERLAP = 1 << 13  # context each side (0.5 s): far beyond the filter's ringing
BAND_BLOCK = (1 << 18) - 2 * BAND_OVERLAP  # samples per block: an FFT of 2^18 (16 s)


def band_pass(x: np.ndarray, low: float, high: float, rate: int, order: int = 4) -> np.ndarray:
    """Zero-phase Butterworth band-pass: the magnitude of scipy's `sosfiltfilt` with
    `butter(order, [low, high], "band")`, applied in the frequency domain (importing
    scipy.signal costs more CPU than a cached edit's selection). The edges are extended by
    odd reflection first, as filtfilt pads them. Long audio is filtered in overlapping
    blocks of `BAND_BLOCK` samples, so memory does not grow with length (a 60-minute file
    took 2 GB as one FFT); the overlap is long enough that the result does not change."""
    x = np.asarray(x)
    if len(x) <= BAND_BLOCK:
        return _band_pass_range(x, 0, len(x), low, high, rate, order)
    out = np.empty(len(x), np.float32)
    for a in range(0, len(x), BAND_BLOCK):
        b = min(len(x), a + BAND_BLOCK)
        out[a:b] = _band_pass_range(x, a, b, low, high, rate, order)
    return out


def _band_pass_range(x: np.ndarray, a: int, b: int, low: float, high: float, rate: int,
                     order: int) -> np.ndarray:
    """`band_pass(x)[a:b]`, filtered with `BAND_OVERLAP` of context each side (the
    recording's own ends reflected, as filtfilt pads them)."""
    pad = min(len(x) - 1, rate // 10)
    a0, b0 = max(0, a - BAND_OVERLAP), min(len(x), b + BAND_OVERLAP)
    y = _band_pass_block(x[a0:b0], pad if a0 == 0 else 0, pad if b0 == len(x) else 0,
                         low, high, rate, order)
    return y[a - a0:b - a0]


def _band_pass_block(x: np.ndarray, pad_left: int, pad_right: int, low: float, high: float,
                     rate: int, order: int) -> np.ndarray:
    """`band_pass` of one block; the ends with a pad are the recording's own edges."""
    x64 = x.astype(np.float64)
    parts = [x64]
    if pad_left > 0:
        parts.insert(0, 2 * x64[0] - x64[pad_left:0:-1])
    if pad_right > 0:
        parts.append(2 * x64[-1] - x64[-2:-pad_right - 2:-1])
    y = np.concatenate(parts) if len(parts) > 1 else x64
    n = len(y)
    w = np.linspace(0.0, np.pi, n // 2 + 1)
    # the bilinear transform's prewarped frequencies, as scipy designs the filter
    om = 2 * rate * np.tan(np.minimum(w, np.pi - 1e-9) / 2)
    o1, o2 = (2 * rate * np.tan(np.pi * f / rate) for f in (low, high))
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(om > 0, (om ** 2 - o1 * o2) / (om * (o2 - o1)), np.inf)
    gain = 1.0 / (1.0 + u ** (2 * order))  # |H|^2: forward and backward passes
    out = np.fft.irfft(np.fft.rfft(y) * gain, n)
    return out[max(pad_left, 0):max(pad_left, 0) + len(x)].astype(np.float32)
