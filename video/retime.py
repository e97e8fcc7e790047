"""Retime the picture of a talking-head video to its edited audio.

The audio edit produced a `TimeMap` (original time → edited time). This module turns it
into one `FrameRecipe` per output frame (`plan_retime`, pure and cheap: no pixels) and then
renders the recipes by streaming the source once (`iter_retimed`, `render_retimed`).

How each output frame at edited time t = k / fps is made:

- copy: t maps to an original time; the source frame with the nearest timestamp is shown
  unchanged (variable-frame-rate input works because the decoded times are used).
- dissolve (around a cut, `dissolve` seconds centred on it): two streams are blended. The
  "before" stream is the picture up to the cut and then runs on a little into the deleted
  stretch; the "after" stream runs into the cut from a little before its far side. Both
  stop at the middle of the deleted stretch, so every "before" frame precedes every
  "after" frame, and the before-weight falls along a half cosine from 1 to 0. With face
  landmarks for both frames the two are morphed toward the interpolated face (a
  piecewise-affine mesh over the face, a ring around the head and the fixed frame border)
  before the cross-fade, so the head slides instead of ghosting. Where a word was replaced
  (an insertion's hold ends at the cut, or starts from it) the face's shape slides over up
  to half that hold on each side of the cut, while the colours cross over only three
  frames in the middle: the head travels between the two poses at the clip's own pace
  instead of in five frames, and what the mesh cannot register (an earring) ghosts on one
  frame instead of three.
- hold (inside an insertion made at original time `at`): the source frames just before
  `at` are played backward and then forward again along a cosine path, slowed so the
  picture never moves faster than `hold_speed` x real time and never reaches further back
  than `hold_reach` seconds (long insertions swing several times). The path starts and
  ends at `at`, so the head moves continuously into and out of the insertion: no freeze
  and no jump. An insertion at the very start of the video swings forward instead.

Frames inside insertions, within `margin` seconds of every cut and insertion, and within a
replacement's slide are flagged `mouth`: speech changed there (or two pictures are
blended), so the lip-sync stage re-renders their mouths.
"""

from __future__ import annotations

import bisect
import logging
import math
import os
import time as _time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from retake.core.errors import RetakeError, VideoError
from retake.core.progress import Progress
from retake.video.geometry import STABLE, TEMPLATE, apply, forehead, umeyama
from retake.video.media import VideoWriter, probe, read_frames
from retake.video.track import FaceTrack

if TYPE_CHECKING:
    from retake.voice.timemap import TimeMap

log = logging.getLogger(__name__)

KINDS = ("copy", "dissolve", "hold")
_EPS = 1e-6


class RetimeError(RetakeError):
    """A retiming plan is impossible or does not fit the video it is applied to."""


@dataclass(frozen=True)
class FrameRecipe:
    """How to make one output frame.

    `sources` are source frame indices (decode order) and `weights` their blend weights
    (summing to 1). `original` is the original time the frame stands for (inside an
    insertion: the point on the hold path). `mouth`: speech changed here, re-render the
    mouth. `untouched`: an exact copy of a source frame, away from every edit. `shape`:
    where a dissolve's face geometry stands between its sources, when that is not where
    its colours are (empty: the same as `weights`); see `shape_weights`.
    """

    index: int
    time: float
    kind: str
    sources: tuple[int, ...]
    weights: tuple[float, ...]
    mouth: bool
    untouched: bool
    original: float
    shape: tuple[float, ...] = ()

    @property
    def shape_weights(self) -> tuple[float, ...]:
        """Blend weights of the sources' landmarks: the face the frame is warped to."""
        return self.shape or self.weights


@dataclass(frozen=True)
class _Cut:
    edited: float  # where the cut sits in the edited time line
    before: float  # original time the picture leaves
    after: float  # original time the picture resumes


@dataclass(frozen=True)
class _Hold:
    start: float  # edited time span of the insertion
    end: float
    at: float  # original time it was inserted at


def _events(knots: Sequence[tuple[float, float]]) -> tuple[list[_Cut], list[_Hold]]:
    """Cuts (horizontal steps) and holds (vertical steps) of a knot list, merged."""
    cuts: list[_Cut] = []
    holds: list[_Hold] = []
    for (o0, e0), (o1, e1) in zip(knots, knots[1:], strict=False):
        if o1 - o0 > _EPS and e1 - e0 <= _EPS:
            if cuts and abs(cuts[-1].edited - e0) <= _EPS and abs(cuts[-1].after - o0) <= _EPS:
                cuts[-1] = _Cut(cuts[-1].edited, cuts[-1].before, o1)
            else:
                cuts.append(_Cut(e0, o0, o1))
        elif e1 - e0 > _EPS and o1 - o0 <= _EPS:
            if holds and abs(holds[-1].end - e0) <= _EPS and abs(holds[-1].at - o0) <= _EPS:
                holds[-1] = _Hold(holds[-1].start, e1, o0)
            else:
                holds.append(_Hold(e0, e1, o0))
    return cuts, holds


def _hold_path(hold: _Hold, first: float, last: float, reach: float,
               speed: float) -> Callable[[float], float]:
    """Original time shown at edited time t inside `hold` (see the module docstring)."""
    length = hold.end - hold.start
    swings = max(1, math.ceil(speed * length / (math.pi * reach)))
    depth = speed * length / (math.pi * swings)  # peak speed of the cosine == `speed`
    room_back, room_fwd = hold.at - first, last - hold.at
    sign = -1.0 if room_back >= min(depth, room_fwd) else 1.0
    depth = max(0.0, min(depth, room_back if sign < 0 else room_fwd))

    def path(t: float) -> float:
        phase = 2 * math.pi * swings * (t - hold.start) / length
        return hold.at + sign * depth * (1 - math.cos(phase)) / 2

    return path


def _fade(x: float, length: float) -> float:
    """Half-cosine weight from 1 (x <= 0) down to 0 (x >= length)."""
    if length <= 0:
        return 1.0 if x < 0 else 0.0
    return 0.5 * (1 + math.cos(math.pi * min(max(x / length, 0.0), 1.0)))


def _merge(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Sorted, disjoint union of half-open intervals."""
    out: list[tuple[float, float]] = []
    for lo, hi in sorted(spans):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _nearest(times: np.ndarray, t: float) -> int:
    """Index of the timestamp nearest to t (ties go to the earlier frame)."""
    i = int(np.searchsorted(times, t))
    if i <= 0:
        return 0
    if i >= len(times):
        return len(times) - 1
    return i - 1 if t - times[i - 1] <= times[i] - t else i


def _reach(cuts: Sequence[_Cut], holds: Sequence[_Hold], ci: int, dissolve: float,
           longest: float, frame: float) -> tuple[float, float]:
    """(half, reach) of cut ci's transition, in edited seconds on each side of the cut.

    Colours cross over `half` on each side (a plain dissolve, shortened to fit between
    neighbouring cuts). The face's shape slides over `reach`: `half` too, unless a hold
    ends at the cut or starts from it (a replaced word: the new word's hold, then the old
    word cut). Then the head has to travel from the pose before the old word to the pose
    after it, and squeezed into a plain dissolve that slide ran 9-10 px a frame (the head
    points' mean; 11-14 px at the ear side) for three frames on a clip whose own head
    moves 6.4 px a frame at p90 over three frames: a quick zoom. So it takes up to half of
    that hold, at most `longest`, and as much on the other side of the cut. The hold's
    first half still swings. Both pictures are then warped to one face wherever they mix,
    so the colours need only hide the switch of what the mesh cannot register (an
    earring, loose hair): they cross over 1.5 frames (`frame` seconds each) on each side,
    one half-and-half frame, where a plain dissolve ghosted an earring on three.
    """
    c = cuts[ci]
    room = math.inf
    if ci > 0:
        room = (c.edited - cuts[ci - 1].edited) / 2
    if ci + 1 < len(cuts):
        room = min(room, (cuts[ci + 1].edited - c.edited) / 2)
    half = min(dissolve / 2, room)
    reach = half
    for h in holds:
        ends_here = abs(h.end - c.edited) <= _EPS and abs(h.at - c.before) <= _EPS
        starts_here = abs(h.start - c.edited) <= _EPS and abs(h.at - c.after) <= _EPS
        if ends_here or starts_here:
            reach = max(reach, min(longest, room, (h.end - h.start) / 2))
    if reach > half:
        half = min(half, 1.5 * frame)
    return half, reach


def plan_retime(timemap: TimeMap, source_times: Sequence[float], fps: Fraction | float,
                dissolve: float = 0.2, margin: float = 0.1, hold_reach: float = 1.0,
                hold_speed: float = 0.75, transition: float = 0.4) -> list[FrameRecipe]:
    """One recipe per output frame at times k / fps, k < round(edited_duration * fps).

    `source_times` are the decoded source frames'
    timestamps in seconds (see `source_frame_times`). `dissolve` is the transition length
    at each cut, `margin` how far around each edit mouths are flagged, `hold_reach` and
    `hold_speed` bound the hold path inside insertions. A cut next to an insertion (a
    replacement) slides the face over up to `transition` seconds on each side of it.
    Pure: reads no pixels.
    """
    times = np.asarray(source_times, float)
    if times.ndim != 1 or len(times) == 0:
        raise RetimeError("the source video has no frames to retime")
    if np.any(np.diff(times) < -_EPS):
        raise RetimeError("source frame times must be in increasing order")
    rate = Fraction(fps).limit_denominator(100000)
    if rate <= 0:
        raise RetimeError(f"frame rate must be positive, got {fps}")
    duration = timemap.edited_duration or (timemap.knots[-1][1] if timemap.knots else 0.0)
    count = round(duration * rate)
    if count <= 0:
        raise RetimeError("the edited recording is empty; there is no picture to make")
    cuts, holds = _events(timemap.knots)
    # Trims at either end join nothing: no transition, no mouth to mend.
    cuts = [c for c in cuts if 0 < c.edited < duration]
    paths = [_hold_path(h, times[0], times[-1], hold_reach, hold_speed) for h in holds]
    near = max(margin, dissolve / 2)
    spans = [_reach(cuts, holds, ci, dissolve, transition, float(1 / rate))
             for ci in range(len(cuts))]
    zones = _merge([(h.start - near, h.end + near) for h in holds]
                   + [(s.start - near, s.end + near) for s in timemap.inserted]
                   + [(c.edited - max(near, r), c.edited + max(near, r))
                      for c, (_, r) in zip(cuts, spans, strict=True)])
    zone_lo = [z[0] for z in zones]
    hold_at = [h.start for h in holds]
    cut_at = [c.edited for c in cuts]
    out_times = [float(k / rate) for k in range(count)]
    mapped = np.atleast_1d(timemap.to_original(np.array(out_times)))

    recipes: list[FrameRecipe] = []
    for k, t in enumerate(out_times):
        kind, orig = "copy", float(mapped[k])
        h = bisect.bisect_right(hold_at, t) - 1
        if h >= 0 and t < holds[h].end:
            kind, orig = "hold", paths[h](t)
        sources: tuple[int, ...] = (_nearest(times, orig),)
        weights: tuple[float, ...] = (1.0,)
        shape: tuple[float, ...] = ()
        j = bisect.bisect_left(cut_at, t)
        for ci in (j - 1, j):
            if not 0 <= ci < len(cuts):
                continue
            c = cuts[ci]
            half, reach = spans[ci]
            if half <= 0 or not c.edited - reach <= t < c.edited + reach:
                continue
            mid = (c.before + c.after) / 2
            if t < c.edited:
                a, b = orig, max(c.after + (t - c.edited), mid)
            else:
                a, b = min(c.before + (t - c.edited), mid), orig
            # The shape slides over the whole reach; the colours cross only over `half` at
            # its middle, so what the face mesh cannot register (an earring, loose hair)
            # ghosts on as few frames as possible.
            ga = _fade(t - c.edited + reach, 2 * reach)
            wa = _fade(t - c.edited + half, 2 * half)
            ia, ib = _nearest(times, a), _nearest(times, b)
            if ia == ib or max(wa, ga) <= 1e-3 or min(wa, ga) >= 1 - 1e-3:
                sources = (ia if wa >= 0.5 else ib,)
            else:
                kind, sources, weights = "dissolve", (ia, ib), (wa, 1.0 - wa)
                shape = (ga, 1.0 - ga) if abs(ga - wa) > 1e-9 else ()
                orig = a if wa >= 0.5 else b
            break
        z = bisect.bisect_right(zone_lo, t) - 1
        mouth = z >= 0 and t < zones[z][1]
        recipes.append(FrameRecipe(k, t, kind, sources, weights, mouth,
                                   kind == "copy" and not mouth, orig, shape))
    return recipes


def output_times(recipes: Sequence[FrameRecipe]) -> list[float]:
    """The output frames' times in seconds."""
    return [r.time for r in recipes]


def mouth_frames(recipes: Sequence[FrameRecipe]) -> list[int]:
    """Output frame indices whose mouth must be re-rendered."""
    return [r.index for r in recipes if r.mouth]


def source_frame_times(path: str | os.PathLike) -> list[float]:
    """Presentation times of a video's frames in decode order, read from packets (fast).

    Falls back to decoding when a packet has no timestamp.
    """
    import av

    from retake.video.media import _open

    container = _open(path)
    try:
        stream = container.streams.video[0]
        tb = stream.time_base
        pts: list[int] = []
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            if packet.pts is None:
                pts = []
                break
            pts.append(packet.pts)
    except av.error.FFmpegError:
        pts = []
    finally:
        container.close()
    if pts:
        return [float(p * tb) for p in sorted(pts)]
    return [f.time for f in read_frames(path)]


# --------------------------------------------------------------------------- pixels

# A ring around the head in template units (jaw spans x 0..1, brow top at y 0): moves
# with the head's similarity so hair and neck follow the face.
_RING = np.array([(0.5 + 1.05 * math.cos(a), 0.35 + 1.15 * math.sin(a))
                  for a in np.linspace(0, 2 * math.pi, 16, endpoint=False)])


def _border(width: int, height: int, per_side: int = 4) -> np.ndarray:
    """Fixed points along the frame's edge (corners included)."""
    xs = np.linspace(0, width - 1, per_side + 1)
    ys = np.linspace(0, height - 1, per_side + 1)
    pts = [(x, 0.0) for x in xs] + [(x, height - 1.0) for x in xs]
    pts += [(0.0, y) for y in ys[1:-1]] + [(width - 1.0, y) for y in ys[1:-1]]
    return np.array(pts, float)


def _mesh(landmarks: np.ndarray) -> np.ndarray:
    """Moving mesh vertices of one face: 68 landmarks, 10 forehead points, head ring."""
    to_frame = umeyama(TEMPLATE[STABLE], landmarks[STABLE])
    return np.vstack([landmarks, forehead(landmarks), apply(to_frame, _RING)])


def _warp(img: np.ndarray, src: np.ndarray, dst: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """Piecewise-affine warp: the output has triangle `tri` of `dst` where `img` had `src`.

    The displacement is piecewise linear, so it is computed on a grid about 270 cells high
    and upsampled bilinearly: a full-HD frame warps in tens of milliseconds.
    """
    import cv2

    h, w = img.shape[:2]
    step = max(1, min(h, w) // 270)
    gh, gw = -(-h // step), -(-w // step)
    ids = np.full((gh, gw), -1, np.int32)
    maps = np.zeros((len(tri) + 1, 2, 3), np.float32)
    maps[-1] = [[1, 0, 0], [0, 1, 0]]  # uncovered cells sample themselves
    for k, corners in enumerate(tri):
        d = dst[corners].astype(np.float32)
        maps[k] = cv2.getAffineTransform(d, src[corners].astype(np.float32))
        cell = (d + 0.5) / step - 0.5  # coarse cell (i, j) stands for its centre pixel
        cv2.fillConvexPoly(ids, np.round(cell * 16).astype(np.int32), int(k), shift=4)
    gy, gx = np.mgrid[0:gh, 0:gw].astype(np.float32)
    gx, gy = (gx + 0.5) * step - 0.5, (gy + 0.5) * step - 0.5
    m = maps[ids]  # -1 picks the identity row
    dx = m[..., 0, 0] * gx + m[..., 0, 1] * gy + m[..., 0, 2] - gx
    dy = m[..., 1, 0] * gx + m[..., 1, 1] * gy + m[..., 1, 2] - gy
    if step > 1:
        size = (gw * step, gh * step)
        dx = cv2.resize(dx, size, interpolation=cv2.INTER_LINEAR)[:h, :w]
        dy = cv2.resize(dy, size, interpolation=cv2.INTER_LINEAR)[:h, :w]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return cv2.remap(img, xx + dx, yy + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _signed_areas(pts: np.ndarray, tri: np.ndarray) -> np.ndarray:
    a, b, c = pts[tri[:, 0]], pts[tri[:, 1]], pts[tri[:, 2]]
    return (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])


def crossfade(a: np.ndarray, b: np.ndarray, weight_a: float) -> np.ndarray:
    """Plain cross-fade of two RGB uint8 frames; `weight_a` is a's share."""
    out = a.astype(np.float32) * weight_a + b.astype(np.float32) * (1 - weight_a)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def morph(a: np.ndarray, b: np.ndarray, la: np.ndarray, lb: np.ndarray,
          weight_a: float, shape_a: float | None = None) -> tuple[np.ndarray, str]:
    """Blend two frames of one face so the head moves instead of ghosting.

    Both frames are warped toward the interpolated landmarks (`shape_a` of a's, by default
    `weight_a`): a piecewise-affine mesh over the face, a ring around the head that follows
    its similarity, and the frame border held still; then they are cross-faded, `weight_a`
    of a's colours. Where the mesh would fold (large motion) the whole frame is warped by
    the head's similarity. Returns the frame and the method used ("mesh" or "similarity").
    """
    import cv2

    la, lb = np.asarray(la, float), np.asarray(lb, float)
    shape_a = weight_a if shape_a is None else shape_a
    lm = shape_a * la + (1 - shape_a) * lb
    h, w = a.shape[:2]
    mesh = _fit_mesh([_mesh(la), _mesh(lb), _mesh(lm)], w, h)
    if mesh is not None:
        (pa, pb, pm), tri = mesh
        return crossfade(_warp(a, pa, pm, tri), _warp(b, pb, pm, tri), weight_a), "mesh"
    ma = umeyama(la[STABLE], lm[STABLE])
    mb = umeyama(lb[STABLE], lm[STABLE])
    wa = cv2.warpAffine(a, ma, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    wb = cv2.warpAffine(b, mb, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return crossfade(wa, wb, weight_a), "similarity"


def _fit_mesh(sets: list[np.ndarray], width: int, height: int,
              ) -> tuple[list[np.ndarray], np.ndarray] | None:
    """Vertices (frame a, frame b, target) plus the fixed border, and triangles that fold
    in neither frame; ring points that would fold are dropped. None when the face folds.
    """
    from scipy.spatial import Delaunay

    n_face = 78  # landmarks + forehead; the rest is the head ring
    keep = np.ones(len(sets[0]), bool)
    for p in sets:
        keep &= (p[:, 0] > 1) & (p[:, 0] < width - 2) & (p[:, 1] > 1) & (p[:, 1] < height - 2)
    if keep[STABLE].sum() < 30:
        return None
    border = _border(width, height)
    for _ in range(4):
        pts = [np.vstack([p[keep], border]) for p in sets]
        tri = Delaunay(pts[2]).simplices
        area = _signed_areas(pts[2], tri)
        tri, area = tri[np.abs(area) > 0.5], area[np.abs(area) > 0.5]
        bad = np.zeros(len(tri), bool)
        for p in pts[:2]:
            other = _signed_areas(p, tri)
            bad |= (np.sign(other) != np.sign(area)) & (np.abs(other) > 0.5)
        if not bad.any():
            return pts, tri
        moving = np.nonzero(keep)[0]  # vertex number -> mesh point number
        for t in tri[bad]:
            points = [int(moving[v]) for v in t if v < len(moving)]
            # Drop the ring points of a folding triangle, else its forehead points; a fold
            # among the landmarks themselves cannot be mended.
            drop = [q for q in points if q >= n_face] or [q for q in points if q >= 68]
            if not drop:
                return None
            keep[drop] = False
    return None


class _FrameStore:
    """Source frames for the recipes, decoded once, kept only while a later recipe needs them.

    At most `capacity` frames are held; when more would be, the one needed furthest in the
    future is dropped and decoded again if it is asked for (a logged, slow path).
    """

    def __init__(self, path: str | os.PathLike, recipes: Sequence[FrameRecipe],
                 capacity: int) -> None:
        self.path = path
        self.capacity = max(capacity, 4)
        self.uses: dict[int, list[int]] = {}
        for k, r in enumerate(recipes):
            for i in r.sources:
                u = self.uses.setdefault(i, [])
                if not u or u[-1] != k:
                    u.append(k)
        self.frames: dict[int, np.ndarray] = {}
        self.reader = read_frames(path)
        self.decoded = 0  # index of the next frame the reader yields
        self.redecoded = 0
        self.peak = 0

    def _next_use(self, i: int, k: int) -> float:
        u = self.uses.get(i, [])
        j = bisect.bisect_left(u, k)
        return u[j] if j < len(u) else math.inf

    def _evict(self, k: int, keep: Sequence[int]) -> None:
        while len(self.frames) > self.capacity:
            victim = max((i for i in self.frames if i not in keep),
                         key=lambda i: self._next_use(i, k), default=None)
            if victim is None:
                return
            del self.frames[victim]

    def _missing(self, i: int) -> VideoError:
        return VideoError(f"{self.path}: the plan needs frame {i} but the video has only "
                          f"{self.decoded} frames; plan with this video's frame times "
                          "(source_frame_times)")

    def get(self, k: int, sources: Sequence[int]) -> list[np.ndarray]:
        """The pixels of `sources` for recipe number k."""
        for i in sources:
            if i in self.frames:
                continue
            if i < self.decoded:
                log.warning("%s: frame %d left the buffer; decoding it again (slow)",
                            self.path, i)
                self.redecoded += 1
                found = next(read_frames(self.path, start=i), None)
                if found is None or found.index != i:
                    raise self._missing(i)
                self.frames[i] = found.rgb
                continue
            while self.decoded <= i:
                fr = next(self.reader, None)
                if fr is None:
                    raise self._missing(i)
                self.decoded = fr.index + 1
                if self._next_use(fr.index, k) < math.inf:
                    self.frames[fr.index] = fr.rgb
                    self._evict(k, sources)
        self.peak = max(self.peak, len(self.frames))
        return [self.frames[i] for i in sources]

    def release(self, k: int) -> None:
        """Drop every frame no recipe after number k needs."""
        for i in [i for i in self.frames if self._next_use(i, k + 1) == math.inf]:
            del self.frames[i]

    def close(self) -> None:
        self.reader.close()


@dataclass
class RetimeStats:
    """What rendering did: frames made, how dissolves were blended, buffer use."""

    frames: int = 0
    mesh: int = 0
    similarity: int = 0
    crossfade: int = 0
    redecoded: int = 0
    peak_buffer: int = 0


def iter_retimed(video_path: str | os.PathLike, recipes: Sequence[FrameRecipe],
                 track: FaceTrack | None = None, buffer_seconds: float = 3.0,
                 stats: RetimeStats | None = None,
                 ) -> Iterator[tuple[int, float, np.ndarray, FrameRecipe]]:
    """Yield (out_index, time, rgb, recipe) for each recipe, streaming the source once.

    Each rgb is a fresh array the caller may modify (the lip-sync stage replaces mouths
    before writing). Copy and hold frames are the source pixels exactly. At most
    `buffer_seconds` of source frames are held in memory.
    """
    info = probe(video_path)
    capacity = math.ceil(buffer_seconds * float(info.fps or 25))
    store = _FrameStore(video_path, recipes, capacity)
    stats = stats if stats is not None else RetimeStats()
    try:
        for k, r in enumerate(recipes):
            if r.kind not in KINDS:
                raise RetimeError(f"frame {r.index}: unknown recipe kind {r.kind!r}")
            pix = store.get(k, r.sources)
            if len(pix) == 1:
                rgb = pix[0].copy()
            elif len(pix) == 2:
                la = track.at(r.sources[0]) if track is not None else None
                lb = track.at(r.sources[1]) if track is not None else None
                if la is not None and lb is not None:
                    rgb, how = morph(pix[0], pix[1], la, lb, r.weights[0],
                                     r.shape_weights[0])
                else:
                    rgb, how = crossfade(pix[0], pix[1], r.weights[0]), "crossfade"
                setattr(stats, how, getattr(stats, how) + 1)
            else:
                acc = sum(p.astype(np.float32) * wt for p, wt in
                          zip(pix, r.weights, strict=True))
                rgb = np.clip(np.round(acc), 0, 255).astype(np.uint8)
                stats.crossfade += 1
            store.release(k)
            stats.frames += 1
            stats.redecoded, stats.peak_buffer = store.redecoded, store.peak
            yield r.index, r.time, rgb, r
    finally:
        store.close()


@dataclass
class RetimeResult:
    """A rendered retiming: output frame times, which frames need a new mouth, stats."""

    times: list[float] = field(default_factory=list)
    mouth: list[int] = field(default_factory=list)
    stats: RetimeStats = field(default_factory=RetimeStats)
    seconds: float = 0.0


def render_retimed(video_path: str | os.PathLike, recipes: Sequence[FrameRecipe],
                   out_path: str | os.PathLike, fps: Fraction | float,
                   audio: tuple[np.ndarray, int] | None = None,
                   track: FaceTrack | None = None,
                   progress: Progress | None = None,
                   metadata: dict[str, str] | None = None) -> RetimeResult:
    """Render the recipes to an h264 + aac mp4 at `out_path` (atomically), with `audio`.

    `progress('rendering', done, total)` is called after each frame.
    """
    if not recipes:
        raise RetimeError("nothing to render: the plan has no frames")
    t0 = _time.perf_counter()
    info = probe(video_path)
    result = RetimeResult(output_times(recipes), mouth_frames(recipes))
    with VideoWriter(out_path, fps, info.width, info.height, audio=audio,
                     metadata=metadata) as writer:
        for k, t, rgb, _ in iter_retimed(video_path, recipes, track, stats=result.stats):
            writer.write(rgb, t)
            if progress:
                progress("rendering", k + 1, len(recipes))
    result.seconds = _time.perf_counter() - t0
    return result
