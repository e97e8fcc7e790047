"""TimeMap: where each moment of the original recording ends up in the edited one.

It is the contract between `voice/` and `video/`: the picture is retimed with it. The map is
monotone and piecewise linear from original time to edited time. Deleted stretches collapse
to a point; inserted stretches (new or re-used speech) exist only in the edited time line and
are listed in `inserted`, with what fills them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass
class Inserted:
    """A stretch of the edited recording that has no original counterpart."""

    start: float  # edited time, seconds
    end: float
    at: float  # original time at which it was inserted
    text: str = ""
    source: str = "synthesized"  # "synthesized" | "reused"


@dataclass
class TimeMap:
    """Monotone piecewise-linear map from original to edited time (seconds).

    `knots` are (original, edited) pairs with both coordinates non-decreasing; between
    knots time runs linearly. A vertical step (same original time, later edited time) is an
    insertion; a horizontal step (later original time, same edited time) is a deletion.
    """

    knots: list[tuple[float, float]]
    inserted: list[Inserted] = field(default_factory=list)
    original_duration: float = 0.0
    edited_duration: float = 0.0

    def __post_init__(self) -> None:
        o = [k[0] for k in self.knots]
        e = [k[1] for k in self.knots]
        if any(b < a - 1e-9 for a, b in zip(o, o[1:], strict=False)) or any(
            b < a - 1e-9 for a, b in zip(e, e[1:], strict=False)
        ):
            raise ValueError("TimeMap knots must be non-decreasing in both times")

    @classmethod
    def identity(cls, duration: float) -> TimeMap:
        """The map of an unedited recording."""
        return cls([(0.0, 0.0), (duration, duration)], [], duration, duration)

    def _map(self, t: float | np.ndarray, to_edited: bool) -> float | np.ndarray:
        """Piecewise-linear lookup along the knots, in either direction.

        Where the source axis repeats (an insertion seen from original time, a deletion
        seen from edited time) the later knot wins: the point after the step.
        """
        o = np.array([k[0] for k in self.knots])
        e = np.array([k[1] for k in self.knots])
        src, dst = (o, e) if to_edited else (e, o)
        idx = np.clip(np.searchsorted(src, t, side="right") - 1, 0, len(src) - 2)
        s0, s1, d0, d1 = src[idx], src[idx + 1], dst[idx], dst[idx + 1]
        span = np.where(s1 > s0, s1 - s0, 1.0)
        frac = np.clip((np.asarray(t) - s0) / span, 0.0, 1.0)
        out = np.where(s1 > s0, d0 + frac * (d1 - d0), d1)
        return float(out) if np.ndim(out) == 0 else out

    def to_edited(self, t: float | np.ndarray) -> float | np.ndarray:
        """Edited time of original time `t` (the end of any insertion made at `t`)."""
        return self._map(t, to_edited=True)

    def to_original(self, t: float | np.ndarray) -> float | np.ndarray:
        """Original time of edited time `t`; inside an insertion, its insertion point."""
        return self._map(t, to_edited=False)

    def is_inserted(self, t: float) -> bool:
        """Whether edited time `t` lies in an inserted stretch."""
        return any(s.start <= t < s.end for s in self.inserted)

    def to_json(self) -> str:
        """JSON with format marker, for the video stage and for users."""
        d = asdict(self)
        d["format"] = "retake.timemap"
        return json.dumps(d, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> TimeMap:
        """Inverse of `to_json`."""
        d = json.loads(text)
        if d.get("format") != "retake.timemap":
            raise ValueError("not a Retake time map")
        return cls([tuple(k) for k in d["knots"]], [Inserted(**s) for s in d["inserted"]],
                   d["original_duration"], d["edited_duration"])
