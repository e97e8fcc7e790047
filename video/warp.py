"""Piecewise-affine mesh warps: move an image so its landmarks land on new positions.

Shared by the face swap (a photo onto a frame) and lip-sync (a mouth from one frame onto
another). Each output pixel finds its triangle in the destination mesh and samples the
source image through that triangle's affine map: one `cv2.remap` over the region, not a
warp per triangle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Warped:
    """A warped region: pixels for frame rectangle [y0:y0+h, x0:x0+w] and its coverage."""

    x0: int
    y0: int
    rgb: np.ndarray  # float32 (h, w, 3)
    valid: np.ndarray  # float32 (h, w): 1 inside the mesh


def triangulate(points: np.ndarray) -> np.ndarray:
    """Delaunay triangles (T, 3) over points; compute once on a template, reuse per frame."""
    from scipy.spatial import Delaunay

    return Delaunay(np.asarray(points, float)).simplices.astype(np.int32)


def mesh_warp(src: np.ndarray, src_pts: np.ndarray, dst_pts: np.ndarray,
              triangles: np.ndarray, frame_shape: tuple[int, ...]) -> Warped | None:
    """Warp `src` so that `src_pts` move to `dst_pts` (in a frame of `frame_shape`).

    Returns the warped pixels over the bounding rectangle of the destination mesh, or None
    when the mesh lies outside the frame.
    """
    import cv2

    h, w = frame_shape[:2]
    dst_pts = np.asarray(dst_pts, float)
    x0, y0 = np.floor(dst_pts.min(0)).astype(int) - 2
    x1, y1 = np.ceil(dst_pts.max(0)).astype(int) + 3
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    rw, rh = x1 - x0, y1 - y0
    local = dst_pts - [x0, y0]
    ids = np.full((rh, rw), -1, np.int32)
    tri = np.asarray(triangles)
    d = local[tri]  # (T, 3, 2) destination corners, region coordinates
    s = np.asarray(src_pts, float)[tri]
    e1, e2 = d[:, 1] - d[:, 0], d[:, 2] - d[:, 0]
    # collapsed triangles (closed lips) draw nothing; the rest get their affine map at once
    drawn = np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]) >= 1e-3
    maps = np.zeros((len(tri), 2, 3), np.float32)
    if drawn.any():
        a = np.concatenate([d[drawn], np.ones((int(drawn.sum()), 3, 1))], axis=2)
        maps[drawn] = np.linalg.solve(a, s[drawn]).transpose(0, 2, 1)
    corners = np.round(d).astype(np.int32)
    for k in np.flatnonzero(drawn):
        cv2.fillConvexPoly(ids, corners[k], int(k))
    valid = ids >= 0
    yy, xx = np.mgrid[0:rh, 0:rw].astype(np.float32)
    m = maps[np.maximum(ids, 0)]
    map_x = m[..., 0, 0] * xx + m[..., 0, 1] * yy + m[..., 0, 2]
    map_y = m[..., 1, 0] * xx + m[..., 1, 1] * yy + m[..., 1, 2]
    out = cv2.remap(src, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return Warped(int(x0), int(y0), out.astype(np.float32), valid.astype(np.float32))
