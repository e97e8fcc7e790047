"""Where the eyes look: the target's gaze carried onto the photo's eyes.

A landmark swap warps the photo's eyes corner to corner onto the target's, so the photo's
irises stay where the photo had them: a target glancing aside came out staring into the
camera. dlib's 68 points have no iris, so it is found in the picture: along each eye,
between its lids, the iris and pupil are the darkest stretch about `IRIS` of the eye's
width long (`iris_position`: 0 at the eye's image-left corner, 1 at its right). The gaze
is how far both of the target's irises sit off their eyes' middles (`gaze`), measured
against where they rest (`Gazes`), and the photo's irises are slid by as much along
their eyes (`look`): the stretch of the eye holding the iris moves whole, the white on
either side is squeezed or stretched, the lids stay. Only sideways gaze: looking up or
down moves the lids, which the warp already follows.
"""

from __future__ import annotations

import numpy as np

from retake.video.expression import EYES, FaceSeries, eye_aspect_ratio

IRIS = 0.4  # the iris's width as a share of the eye's (corner to corner)
SAMPLES = 41  # points along the eye...
ROWS = (0.25, 0.75)  # ...read between these shares of the way from upper to lower lid
CONTRAST = 12.0  # L*: the iris stretch at least this much darker than the rest of the eye
OPEN_EAR = 0.17  # eyes narrower than this (blinks, squints) tell no gaze
LEAST_WIDTH = 10.0  # pixels: an eye narrower than this tells no gaze
MARGIN = 0.03  # a moved iris keeps this share of the eye clear of each corner
MOVED = 0.5  # the stretch moved whole: the iris and its soft edges


def _axes(p: np.ndarray) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """An eye's first corner, width, along-unit and across-unit vectors (across: down)."""
    p0 = p[0]
    length = float(np.linalg.norm(p[3] - p0))
    a = (p[3] - p0) / max(length, 1e-9)
    return p0, length, a, np.array([-a[1], a[0]])


def _lids(p: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The upper and lower lids' offsets across the eye (eye widths) at positions `s`."""
    p0, length, a, n = _axes(p)
    st = np.stack([(p - p0) @ a, (p - p0) @ n], 1) / max(length, 1e-9)
    upper, lower = st[[0, 1, 2, 3]], st[[0, 5, 4, 3]]
    return (np.interp(s, upper[:, 0], upper[:, 1]), np.interp(s, lower[:, 0], lower[:, 1]))


def iris_position(rgb: np.ndarray, landmarks: np.ndarray, eye: slice) -> float | None:
    """Where the iris's middle sits along `eye` (0: its first corner, 1: its fourth), or
    None where the eye is too small or narrow, or no stretch stands out dark enough."""
    import cv2

    p = np.asarray(landmarks, float)[eye]
    p0, length, a, n = _axes(p)
    if length < LEAST_WIDTH or eye_aspect_ratio(landmarks, eye) < OPEN_EAR:
        return None
    s = np.linspace(0.02, 0.98, SAMPLES)
    top, bottom = _lids(p, s)
    f = np.linspace(*ROWS, 5)
    t = top[:, None] + f[None, :] * (bottom - top)[:, None]
    pts = p0 + length * (s[:, None, None] * a + t[..., None] * n)
    lo = np.floor(pts.reshape(-1, 2).min(0)).astype(int) - 2
    hi = np.ceil(pts.reshape(-1, 2).max(0)).astype(int) + 3
    lo = np.maximum(lo, 0)
    crop = np.ascontiguousarray(np.asarray(rgb, np.uint8)[lo[1]:hi[1], lo[0]:hi[0]])
    if crop.shape[0] < 2 or crop.shape[1] < 2:
        return None
    light = cv2.cvtColor(crop, cv2.COLOR_RGB2LAB)[..., 0].astype(np.float32) * (100 / 255)
    local = (pts - lo).astype(np.float32)
    profile = np.median(cv2.remap(light, local[..., 0], local[..., 1], cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REPLICATE), axis=1)
    k = max(int(round(IRIS / (s[1] - s[0]))), 3)
    window = np.convolve(profile, np.ones(k) / k, mode="valid")
    i = int(np.argmin(window))
    rest = np.concatenate([profile[:i], profile[i + k:]])
    if len(rest) < 3 or float(np.median(rest)) - window[i] < CONTRAST:
        return None
    if 0 < i < len(window) - 1:  # the darkest stretch to a fraction of a sample
        c0, c1, c2 = window[i - 1:i + 2]
        curve = c0 - 2 * c1 + c2
        i = i + (0.5 * (c0 - c2) / curve if curve > 0 else 0.0)
    return float(np.interp(i + (k - 1) / 2, np.arange(len(s)), s))


def gaze(rgb: np.ndarray, landmarks: np.ndarray) -> float | None:
    """How far the irises sit off their eyes' middles, along the eyes (eye widths, toward
    the image's right: both eyes together), or None where neither eye tells."""
    found = [iris_position(rgb, landmarks, eye) for eye in EYES]
    offsets = [u - 0.5 for u in found if u is not None]
    return float(np.mean(offsets)) if offsets else None


class Gazes(FaceSeries):
    """Each face's gaze against where it rests, face by face (`FaceSeries`).

    Now: the median of the last `steady` renders (a single misread frame does not flick
    the eyes). At rest: the median over the last `window` renders (about ten seconds),
    drawn toward the eyes' middles as if `prior` more renders had looked there, so a
    clip's first frames are judged as they are. Against rest, because where an iris sits
    when a face looks ahead depends on where dlib puts that face's eye corners (an
    eyeliner's wing reads as a corner): measured so, a target looking into the camera
    glanced aside in the output.
    """

    def __init__(self, window: int = 250, steady: int = 3, prior: int = 25,
                 forget: int = 50) -> None:
        super().__init__(window, 1, forget)
        self.steady, self.prior = steady, prior

    def update(self, rgb: np.ndarray, landmarks: np.ndarray) -> float | None:
        """How far this face looks off where it rests (eye widths, toward the image's
        right); None where this frame tells no gaze."""
        now = gaze(rgb, landmarks)
        recent = self.add(landmarks, [np.nan if now is None else now])
        if now is None or recent is None:
            return None
        told = recent[~np.isnan(recent[:, 0]), 0]
        rest = float(np.median(told)) * len(told) / (len(told) + self.prior)
        return float(np.median(told[-self.steady:])) - rest


def look(rgb: np.ndarray, landmarks: np.ndarray, eye: slice, iris: float, to: float
         ) -> None:
    """Slide the iris of `eye` (in `rgb`, changed in place) from `iris` to `to` along the
    eye (shares of its width, `iris_position`'s); the lids and the skin stay."""
    import cv2

    p = np.asarray(landmarks, float)[eye]
    p0, length, a, n = _axes(p)
    half = MOVED / 2
    to = float(np.clip(to, half + MARGIN, 1 - half - MARGIN))
    if length < LEAST_WIDTH or abs(to - iris) * length < 0.3:
        return
    rows, cols = eye_box(p, rgb.shape)
    lo = np.array([cols.start, rows.start])
    if cols.stop - cols.start < 3 or rows.stop - rows.start < 3:
        return
    ys, xs = np.mgrid[rows, cols].astype(np.float64)
    rel = np.stack([xs - p0[0], ys - p0[1]], -1)
    s, t = rel @ a / length, rel @ n / length
    # Output position -> photo position: the iris stretch moves whole, the white between
    # it and each corner takes up the difference.
    knots_out = [0.0, to - half, to + half, 1.0]
    knots_in = [0.0, iris - half, iris + half, 1.0]
    if knots_in[1] <= 0.01 or knots_in[2] >= 0.99:
        return  # the photo's iris already in a corner: nothing whole to move
    src = np.interp(s, knots_out, knots_in)
    src = np.where((s < 0) | (s > 1), s, src)
    pos = p0 + length * (src[..., None] * a + t[..., None] * n) - lo
    region = np.ascontiguousarray(rgb[rows, cols])
    moved = cv2.remap(region, pos[..., 0].astype(np.float32), pos[..., 1].astype(np.float32),
                      cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    inside = np.zeros(region.shape[:2], np.uint8)
    cv2.fillConvexPoly(inside, cv2.convexHull(np.round(p - lo).astype(np.int32)), 1)
    soft = cv2.GaussianBlur(inside.astype(np.float32), (0, 0), max(0.02 * length, 0.6))
    soft = (soft * inside)[..., None]
    rgb[rows, cols] = (soft * moved + (1 - soft) * region).astype(rgb.dtype)


def eye_box(points: np.ndarray, shape: tuple[int, ...]) -> tuple[slice, slice]:
    """The rows and columns `look` may change for an eye with these six points."""
    lo = np.maximum(np.floor(points.min(0)).astype(int) - 2, 0)
    hi = np.minimum(np.ceil(points.max(0)).astype(int) + 3, [shape[1], shape[0]])
    return slice(int(lo[1]), int(hi[1])), slice(int(lo[0]), int(hi[0]))
