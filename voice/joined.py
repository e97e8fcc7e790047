"""An edit's audio as a join of pieces, computed a stretch at a time.

`render.concatenate` builds a whole join in one array: for an edit of a long recording that
is a second copy of the recording (318 MB for an hour at 22 kHz in float32). `Joined` holds
the pieces instead (views of the recording's kept stretches and the new speech) and gives any
stretch of the join on demand, with the same arithmetic, so a long edit is checked,
watermarked and written to disk block by block. What is written into it (the watermark) is
kept as patches over it, applied in order.
"""

from __future__ import annotations

import numpy as np

from retake.voice.render import XFADE_S, Padded, _fade


class Joined:
    """What `concatenate(pieces, sample_rate, xfade_s, fades)[start:stop]` would hold,
    without holding it: slicing gives float32 arrays, slice assignment patches it, and
    `np.asarray` builds the whole array."""

    def __init__(self, pieces: list, sample_rate: int, xfade_s: float = XFADE_S,
                 fades: list[float] | None = None) -> None:
        self.pieces = list(pieces)
        self.starts, self.overlaps = [0], [0]  # where each piece begins in the join
        size = len(self.pieces[0])
        for k, p in enumerate(self.pieces[1:]):
            n = max(1, int((fades[k] if fades else xfade_s) * sample_rate))
            m = min(n, size, len(p))
            self.starts.append(size - m)
            self.overlaps.append(m)
            size += len(p) - m
        self.start, self.stop = 0, size
        self.patches: list[tuple[int, np.ndarray]] = []  # (position in the join, values)

    # -- the array interface the edit's checks and writers use --------------------------

    dtype = np.dtype(np.float32)
    ndim = 1

    @property
    def shape(self) -> tuple[int]:
        return (len(self),)

    def __len__(self) -> int:
        return self.stop - self.start

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self[:]
        return out if dtype is None else out.astype(dtype, copy=False)

    def __getitem__(self, index: slice) -> np.ndarray:
        if not isinstance(index, slice):
            raise TypeError("a Joined is read by slices")
        a, b, step = index.indices(len(self))
        out = self._window(self.start + a, self.start + max(a, b))
        return out if step == 1 else out[::step]

    def __setitem__(self, index: slice, values) -> None:
        if not isinstance(index, slice):
            raise TypeError("a Joined is written by slices")
        a, b, step = index.indices(len(self))
        if step != 1:
            raise TypeError("a Joined is written by contiguous slices")
        values = np.broadcast_to(np.asarray(values, np.float32), (max(0, b - a),)).copy()
        self.patches.append((self.start + a, values))

    def crop(self, index: slice) -> Joined:
        """The join's stretch `index` (a contiguous slice, clamped as numpy clamps)."""
        a, b, step = index.indices(len(self))
        if step != 1:
            raise TypeError("a Joined is cropped by contiguous slices")
        out = object.__new__(Joined)
        out.pieces, out.starts, out.overlaps = self.pieces, self.starts, self.overlaps
        out.start, out.stop = self.start + a, self.start + max(a, b)
        out.patches = list(self.patches)
        return out

    # -- the join itself ------------------------------------------------------------------

    def _window(self, lo: int, hi: int) -> np.ndarray:
        """Samples [lo, hi) of the whole join: `concatenate`'s writes, clipped to the window
        (each output sample depends only on what was written at the same place before)."""
        out = np.empty(hi - lo, np.float32)
        if hi <= lo:
            return out
        for p, s, m in zip(self.pieces, self.starts, self.overlaps, strict=True):
            end = s + len(p)
            if end <= lo or s >= hi:
                continue
            c0, c1 = max(lo, s), min(hi, s + m)  # the crossfade into this piece
            if c1 > c0:
                f_in, f_out = _fade(m)
                j0, j1 = c0 - s, c1 - s
                out[c0 - lo:c1 - lo] = (out[c0 - lo:c1 - lo] * f_out[j0:j1]
                                        + p[j0:j1].astype(np.float32) * f_in[j0:j1])
            c0, c1 = max(lo, s + m), min(hi, end)  # the rest of it
            if c1 > c0:
                if isinstance(p, Padded):
                    p._into(c0 - s, out[c0 - lo:c1 - lo])
                else:
                    out[c0 - lo:c1 - lo] = p[c0 - s:c1 - s]
        for at, values in self.patches:
            c0, c1 = max(lo, at), min(hi, at + len(values))
            if c1 > c0:
                out[c0 - lo:c1 - lo] = values[c0 - at:c1 - at]
        return out


def materialize(samples) -> np.ndarray:
    """`samples` as one float32 array (a `Joined` built, an array as it is)."""
    return np.asarray(samples) if isinstance(samples, Joined) else samples
