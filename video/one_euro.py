"""The One Euro filter (Casiez, Roussel, Vogel, CHI 2012): causal smoothing for live tracking.

A first-order low-pass whose cutoff rises with the signal's speed: at rest the cutoff is
`min_cutoff` (Hz), so dlib's frame-to-frame landmark noise is smoothed away; moving, it is
`min_cutoff + beta * |speed|`, so a turning head is followed with little lag. The speed is
itself low-passed at `d_cutoff`. Works element-wise on arrays of any shape (e.g. (68, 2)
landmarks); `min_cutoff` may be an array broadcast against them (looser for eyes and mouth).
"""

from __future__ import annotations

import math

import numpy as np


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    """Smoothing factor of a first-order low-pass at `cutoff` Hz for a step of `dt` s."""
    tau = 1.0 / (2 * math.pi * np.asarray(cutoff, float))
    return 1.0 / (1.0 + tau / dt)


class OneEuro:
    """One Euro filter over arrays; call with each new sample and its time in seconds."""

    def __init__(self, min_cutoff: float | np.ndarray = 1.0, beta: float = 0.0,
                 d_cutoff: float = 1.0) -> None:
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.reset()

    def reset(self) -> None:
        """Forget the past (a lost and re-found track starts afresh)."""
        self.x: np.ndarray | None = None
        self.dx: np.ndarray | None = None
        self.t: float | None = None

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        """The filtered value of sample `x` taken at `t` seconds."""
        x = np.asarray(x, float)
        if self.x is None or self.t is None or t <= self.t:
            if self.x is None or self.t is None:
                self.x, self.dx, self.t = x.copy(), np.zeros_like(x), t
            return self.x.copy()
        dt = t - self.t
        dx = (x - self.x) / dt
        self.dx = self.dx + _alpha(self.d_cutoff, dt) * (dx - self.dx)
        cutoff = self.min_cutoff + self.beta * np.abs(self.dx)
        self.x = self.x + _alpha(cutoff, dt) * (x - self.x)
        self.t = t
        return self.x.copy()


__all__ = ["OneEuro"]
