"""The `landmark` swap engine: one source photo warped onto every target frame.

A plain landmark swapper warps the source's inner face onto the target's landmarks, which
keeps the target's face shape, jaw and forehead, and so much of the target's identity. This
one is shape-aware: the landmarks it renders to are the target's pose and expression
carrying the source's proportions (`shape` = 0 keeps the target's shape, 1 the source's),
and its mask reaches over the jaw and up the forehead. Pose comes from a similarity fit on
the stable points; the source's mouth and eyes move with the target's (only their position
and size follow the source), so speech and blinks are the target's own.

The warp is piecewise affine over one fixed Delaunay triangulation of the template (68
points plus 10 on the forehead), so triangles never flip between frames. Where the target's
eye closes or narrows far past the photo's, or past its own recent open level, warping the
photo's open eye onto it would only squash it: there the target's own eye region is faded
in (`video/expression.py`), each eye on its own. The photo's teeth are painted out once
(`photo_teeth=False`), its inner-lip points refit to the lips' real edge, and its lips
open in the mesh only as far as the target's do, so the target's closed lips stay closed;
an open mouth shows the target's own interior, which `merge` lays in
(`MergeOptions.keep_inner_mouth`, on by default: turn both off together to get the
photo's teeth back).
"""

from __future__ import annotations

import numpy as np

from retake.core.errors import FaceError
from retake.video.brows import EACH_BROW, RestingBrows, brow_heights, face_up, refine_brows
from retake.video.expression import EYES, OpenEyes, carry_eyes, eye_weights, without_teeth
from retake.video.faces import FaceModels
from retake.video.gaze import Gazes, eye_box, iris_position, look
from retake.video.geometry import (
    BROWS,
    INNER_LIPS,
    LEFT_EYE,
    MOUTH,
    RIGHT_EYE,
    STABLE,
    TEMPLATE,
    apply,
    forehead,
    inter_ocular,
    umeyama,
)
from retake.video.swappers import DEFAULT_SHAPE, Patch
from retake.video.warp import mesh_warp, triangulate


def _triangles() -> np.ndarray:
    """Delaunay triangles over the template plus its forehead points (indices, (T, 3))."""
    return triangulate(extended(TEMPLATE * 200))


# How much further than `shape` toward the photo's the brows go (a share of the rest)
# when the target's resting brows are not known yet.
BROW_SHAPE_EXTRA = 0.15
# With the target's raise known, how much of the brows' place is the photo's (raised as
# the target's are) rather than the target's own.
BROW_PHOTO = 0.8
# The raise (inter-ocular distances) a brow is given at most, down and up.
BROW_RAISE = (-0.15, 0.3)
# The brows' hair reaches this far (inter-ocular distances) below dlib's brow points, at
# most `BROW_FLOOR_SHARE` of the way down to the upper lids.
BROW_FLOOR, BROW_FLOOR_SHARE = 0.12, 0.5


def brow_floor(landmarks: np.ndarray) -> np.ndarray:
    """Ten points under the brow points (10, 2), along the face's up direction.

    In the mesh they make the brow hair a strip of its own: a target that raises its
    brows stretches the bare lid between brow and eye, not the photo's brows (with the
    brow points alone, a thick brow lying mostly below them grew half as thick again).
    """
    p = np.asarray(landmarks, float)
    up, iod = face_up(p), max(inter_ocular(p), 1e-6)
    gaps = np.maximum(brow_heights(p, over="lids"), 0.0) * iod
    return np.vstack([p[brow] - up * min(BROW_FLOOR * iod, BROW_FLOOR_SHARE * gap)
                      for brow, gap in zip(EACH_BROW, gaps, strict=True)])


def extended(landmarks: np.ndarray, forehead_height: float = 0.45) -> np.ndarray:
    """68 landmarks, 10 forehead points and 10 under the brows (88, 2): the vertices of
    the warp mesh."""
    return np.vstack([landmarks, forehead(landmarks, forehead_height), brow_floor(landmarks)])


def source_face(rgb: np.ndarray, models: FaceModels, which: int | None = None) -> np.ndarray:
    """Landmarks of the face in a source photo; several faces need an explicit `which`."""
    boxes = models.detect(rgb, upsample=1 if max(rgb.shape[:2]) < 500 else 0, full=True)
    if not boxes:
        raise FaceError("no face found in the source photo; use a clear, frontal photo")
    if len(boxes) > 1 and which is None:
        raise FaceError(f"the source photo holds {len(boxes)} faces; choose one with "
                        "--source-face N (0 is the largest)")
    i = which or 0
    if i >= len(boxes):
        raise FaceError(f"--source-face {i}: the photo holds only {len(boxes)} faces")
    return refine_brows(rgb, models.landmarks(rgb, boxes[i]))


def target_shape(source: np.ndarray, target: np.ndarray, shape: float,
                 brow_raise: np.ndarray | None = None) -> np.ndarray:
    """The landmarks to render to: target pose and expression, source proportions.

    The source is fitted to the target by a similarity on the stable points; its jaw and
    lower lip are first opened by the target's mouth opening (so the chin moves with
    speech); then each point moves `shape` of the way from the target toward the fitted
    source, except the mouth and eyes, which keep the target's form and follow the
    source only in where their centre sits. Brows: given the target's `brow_raise` (each
    brow's, or each brow point's, height above its resting height, inter-ocular
    distances: `RestingBrows`), `BROW_PHOTO` of the way to the photo's brows raised as
    much as the target's are (point by point: a worried or frowning brow's shape too);
    without it (a still, a clip's first frames), `BROW_SHAPE_EXTRA` more of the photo than
    `shape`.
    """
    m = umeyama(source[STABLE], target[STABLE])
    src = apply(m, source)
    gap_t = target[66] - target[62]
    gap_s = src[66] - src[62]
    opening = gap_t - gap_s
    lower_jaw = np.zeros(68)
    lower_jaw[4:13] = np.sin(np.linspace(0, np.pi, 9)) * 0.9
    src = src + lower_jaw[:, None] * opening[None, :]
    out = target + shape * (src - target)
    # Where the brows sit over the eyes is much of the photo's likeness; how far they
    # rise is the target's expression. Brows blended at `shape` (the target's own place,
    # raised or not, taken at 55%): FaceNet found obama on retalking_1 nearer the source
    # on 85% of frames and biden2 on liveportrait_d10 on 88%; placed `BROW_PHOTO` as the
    # photo's, raised as the target's are: 96% on both.
    if brow_raise is None:
        brow_shape = shape + BROW_SHAPE_EXTRA * (1 - shape)
        out[BROWS] = target[BROWS] + brow_shape * (src[BROWS] - target[BROWS])
    else:
        up, iod = face_up(target), inter_ocular(target)
        rise = np.asarray(brow_raise, float)
        rise = np.repeat(rise, 5) if rise.shape == (2,) else rise  # per brow or per point
        raised = src[BROWS] + np.outer(np.clip(rise, *BROW_RAISE), up) * iod
        out[BROWS] = target[BROWS] + BROW_PHOTO * (raised - target[BROWS])
    for region in (MOUTH, LEFT_EYE, RIGHT_EYE):
        shift = src[region].mean(0) - target[region].mean(0)
        out[region] = target[region] + shape * shift
    # Keep the inner lips exactly as open as the target's (closure must stay closure).
    out[INNER_LIPS] = target[INNER_LIPS] + (out[MOUTH].mean(0) - target[MOUTH].mean(0))
    return out


LIP_PAIRS = ((61, 67), (62, 66), (63, 65))  # upper inner-lip point, its lower partner


def open_lips(points: np.ndarray, gap: float = 2.0) -> np.ndarray:
    """Landmarks whose inner lips are at least `gap` pixels apart (for the warp's mesh only).

    Closed lips make the triangles between them collapse to slivers; the affine map of a
    sliver extrapolates wildly for the pixels drawn on it (stray bright dots along the
    seam). Parting the lips by a pixel or two keeps those samples inside the photo's lips.
    """
    out = np.array(points, float, copy=True)
    down = out[8] - out[27]
    down /= np.linalg.norm(down) + 1e-9
    for up, low in LIP_PAIRS:
        short = gap - float(np.dot(out[low] - out[up], down))
        if short > 0:
            out[up] -= down * short / 2
            out[low] += down * short / 2
    return out


def _gaps(points: np.ndarray) -> np.ndarray:
    """Each inner-lip pair's opening over the inter-ocular distance (3,)."""
    p = np.asarray(points, float)
    gaps = [np.linalg.norm(p[low] - p[up]) for up, low in LIP_PAIRS]
    return np.array(gaps) / max(inter_ocular(p), 1e-9)


def part_lips(points: np.ndarray, share: np.ndarray) -> np.ndarray:
    """Landmarks with each inner-lip pair opened to `share` (0..1 each) of its gap.

    0 brings the pair to its middle, 1 leaves it. For the photo in the warp's mesh: opened
    only as far as the target's mouth is, the photo's lips meet where the target's do, so
    none of the photo's mouth interior is stretched between closed lips, while an open
    mouth still gets the photo's whole lips.
    """
    out = np.array(points, float, copy=True)
    for (up, low), t in zip(LIP_PAIRS, share, strict=True):
        mid = (out[up] + out[low]) / 2
        out[up] = mid + (out[up] - mid) * t
        out[low] = mid + (out[low] - mid) * t
    return out


def photo_irises(rgb: np.ndarray, landmarks: np.ndarray) -> list[float | None]:
    """Where each of the photo's irises sits along its eye (`gaze.iris_position`); an eye
    whose iris is not found takes the other's (a squinting eye's dim iris: both look the
    same way), both None where neither is found."""
    found = [iris_position(rgb, landmarks, eye) for eye in EYES]
    known = [u for u in found if u is not None]
    return [u if u is not None else (known[0] if known else None) for u in found]


class LandmarkSwapper:
    """Warp one source photo onto each target face (see the module docstring)."""

    name = "landmark"

    def __init__(self, source_rgb: np.ndarray, source_landmarks: np.ndarray,
                 shape: float = DEFAULT_SHAPE, forehead_height: float = 0.45,
                 target_eyes: bool = True, photo_teeth: bool = False) -> None:
        self.src_lms = np.asarray(source_landmarks, float)
        self.shape = shape
        self.forehead = forehead_height
        self.tri = _triangles()
        self.target_eyes = target_eyes
        self.photo_teeth = photo_teeth
        self.src, self.mesh_lms = (source_rgb, self.src_lms) if photo_teeth else \
            without_teeth(source_rgb, self.src_lms)
        self.src_pts = extended(self.mesh_lms, forehead_height)
        self.src_gaps = _gaps(self.mesh_lms)
        self.open_eyes = OpenEyes()  # the target's recent open-eye level, face by face
        self.resting_brows = RestingBrows()  # and where its brows rest
        self.gazes = Gazes()  # and where its eyes look
        self.irises = photo_irises(self.src, self.mesh_lms)
        self._looking: np.ndarray | None = None  # the photo with its irises moved

    def render(self, frame: np.ndarray, landmarks: np.ndarray) -> Patch:
        """Warp the source face onto this frame's target landmarks.

        With `target_eyes`, an eye the target closes or narrows far past the photo's, or
        closes far past its own recent open level, is the target's own (faded in by
        `expression.eye_weights`). Frames are expected in order (a clip, a live feed): the
        open level and where the brows rest (`RestingBrows`) follow the renders before
        this one.
        """
        target = np.asarray(landmarks, float)
        out_lms = target_shape(self.src_lms, target, self.shape,
                               self.resting_brows.update(target))
        src_pts, dst = self.src_pts, extended(out_lms, self.forehead)
        if not self.photo_teeth:
            share = np.clip(_gaps(target) / np.maximum(self.src_gaps, 1e-6), 0, 1)
            src_pts = src_pts.copy()
            src_pts[:68] = part_lips(self.mesh_lms, share)
            dst[:68] = open_lips(out_lms)
        photo = self.src
        if self.target_eyes:
            photo = self._look(self.gazes.update(frame, target))
        warped = mesh_warp(photo, src_pts, dst, self.tri, frame.shape)
        if warped is None:
            raise FaceError("the target face is outside the frame")
        if self.target_eyes:
            weights = eye_weights(target, self.src_lms, self.open_eyes.update(target))
            if max(weights) > 0.01:
                carry_eyes(warped.rgb, warped.x0, warped.y0, frame, target, out_lms, weights)
        return Patch(warped.x0, warped.y0, warped.rgb, warped.valid, out_lms)

    def _look(self, offset: float | None) -> np.ndarray:
        """The photo with its irises slid to look where the target does (`gaze.look`):
        `offset` (eye widths) off where they rest in the photo; the photo itself where
        the gaze is not known."""
        if offset is None or None in self.irises:
            return self.src
        if self._looking is None:
            self._looking = self.src.copy()
        for eye, iris in zip(EYES, self.irises, strict=True):
            box = eye_box(self.mesh_lms[eye], self.src.shape)
            self._looking[box] = self.src[box]  # the last frame's move undone
            look(self._looking, self.mesh_lms, eye, iris, iris + offset)
        return self._looking
