"""Blinks for a talking photo: a face that never blinks is the first thing a viewer notices.

`blink_schedule` places blinks at a person's rate (one every 2.5-6 s, seeded, so the same
input gives the same video), each over about 160 ms (closing, closed, opening). `close_eyes`
draws one: around each eye a small mesh (its six landmarks, its brow, and a fixed ring)
is warped so the upper lid comes down onto the lower one; the lid's skin stretches over
the eye and the eye's own triangles fold away, so no squashed iris is left to see.
"""

from __future__ import annotations

import numpy as np

from retake.video.geometry import inter_ocular

BLINK_SHAPE = (0.45, 1.0, 1.0, 0.45)  # lid closure per frame at 25 fps (~160 ms)


def blink_schedule(n_frames: int, fps: float, seed: int = 0) -> np.ndarray:
    """Lid closure (0 open .. 1 shut) for each of `n_frames` frames."""
    rng = np.random.default_rng(seed)
    out = np.zeros(n_frames)
    step = max(1, int(round(fps / 25)))
    t = rng.uniform(0.8, 2.5)
    while True:
        k = int(t * fps)
        if k >= n_frames:
            break
        for j, c in enumerate(BLINK_SHAPE):
            for s in range(step):
                if k + j * step + s < n_frames:
                    out[k + j * step + s] = c
        t += rng.uniform(2.5, 6.0)
    return out


def _eye_mesh(lms: np.ndarray, first: int, closure: float) -> tuple[np.ndarray, np.ndarray]:
    """Source and destination points of one eye's mesh for a lid `closure`."""
    eye = lms[first:first + 6]
    brow = lms[17:22] if first == 36 else lms[22:27]
    centre = eye.mean(0)
    size = max(np.ptp(eye[:, 0]), 1.0)
    angles = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    ring = centre + np.stack([np.cos(angles), np.sin(angles)], 1) * size * 1.3
    src = np.vstack([eye, brow, ring])
    dst = src.copy()
    a, b = first + 1, first + 2  # upper lid, outer to inner order as dlib numbers them
    lower = {a: first + 5, b: first + 4}
    for up in (a, b):
        i = up - first
        dst[i] = eye[i] + closure * 0.95 * (lms[lower[up]] - eye[i])
    return src, dst


def close_eyes(rgb: np.ndarray, lms: np.ndarray, closure: float) -> np.ndarray:
    """`rgb` with both eyes closed by `closure` (0..1); the input is not modified."""
    from retake.video.warp import mesh_warp, triangulate

    if closure <= 0:
        return rgb
    out = rgb.copy()
    lms = np.asarray(lms, float)
    if inter_ocular(lms) < 8:
        return out
    for first in (36, 42):
        src, dst = _eye_mesh(lms, first, closure)
        tri = triangulate(src)
        warped = mesh_warp(rgb, src, dst, tri, rgb.shape)
        if warped is None:
            continue
        h, w = warped.valid.shape
        region = out[warped.y0:warped.y0 + h, warped.x0:warped.x0 + w].astype(np.float32)
        a = warped.valid[..., None]
        out[warped.y0:warped.y0 + h, warped.x0:warped.x0 + w] = np.clip(
            warped.rgb * a + region * (1 - a) + 0.5, 0, 255).astype(np.uint8)
    return out
