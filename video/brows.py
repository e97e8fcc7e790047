"""Brows found in the picture: dlib's 68-point model puts a raised brow where a resting one
would be (it regresses toward its mean face), often 0.2-0.4 inter-ocular distances below
the hair. A swap rendered to those points draws the photo's brows too low and leaves the
target's own raised brows showing above them (a double brow), and loses the raise.

`refine_brows` looks along the face's up direction (perpendicular to the eye line) for
each brow's hair: a band darker than the skin both above and below it, following the
brow's own curve, and moves that brow's five points onto it. A band counts when it is at
least `CONTRAST` L* darker than both sides and `NEAR` of the strongest band in reach;
of those, the one nearest dlib's points wins, so a correct fit stays put and a fringe's
shadow above a visible brow is not taken for it. Low-contrast brows (white or fair hair on
light skin) find no band and keep dlib's points. Each point then follows the hair's own
curve (`_point_offsets`): dlib draws every brow near its mean shape, so a worried brow's
steeply raised inner head stayed under the points.
"""

from __future__ import annotations

import numpy as np

from retake.video.expression import FaceSeries
from retake.video.geometry import LEFT_EYE, RIGHT_EYE, inter_ocular

STEP = 0.01  # the profile's step (inter-ocular distances)
# How far below / above dlib's points a band's centre may be: dlib misplaces raised brows
# downward (up to 0.4 inter-ocular); it hardly ever puts a dark brow too high, and below
# its points a wide-open eye's mascara is a band too.
REACH = (-0.10, 0.45)
HALF_WIDTHS = (0.02, 0.03, 0.05, 0.07)  # the band half-widths tried
SIDE = (0.02, 0.10)  # the skin compared with: this far beyond each edge of the band
CONTRAST = 8.0  # L*: the least a band must be darker than both sides
NEAR = 0.6  # share of the strongest band's contrast that still counts
DLIB_OFFSET = 0.05  # on a correct fit dlib's brow points lie this far above the band centre
LID_CLEARANCE = 0.06  # a band's centre stays this far above the upper lids
EACH_BROW = (slice(17, 22), slice(22, 27))
UNEVEN = 1.0  # the cost of one brow moving further than the other (see `_choose`)
POINT_REACH = 0.20  # a brow point may go this much further than its brow's shift...
POINT_SPAN = 0.05  # ...reading the band over this much of the brow either side of it
POINT_BEND = 0.08  # and lie at most this far off its neighbours' mean


def face_up(landmarks: np.ndarray) -> np.ndarray:
    """Unit vector pointing up the face (perpendicular to the line between the eyes)."""
    p = np.asarray(landmarks, float)
    v = p[RIGHT_EYE].mean(0) - p[LEFT_EYE].mean(0)
    v = v / (np.linalg.norm(v) + 1e-9)
    return np.array([v[1], -v[0]])


def brow_heights(landmarks: np.ndarray, over: str = "corners") -> np.ndarray:
    """Each brow's height (image-left, right; inter-ocular distances, up the face) above
    its eye's corners (`over="corners"`: they hold still as the eye opens, so this is the
    brow's own raise) or above its upper lid (`"lids"`: the room between brow and eye)."""
    p = np.asarray(landmarks, float)
    up, iod = face_up(p), max(inter_ocular(p), 1e-6)
    out = []
    for brow, eye in zip(EACH_BROW, (LEFT_EYE, RIGHT_EYE), strict=True):
        e = p[eye] @ up
        base = float(e[[0, 3]].mean()) if over == "corners" else float(e[1:3].max())
        out.append((float((p[brow] @ up).mean()) - base) / iod)
    return np.array(out)


def point_heights(landmarks: np.ndarray) -> np.ndarray:
    """Each brow point's height (17-26; inter-ocular distances, up the face) above its
    eye's corners: `brow_heights` point by point, so a brow's shape shows (a worried
    brow's inner heads, a frown's)."""
    p = np.asarray(landmarks, float)
    up, iod = face_up(p), max(inter_ocular(p), 1e-6)
    return np.concatenate([(p[brow] @ up - float((p[eye] @ up)[[0, 3]].mean())) / iod
                           for brow, eye in zip(EACH_BROW, (LEFT_EYE, RIGHT_EYE),
                                                strict=True)])


class RestingBrows(FaceSeries):
    """Where each face's brows rest: the median of each brow point's height
    (`point_heights`) over the last `window` renders of that face (about three seconds),
    face by face. A point's raise is its height now less its resting height (a frown:
    below 0). None until a face has `least` frames (a still has no resting height)."""

    def __init__(self, window: int = 75, least: int = 5, forget: int = 50) -> None:
        super().__init__(window, least, forget)

    def update(self, landmarks: np.ndarray) -> np.ndarray | None:
        """Record this face's brows; each brow point's raise now (10,) or None."""
        heights = point_heights(landmarks)
        recent = self.add(landmarks, list(heights))
        return None if recent is None else heights - np.median(recent, axis=0)


def _samples(brow: np.ndarray) -> np.ndarray:
    """Points along a brow's curve (its landmarks and midpoints), without its two ends."""
    pts = [brow[0]]
    for a, b in zip(brow[:-1], brow[1:], strict=True):
        pts += [(a + b) / 2, b]
    return np.array(pts[1:-1])


def _window_means(profile: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Mean of profile[lo:hi+1] for arrays of index bounds (clipped to the profile); a 2-D
    profile holds one profile per column."""
    c = np.concatenate([np.zeros((1, *profile.shape[1:])), np.cumsum(profile, axis=0)])
    lo = np.clip(lo, 0, len(profile) - 1)
    hi = np.clip(hi, lo, len(profile) - 1)
    count = (hi - lo + 1).reshape(-1, *([1] * (profile.ndim - 1)))
    return (c[hi + 1] - c[lo]) / count


def band_contrast(profile: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """For each centre in `ts`, the best contrast (L*) of a dark band there over its sides
    (a 2-D profile: each column on its own)."""
    best = np.full(profile.shape, -np.inf)
    n = np.arange(len(ts))
    near, far = (int(round(s / STEP)) for s in SIDE)
    for hw in HALF_WIDTHS:
        k = int(round(hw / STEP))
        inside = _window_means(profile, n - k, n + k)
        above = _window_means(profile, n + k + near, n + k + far)
        below = _window_means(profile, n - k - far, n - k - near)
        ok = ((n - k - far >= 0) & (n + k + far < len(ts))).reshape(
            -1, *([1] * (profile.ndim - 1)))
        best = np.where(ok, np.maximum(best, np.minimum(above, below) - inside), best)
    return best


def _lightness_crop(rgb: np.ndarray, landmarks: np.ndarray, iod: float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """L* (0..100, float32) of the box around the brows and eyes, and its top-left corner."""
    import cv2

    p = np.asarray(landmarks, float)
    sel = np.vstack([p[17:27], p[36:48]])
    pad = (REACH[1] + max(HALF_WIDTHS) + SIDE[1] + 0.1) * iod
    h, w = rgb.shape[:2]
    x0, y0 = np.floor(sel.min(0) - pad).astype(int).clip(0)
    x1 = int(min(np.ceil(sel[:, 0].max() + pad), w))
    y1 = int(min(np.ceil(sel[:, 1].max() + pad), h))
    crop = np.ascontiguousarray(rgb[y0:y1, x0:x1])
    if crop.size == 0:
        return np.zeros((1, 1), np.float32), np.array([x0, y0], float)
    lab = cv2.cvtColor(crop, cv2.COLOR_RGB2LAB)
    return lab[..., 0].astype(np.float32) * (100 / 255), np.array([x0, y0], float)


def brow_shifts(rgb: np.ndarray, landmarks: np.ndarray) -> list[float | None]:
    """For each brow (image-left, image-right), how far (inter-ocular distances, up the
    face) its points should move onto the hair band; None where no band counts."""
    return _fit(rgb, landmarks)[0]


def _fit(rgb: np.ndarray, landmarks: np.ndarray
         ) -> tuple[list[float | None], list[np.ndarray | None]]:
    """Each brow's shift onto its band (`brow_shifts`) and each of its five points' own
    further offset (`_point_offsets`; None where the brow keeps dlib's points)."""
    p = np.asarray(landmarks, float)
    iod = inter_ocular(p)
    if iod < 8 or rgb.ndim != 3:
        return [None, None], [None, None]
    up = face_up(p)
    grey, corner = _lightness_crop(np.asarray(rgb, np.uint8), p, iod)
    reach = REACH[0] - max(HALF_WIDTHS) - SIDE[1], REACH[1] + max(HALF_WIDTHS) + SIDE[1]
    ts = np.arange(round(reach[0] / STEP), round(reach[1] / STEP) + 1) * STEP
    found: list[list[float]] = []
    heights = brow_heights(p, over="lids")
    allowed = []
    for side, brow in enumerate(EACH_BROW):
        vals = _profiles(grey, _samples(p[brow]) - corner, up * iod, ts)
        score = band_contrast(np.median(vals, 1).astype(float), ts)
        # The band stays above the upper lid (lashes and liner are dark too).
        lowest = -heights[side] + LID_CLEARANCE
        inside = (ts >= max(REACH[0], lowest) - 1e-9) & (ts <= REACH[1] + 1e-9)
        allowed.append(inside)
        score = np.where(inside, score, -np.inf)
        found.append([_vertex(ts, score, i) + DLIB_OFFSET for i in _peaks(score)])
    shifts = _choose(found)
    offsets: list[np.ndarray | None] = []
    for brow, shift, inside in zip(EACH_BROW, shifts, allowed, strict=True):
        offsets.append(None if shift is None else _point_offsets(
            grey, p[brow] - corner, up, iod, ts, shift - DLIB_OFFSET, inside))
    return shifts, offsets


def _profiles(grey: np.ndarray, pts: np.ndarray, step: np.ndarray, ts: np.ndarray
              ) -> np.ndarray:
    """Lightness at `pts` (crop pixels) moved `ts` times `step` (pixels): (len(ts), len(pts))."""
    import cv2

    xs = pts[None, :, 0] + ts[:, None] * step[0]
    ys = pts[None, :, 1] + ts[:, None] * step[1]
    return cv2.remap(grey, xs.astype(np.float32), ys.astype(np.float32), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def _peaks(score: np.ndarray) -> list[int]:
    """Local maxima of a band score that reach `CONTRAST` and `NEAR` of the best."""
    best = float(score.max()) if np.isfinite(score).any() else 0.0
    floor = max(CONTRAST, NEAR * best)
    return [i for i in range(1, len(score) - 1)
            if score[i] >= floor and np.isfinite(score[i - 1]) and np.isfinite(score[i + 1])
            and score[i] >= score[i - 1] and score[i] >= score[i + 1]]


def _point_offsets(grey: np.ndarray, pts: np.ndarray, up: np.ndarray, iod: float,
                   ts: np.ndarray, centre: float, inside: np.ndarray) -> np.ndarray:
    """How much further (inter-ocular distances, up the face) each of a brow's five points
    goes than the whole brow's shift puts it (`centre`: the band centre found, relative to
    dlib's points), so the points follow the hair's own curve.

    dlib draws every brow near its mean shape: a worried brow's inner head, steeply
    raised, stayed under the points and showed above the new face as a grey smudge. Each
    point reads its own profile (the brow this side and that of it, `POINT_SPAN`), and
    takes the band peak nearest the whole brow's within `POINT_REACH`; a point with no
    band of its own (a fading tail) takes its neighbours' offset.
    """
    n = len(pts)
    out = np.full(n, np.nan)
    spread = np.linspace(-1, 1, 5) * POINT_SPAN * iod
    near = []
    for j in range(n):
        a, b = pts[max(j - 1, 0)], pts[min(j + 1, n - 1)]
        along = (b - a) / (np.linalg.norm(b - a) + 1e-9)
        near.append(pts[j] + np.outer(spread, along))
    vals = _profiles(grey, np.vstack(near), up * iod, ts).reshape(len(ts), n, len(spread))
    scores = band_contrast(np.median(vals, 2), ts)
    window = inside & (np.abs(ts - centre) <= POINT_REACH + 1e-9)
    for j in range(n):
        score = np.where(window, scores[:, j], -np.inf)
        # A point's own band is weaker than the whole brow's median: CONTRAST alone counts.
        peaks = [i for i in range(1, len(ts) - 1) if score[i] >= CONTRAST
                 and score[i] >= score[i - 1] and score[i] >= score[i + 1]]
        if peaks:
            at = min((_vertex(ts, score, i) for i in peaks), key=lambda t: abs(t - centre))
            out[j] = at - centre
    if np.isnan(out).all():
        return np.zeros(n)
    known = ~np.isnan(out)
    out = np.interp(np.arange(n), np.flatnonzero(known), out[known])
    # The hair's curve is smooth: no point further from its neighbours' mean than POINT_BEND.
    mean = np.convolve(np.pad(out, 1, mode="edge"), [0.5, 0, 0.5], mode="valid")
    return mean + np.clip(out - mean, -POINT_BEND, POINT_BEND)


def _vertex(ts: np.ndarray, score: np.ndarray, i: int) -> float:
    """The peak at `i` to a fraction of a step (the parabola through it and its neighbours;
    the profile's step alone made the brows shimmer)."""
    a, b, c = score[i - 1], score[i], score[i + 1]
    curve = a - 2 * b + c
    frac = 0.5 * (a - c) / curve if np.isfinite(curve) and curve < 0 else 0.0
    return float(ts[i] + np.clip(frac, -0.5, 0.5) * STEP)


def _choose(found: list[list[float]]) -> list[float | None]:
    """One shift per brow from each brow's candidates: the least movement from dlib's
    points, plus `UNEVEN` times the difference between the brows' shifts (brows rise
    together; a wide-open eye's mascara is a band near dlib's misplaced points too)."""
    left = found[0] or [None]
    right = found[1] or [None]

    def cost(a: float | None, b: float | None) -> float:
        c = sum(abs(x) for x in (a, b) if x is not None)
        return c + (UNEVEN * abs(a - b) if a is not None and b is not None else 0.0)

    pairs = [(a, b) for a in left for b in right]
    return list(min(pairs, key=lambda ab: cost(*ab)))


def refine_brows(rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """`landmarks` (68, 2) with each brow moved up or down the face onto its hair, each
    point onto the hair's curve there (a new array; a brow with no clear band keeps
    dlib's points)."""
    p = np.array(landmarks, float, copy=True)
    shifts, offsets = _fit(rgb, p)
    up, iod = face_up(p), inter_ocular(p)
    for brow, s, each in zip(EACH_BROW, shifts, offsets, strict=True):
        if s is not None:
            p[brow] += np.outer(s + each, up) * iod
    return p


# Erasing the target's own brows where the laid-in face does not cover them.
ERASE_BAND = 0.26  # the band searched for the target's brow hair (inter-ocular distances)
ERASE_DARKER = 8.0  # L*: hair is at least this much darker than the skin about the brows
ERASE_LIFT = 0.06  # the band reaches this much higher above the brow than below it
FACE_TOP = 0.35  # the face's hull reaches this far above the brow points
ERASE_EDGE = 3.0  # L*: and its edge, joined to it, this much
ERASE_EYES = 0.06  # the eyes' hulls grown by this much are never erased (lids, lashes)
ERASE_SIDE = 40.0  # pixels per inter-ocular distance the fill is painted at


def erase_brows(region: np.ndarray, landmarks: np.ndarray, alpha: np.ndarray
                ) -> np.ndarray | None:
    """`region` (float RGB) with the target's brow hair painted over with the skin around
    it, where `alpha` (the blend's, same size) leaves it showing; None when there is none.

    A face laid in over a target whose brows sit higher or reach further than the photo's
    showed the target's brows through the blend's soft upper edge: a second brow above
    the new one. Hair is what, in a band along each brow (`landmarks`, refined), is
    `ERASE_DARKER` below the skin's lightness about it (the band's brighter pixels);
    `cv2.inpaint` fills it from the skin around, and a soft edge lays the fill in.
    """
    import cv2

    p = np.asarray(landmarks, float)
    iod = inter_ocular(p)
    if iod < 8:
        return None
    h, w = alpha.shape
    up = face_up(p)
    pad = int(0.35 * iod) + 2
    sel = p[17:27]
    x0, y0 = np.floor(sel.min(0) - pad).astype(int).clip(0)
    x1 = int(min(np.ceil(sel[:, 0].max() + pad), w))
    y1 = int(min(np.ceil(sel[:, 1].max() + pad), h))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    showing = alpha[y0:y1, x0:x1] < 0.98
    if not showing.any():
        return None
    crop = np.clip(region[y0:y1, x0:x1], 0, 255).astype(np.uint8)
    local = p - [x0, y0]
    band = np.zeros(crop.shape[:2], np.uint8)
    thick = max(int(round(ERASE_BAND * iod)), 2)
    for brow in EACH_BROW:
        for lift in (-DLIB_OFFSET, ERASE_LIFT - DLIB_OFFSET):
            pts = local[brow] + up * lift * iod
            cv2.polylines(band, [np.round(pts).astype(np.int32)], False, 1, thick)
    eyes = np.zeros_like(band)
    for eye in (LEFT_EYE, RIGHT_EYE):
        hull = cv2.convexHull(np.round(local[eye]).astype(np.int32))
        cv2.fillConvexPoly(eyes, hull, 1)
    k = max(int(round(2 * ERASE_EYES * iod)) | 1, 3)
    eyes = cv2.dilate(eyes, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    # Only on the face: the hull of the jaw and the brows lifted above their hair. Beyond
    # it, by a turned head's far brow tail, lies the head's hair, and painting it out
    # drew a pale blot from the wall behind.
    face = np.zeros_like(band)
    hull = np.vstack([local[:17], local[17:27] + up * FACE_TOP * iod])
    cv2.fillConvexPoly(face, cv2.convexHull(np.round(hull).astype(np.int32)), 1)
    light = cv2.cvtColor(crop, cv2.COLOR_RGB2LAB)[..., 0].astype(np.float32) * (100 / 255)
    where = (band > 0) & (eyes == 0) & (face > 0)
    if where.sum() < 8:
        return None
    skin = float(np.percentile(light[where], 75))
    dark = light < skin - ERASE_DARKER
    # The hair's soft edge (a few L* darker than skin) goes with it, where it joins hair:
    # left behind, it drew the brow's outline in thin grey lines.
    hair = (where & (light < skin - ERASE_EDGE)).astype(np.uint8)
    # Only hair the blend leaves (partly) showing, and what joins it.
    reach = max(int(round(0.04 * iod)) | 1, 3)
    near = cv2.dilate(showing.astype(np.uint8), np.ones((reach, reach), np.uint8))
    n, labels = cv2.connectedComponents(hair)
    keep = np.intersect1d(labels[(near > 0) & (hair > 0)], labels[dark & (hair > 0)])
    hair = np.isin(labels, keep[keep > 0]).astype(np.uint8)
    if hair.sum() < 4:
        return None
    grow = max(int(round(0.03 * iod)) | 1, 3)
    hair = cv2.dilate(hair, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow)))
    hair[eyes > 0] = 0
    # The fill is smooth skin: inpainted at about ERASE_SIDE pixels per inter-ocular
    # distance (at full size it cost ~10 ms a 512 px frame), then scaled back.
    k = min(ERASE_SIDE / iod, 1.0)
    ch, cw = crop.shape[:2]
    small = (max(int(round(cw * k)), 1), max(int(round(ch * k)), 1))
    hole = cv2.resize(hair * 255, small, interpolation=cv2.INTER_AREA)
    filled = cv2.inpaint(cv2.resize(crop, small, interpolation=cv2.INTER_AREA),
                         (hole > 0).astype(np.uint8) * 255, max(0.08 * iod * k, 2.0),
                         cv2.INPAINT_TELEA)
    filled = cv2.resize(filled, (cw, ch), interpolation=cv2.INTER_LINEAR)
    soft = cv2.GaussianBlur(hair.astype(np.float32), (0, 0), max(0.015 * iod, 0.7))
    soft = np.maximum(soft, hair.astype(np.float32))[..., None]
    out = np.array(region, np.float32, copy=True)
    out[y0:y1, x0:x1] = soft * filled + (1 - soft) * out[y0:y1, x0:x1]
    return out
