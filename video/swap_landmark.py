"""The `landmark` swap engine: one source photo warped onto every target frame.

A plain landmark swapper warps the source's inner face onto the target's landmarks, which
keeps the target's face shape, jaw and forehead, and so much of the target's identity. This
one is shape-aware: the landmarks it renders to are the target's pose and expression
carrying the source's proportions (`shape` = 0 keeps the target's shape, 1 the source's),
and its mask reaches over the jaw and up the forehead. Pose comes from a similarity fit on
the stable points; the source's mouth and eyes move with the target's (only their position
and size follow the source), so speech and blinks are the target's own.

The warp is piecewise affine over one fixed Delaunay triangulation of the template (68
points plus 10 on the forehead), so triangles never flip between frames.
"""

from __future__ import annotations

import numpy as np

from retake.core.errors import FaceError
from retake.video.faces import FaceModels
from retake.video.geometry import (
    INNER_LIPS,
    LEFT_EYE,
    MOUTH,
    RIGHT_EYE,
    STABLE,
    TEMPLATE,
    apply,
    forehead,
    umeyama,
)
from retake.video.swappers import Patch
from retake.video.warp import mesh_warp, triangulate


def _triangles() -> np.ndarray:
    """Delaunay triangles over the template plus its forehead points (indices, (T, 3))."""
    return triangulate(extended(TEMPLATE * 200))


def extended(landmarks: np.ndarray, forehead_height: float = 0.45) -> np.ndarray:
    """68 landmarks plus 10 forehead points (78, 2): the vertices of the warp mesh."""
    return np.vstack([landmarks, forehead(landmarks, forehead_height)])


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
    return models.landmarks(rgb, boxes[i])


def target_shape(source: np.ndarray, target: np.ndarray, shape: float) -> np.ndarray:
    """The landmarks to render to: target pose and expression, source proportions.

    The source is fitted to the target by a similarity on the stable points; its jaw and
    lower lip are first opened by the target's mouth opening (so the chin moves with
    speech); then each point moves `shape` of the way from the target toward the fitted
    source, except the mouth and eyes, which keep the target's form and follow the
    source only in where their centre sits.
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
    for region in (MOUTH, LEFT_EYE, RIGHT_EYE):
        shift = src[region].mean(0) - target[region].mean(0)
        out[region] = target[region] + shape * shift
    # Keep the inner lips exactly as open as the target's (closure must stay closure).
    out[INNER_LIPS] = target[INNER_LIPS] + (out[MOUTH].mean(0) - target[MOUTH].mean(0))
    return out


class LandmarkSwapper:
    """Warp one source photo onto each target face (see the module docstring)."""

    name = "landmark"

    def __init__(self, source_rgb: np.ndarray, source_landmarks: np.ndarray,
                 shape: float = 0.4, forehead_height: float = 0.45) -> None:
        self.src = source_rgb
        self.src_lms = np.asarray(source_landmarks, float)
        self.shape = shape
        self.forehead = forehead_height
        self.tri = _triangles()
        self.src_pts = extended(self.src_lms, forehead_height)

    def render(self, frame: np.ndarray, landmarks: np.ndarray) -> Patch:
        """Warp the source face onto this frame's target landmarks."""
        out_lms = target_shape(self.src_lms, np.asarray(landmarks, float), self.shape)
        dst = extended(out_lms, self.forehead)
        warped = mesh_warp(self.src, self.src_pts, dst, self.tri, frame.shape)
        if warped is None:
            raise FaceError("the target face is outside the frame")
        return Patch(warped.x0, warped.y0, warped.rgb, warped.valid, out_lms)
