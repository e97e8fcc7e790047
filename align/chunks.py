"""Where to cut a long recording: at pauses, into pieces the aligner handles in bounded memory.

A 10-minute file aligned in one pass needs gigabytes and very wide beams; ~30 s pieces need
about 200 MB. Cuts go in the middle of the longest quiet stretch of each window, found from
frame energy against the recording's own noise floor, so a cut rarely falls inside a word.
"""

from __future__ import annotations

import numpy as np

HOP = 160  # 10 ms at 16 kHz
FRAME = 0.01  # seconds per analysis frame: the aligner's grid


ENERGY_BLOCK = 8192  # frames per block (~80 s): memory flat in length


def frame_energy_db(audio: np.ndarray, hop: int = HOP, win: int = 400) -> np.ndarray:
    """Log energy (dB) of each 10 ms frame of 16 kHz mono audio; frame t starts at t*hop.

    Computed from a running sum of squares, block by block, so long recordings cost one
    pass and memory that does not grow with their length.
    """
    n = max(1, 1 + (len(audio) - win) // hop) if len(audio) >= win else 1
    out = np.empty(n, np.float64)
    for f0 in range(0, n, ENERGY_BLOCK):
        f1 = min(n, f0 + ENERGY_BLOCK)
        a = f0 * hop
        seg = audio[a:min(len(audio), (f1 - 1) * hop + win)]
        csum = np.concatenate([[0.0], np.cumsum(np.square(seg, dtype=np.float64))])
        starts = np.arange(f1 - f0) * hop
        ends = np.minimum(starts + win, len(seg))
        power = (csum[ends] - csum[starts]) / win
        out[f0:f1] = 10 * np.log10(np.maximum(power, 0.0) + 1e-10)
    return out


def quiet_frames(energy_db: np.ndarray, margin_db: float = 8.0) -> np.ndarray:
    """Frames within `margin_db` of the noise floor (10th percentile of frame energy)."""
    floor = np.percentile(energy_db, 10)
    return energy_db < floor + margin_db


class Cutter:
    """Chooses cut points at pauses in one recording (energy computed once)."""

    def __init__(self, audio: np.ndarray, sample_rate: int, target: float = 25.0,
                 longest: float = 35.0, energy: np.ndarray | None = None) -> None:
        self.hop = sample_rate // 100
        self.n_samples = len(audio)
        self.target, self.longest = target, longest
        if energy is None:
            energy = frame_energy_db(audio, hop=self.hop, win=int(0.025 * sample_rate))
        self.energy = energy
        self.quiet = quiet_frames(self.energy)

    def next_cut(self, start: int) -> int | None:
        """The sample at which to end a piece starting at sample `start`, or None when the
        rest is no longer than `longest` seconds.

        The cut is the centre of the longest quiet run between `target - 8` and `longest`
        seconds after `start`; without any quiet run there, the quietest frame.
        """
        f0 = start // self.hop
        n = len(self.energy)
        if (n - f0) * 0.01 <= self.longest:
            return None
        lo = f0 + int((self.target - 8) * 100)
        hi = min(n, f0 + int(self.longest * 100))
        best_score, best_mid = 0.0, None
        t = lo
        while t < hi:
            if self.quiet[t]:
                u = t
                while u < hi and self.quiet[u]:
                    u += 1
                # Prefer long pauses, and among equals the one nearest the target length.
                score = (u - t) - abs((t + u) / 2 - (f0 + self.target * 100)) / 200.0
                if best_mid is None or score > best_score:
                    best_score, best_mid = score, (t + u) // 2
                t = u
            else:
                t += 1
        if best_mid is None:
            best_mid = lo + int(np.argmin(self.energy[lo:hi]))
        return best_mid * self.hop


def cut_points(
    audio: np.ndarray, sample_rate: int, target: float = 25.0, longest: float = 35.0
) -> list[int]:
    """Sample positions at which to cut `audio` into pieces of about `target` seconds
    (empty for audio no longer than `longest`); see `Cutter.next_cut`."""
    cutter = Cutter(audio, sample_rate, target, longest)
    cuts: list[int] = []
    start = 0
    while (cut := cutter.next_cut(start)) is not None:
        cuts.append(cut)
        start = cut
    return cuts
