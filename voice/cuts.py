"""Where to cut a recording: between words, mid-pause where there is a pause; where words
run into each other, at quiet, equally loud frames with a phase-matched crossfade.

`Cuts` answers for one recording and its spoken words (voice.assembly.old_words).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from retake.voice.analysis import Recording

if TYPE_CHECKING:
    from retake.voice.assembly import OldWord

PAUSE_S = 0.06  # a gap at least this long between two words is a pause to cut in
CUT_FADE_S = 0.02  # crossfade where a deletion joins two kept stretches
CUT_SEARCH_S = 0.04  # how far from a fused word boundary a deletion looks for a quiet frame


class Cuts:
    """Cut points between the spoken words `old` of recording `rec`."""

    def __init__(self, rec: Recording, old: list[OldWord]) -> None:
        self.rec, self.old = rec, old
        self.sr = rec.sample_rate

    def boundary(self, i: int) -> float:
        """Where to cut between old word i and i+1 (seconds): mid-pause, or the quietest
        point near the junction."""
        if i < 0:
            return 0.0
        if i >= len(self.old) - 1:
            return self.rec.duration
        e0, s1 = self.old[i].end, self.old[i + 1].start
        if s1 - e0 >= PAUSE_S:
            return (e0 + s1) / 2
        return self.quiet(min(e0, s1), 0.015)

    def quiet(self, t: float, radius: float) -> float:
        """The quietest sample time within `radius` s of `t` (a 1 ms window)."""
        from retake.voice.render import _cut

        return _cut(self.rec, t, radius) / self.sr

    def fused(self, i: int) -> bool:
        """Whether old words i and i+1 run into each other (no pause to cut in)."""
        if i < 0 or i >= len(self.old) - 1:
            return False
        return self.old[i + 1].start - self.old[i].end < PAUSE_S

    def _cut_frames(self, i: int) -> list[int]:
        """Candidate 10 ms frames to cut at between old words i and i+1: within
        `CUT_SEARCH_S` of their boundary (never past the middle of either word) where they
        are fused, else the one frame of the usual boundary (mid-pause)."""
        rec = self.rec
        if not self.fused(i):
            return [rec.frame(self.boundary(i))]
        a, b = self.old[i], self.old[i + 1]
        t = (a.end + b.start) / 2
        lo = max(t - CUT_SEARCH_S, (a.start + a.end) / 2)
        hi = min(t + CUT_SEARCH_S, (b.start + b.end) / 2)
        f0, f1 = rec.frame(lo), rec.frame(hi)
        return list(range(f0, f1 + 1)) if f1 > f0 else [rec.frame(self.boundary(i))]

    def deletion(self, i0: int, i1: int) -> tuple[float, float]:
        """Where to cut out old words [i0, i1) between two kept stretches: mid-pause where
        there is one; where words are fused, the pair of frames near the two boundaries
        that are quiet and as loud as each other (a stop's closure, a weak fricative, the
        same level on both sides), so the join steps no more than speech does. The resume
        point is then moved by up to a pitch period so the two sides overlap in phase
        (WSOLA): the `CUT_FADE_S` crossfade never pits a voiced period against its
        opposite."""
        if not (self.fused(i0 - 1) or self.fused(i1 - 1)):
            return self.boundary(i0 - 1), self.boundary(i1 - 1)
        e = self.rec.energy
        last = len(e) - 1
        lefts, rights = self._cut_frames(i0 - 1), self._cut_frames(i1 - 1)
        floor = min(float(e[lefts].min()), float(e[rights].min()))
        best = min((abs(e[max(fa - 1, 0)] - e[min(fr + 1, last)])
                     + 0.25 * ((e[fa] + e[fr]) / 2 - floor), fa, fr)
                    for fa in lefts for fr in rights)
        t_at = self.quiet((best[1] + 0.5) * 0.01, 0.005)
        t_res = self.quiet((best[2] + 0.5) * 0.01, 0.005)
        return t_at, t_res + self._phase_shift(t_at, t_res)

    def _phase_shift(self, t_at: float, t_res: float, max_s: float = 0.008) -> float:
        """The shift of the resume point (within ±max_s) whose surroundings best match the
        audio around the cut (normalised cross-correlation over one crossfade)."""
        x, sr = self.rec.samples, self.sr
        h, m = int(CUT_FADE_S * sr / 2), int(max_s * sr)
        a, b = int(t_at * sr), int(t_res * sr)
        if a - h < 0 or b - h - m < 0 or a + h > len(x) or b + h + m > len(x):
            return 0.0
        ref = x[a - h:a + h].astype(np.float64)
        seg = x[b - h - m:b + h + m].astype(np.float64)
        corr = np.correlate(seg, ref, mode="valid")
        energy = np.convolve(seg ** 2, np.ones(2 * h), mode="valid")
        score = corr / np.sqrt(energy * float(ref @ ref) + 1e-12)
        return (int(np.argmax(score)) - m) / sr
