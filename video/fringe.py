"""A source photo's fringe, painted over with its own forehead skin before it is swapped.

Hair that falls over the photo's forehead (a fringe, a swept lock) is part of the photo's
pixels the warp carries onto every target. Kept, it sits on the target's forehead like a
cap; cut at the photo's hairline (`blend._hairline_cut`), the target's own forehead shows
from the fringe's lowest edge up, and a slanting fringe leaves its lower edge behind,
colour-matched into a band across the target's forehead. Painting it out once, on the
photo, lets the forehead be the photo's skin up to the mask's top, as it is for a photo
with a bare forehead.

Hair pixels are those of the forehead band (from just above the brows' own hair up to the
mask's forehead height, within the face's width) that do not look like the photo's skin
(close to its cheek statistics in LAB, lightness as well as hue: a fringe can share
the skin's hue).
Light strands pass for skin by colour, so in each column of the forehead everything from
where the hair starts upward is taken. They are filled by normalized convolution of the
skin pixels around them (a smooth skin field: only skin is averaged, so no hair colour
bleeds in; far from any, their mean), with the skin's fine grain added back at its own
level. A photo with a bare forehead, or hair only where a hairline is, is returned
unchanged.
"""

from __future__ import annotations

import numpy as np

from retake.video.blend import _analyse, _forehead_height, _lab, _scale
from retake.video.geometry import inter_ocular

# Above the brows' own hair (inter-ocular distances), where a fringe may start.
FRINGE_FROM = 0.18
# Less than this share of the band not skin: nothing to paint.
FRINGE_MIN_SHARE = 0.04
# How far across the forehead (in the brows' half widths) hair is painted out: past the
# brows' ends, to the temples the mask covers.
FRINGE_WIDTH = 1.35
# Hair whose lowest mostly-hair row is above this (inter-ocular distances over the brows)
# is a hairline, not a fringe: the blend's hairline cut is right for it.
FRINGE_BELOW = 0.5


def _fill(values: np.ndarray, known: np.ndarray, sigma: float,
          prior: float = 0.02) -> np.ndarray:
    """A smooth field (h, w, c) from the `known` pixels of `values`: their Gaussian-weighted
    mean nearby, drawn toward their overall mean where few are near (normalized
    convolution with a `prior` weight: no rings where the known pixels run out)."""
    import cv2

    vals = values.astype(np.float32)
    if not known.any():
        return vals
    k = known.astype(np.float32)
    mean = vals[known].mean(0)
    w = cv2.GaussianBlur(k, (0, 0), sigma)[..., None]
    num = cv2.GaussianBlur(vals * k[..., None], (0, 0), sigma)
    return (num + prior * mean) / (w + prior)


def _over_brows(lms: np.ndarray, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, float]:
    """Per pixel: height above the brow line under it and signed distance across the face's
    axis (inter-ocular distances), and the brows' half width. The brows arch: measured from
    their mean, a band would start well above the brows' outer ends and leave the hair
    that falls to them."""
    height, _, half_width = _forehead_height(lms, 1, shape)
    brows = lms[17:27].mean(0)
    up = brows - lms[8]
    up = up / (float(np.linalg.norm(up)) + 1e-9)
    iod = max(inter_ocular(lms), 1.0)
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    side = ((xs - brows[0]) * up[1] - (ys - brows[1]) * up[0]) / iod
    d = lms[17:27] - brows
    pts_side = (d[:, 0] * up[1] - d[:, 1] * up[0]) / iod
    pts_height = (d[:, 0] * up[0] + d[:, 1] * up[1]) / iod
    order = np.argsort(pts_side)
    line = np.interp(side, pts_side[order], pts_height[order])
    return height - line, side, half_width


def _lowest_hair(hair: np.ndarray, band: np.ndarray, height: np.ndarray,
                 step: float = 0.08, share: float = 0.55) -> float:
    """Height of the lowest row of the band (`step` high) that is mostly hair."""
    h = FRINGE_FROM
    top = float(height[band].max())
    while h < top:
        row = band & (height >= h) & (height < h + step)
        if row.sum() >= 3 and hair[row].mean() >= share:
            return h
        h += step
    return np.inf


def _above_hairline(hair: np.ndarray, band: np.ndarray, height: np.ndarray,
                    side: np.ndarray, width: float = 0.08, step: float = 0.05,
                    share: float = 0.5) -> np.ndarray:
    """Pixels at or above their column's hairline: columns `width` wide across the face,
    the hairline the lowest `step`-high cell of the band that is mostly hair."""
    out = np.zeros(hair.shape, bool)
    cols = np.floor(side / width).astype(int)
    for c in np.unique(cols[band]):
        col = band & (cols == c)
        h = float(height[col].min())
        top = float(height[col].max())
        while h < top:
            cell = col & (height >= h) & (height < h + step)
            if cell.sum() >= 2 and hair[cell].mean() >= share:
                out |= (cols == c) & (height >= h)
                break
            h += step
    return out


def without_fringe(rgb: np.ndarray, landmarks: np.ndarray,
                   forehead_height: float = 0.45) -> tuple[np.ndarray, float]:
    """The photo with the hair over its forehead painted out in skin, and the share of the
    forehead band that was hair (0 for a bare forehead: the photo is returned as is)."""
    import cv2

    lms = np.asarray(landmarks, float)
    skin = _analyse(rgb, lms, _scale(lms))
    if skin is None:
        return rgb, 0.0
    iod = max(inter_ocular(lms), 1.0)
    length = float(np.linalg.norm(lms[17:27].mean(0) - lms[8])) + 1e-9
    top = forehead_height * length / iod + 0.1
    h, w = rgb.shape[:2]
    # Work on a box around the forehead only.
    x0 = int(max(lms[:, 0].min() - 0.3 * iod, 0))
    x1 = int(min(lms[:, 0].max() + 0.3 * iod, w))
    y1 = int(min(lms[17:27, 1].max() + 0.1 * iod, h))
    y0 = int(max(lms[17:27, 1].min() - (top + 0.3) * iod, 0))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return rgb, 0.0
    box = np.ascontiguousarray(rgb[y0:y1, x0:x1])
    local = lms - [x0, y0]
    height, side, half_width = _over_brows(local, box.shape[:2])
    across = np.abs(side)
    band = (height >= FRINGE_FROM) & (height < top) & (across < FRINGE_WIDTH * half_width)
    if band.sum() < 16:
        return rgb, 0.0
    lab = _lab(box.astype(np.float32))
    mean, std = skin.mean, skin.std
    # Clearly skin: near the cheeks' statistics in lightness as well as hue (a fringe can
    # share the skin's hue, and light strands come close to it).
    strict = ((np.abs(lab[..., 0] - mean[0]) < 1.5 * std[0] + 3)
              & (np.abs(lab[..., 1] - mean[1]) < 2 * std[1] + 2)
              & (np.abs(lab[..., 2] - mean[2]) < 2 * std[2] + 2))
    hair = band & ~strict
    # Strays (a freckle, a highlight) are not a fringe: keep what is joined in bulk.
    k = max(int(0.04 * iod) | 1, 3)
    hair = cv2.morphologyEx(hair.astype(np.uint8), cv2.MORPH_OPEN, np.ones((k, k), np.uint8))
    hair = cv2.dilate(hair, np.ones((k, k), np.uint8)) > 0
    hair &= (height >= FRINGE_FROM) & (height < top + 0.1) & (across < FRINGE_WIDTH * half_width)
    share = float(hair[band].mean())
    if share < FRINGE_MIN_SHARE or _lowest_hair(hair, band, height) >= FRINGE_BELOW:
        return rgb, 0.0
    # Light strands pass for skin by colour: in each column of the forehead, everything
    # from where the hair starts upward is the fringe.
    hair |= band & _above_hairline(hair, band, height, side)
    # Skin that may be averaged in: clearly skin (so not the brows), off the hair's edge,
    # above the brows' own hair, never what lies beside the face.
    band_or_below = (height < top) & (across < FRINGE_WIDTH * half_width)
    away = cv2.dilate(hair.astype(np.uint8), np.ones((k, k), np.uint8)) == 0
    donors = strict & away & band_or_below & (height >= 0.1)
    filled = _fill(box, donors, 0.2 * iod)
    # The skin's fine grain, from the donors' own high-pass level.
    rng = np.random.default_rng(0)
    detail = box.astype(np.float32) - cv2.GaussianBlur(box.astype(np.float32), (0, 0), 2.0)
    grain = float(detail[donors].std()) if donors.sum() > 16 else 0.0
    noise = cv2.GaussianBlur(rng.standard_normal(box.shape[:2]).astype(np.float32), (0, 0), 0.8)
    noise *= grain / (float(noise.std()) + 1e-6)
    filled += noise[..., None] * 0.6
    alpha = cv2.GaussianBlur(hair.astype(np.float32), (0, 0), max(1.0, 0.02 * iod))[..., None]
    out = np.array(rgb, copy=True)
    out[y0:y1, x0:x1] = np.clip(box * (1 - alpha) + filled * alpha + 0.5, 0, 255).astype(
        np.uint8)
    return out, share
