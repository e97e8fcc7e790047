"""Merging a rendered face into its frame: colour matching, feathered or Poisson blending.

Shared by every swap engine (and by lip-sync later): an engine supplies a `Patch`; this
module makes its colours agree with the target skin and lays it in with a soft edge, and
can leave the target's own mouth in place so real speech stays real. The inside of the
mouth (teeth, tongue, darkness: within the inner lips) is always the target's own by
default, never the engine's: a source photo's teeth must not show through closed lips.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retake.video.expression import carry_inner_mouth
from retake.video.geometry import region_mask
from retake.video.swappers import Patch

COLOUR_MODES = ("lab", "histogram", "none")
BLEND_MODES = ("feather", "poisson")


@dataclass(frozen=True)
class MergeOptions:
    """How to merge: colour transfer, blending, mask softness, keep the target's mouth.

    `keep_mouth` keeps the target's whole mouth, lips included; `keep_inner_mouth` (on by
    default) only what lies inside its inner lips, so the lips are the new face's.
    """

    colour: str = "lab"
    blend: str = "feather"
    feather: float = 0.10
    keep_mouth: bool = False
    keep_inner_mouth: bool = True
    forehead: float = 0.3


def lab_transfer(src: np.ndarray, ref: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Shift `src` colours (float RGB 0..255) so their LAB mean and spread match `ref`'s.

    Statistics are taken where `weight` > 0.5 (the inner face), per Reinhard et al. 2001.
    """
    import cv2

    sel = weight > 0.5
    if sel.sum() < 16:
        return src
    s = cv2.cvtColor(np.clip(src, 0, 255).astype(np.float32) / 255, cv2.COLOR_RGB2LAB)
    r = cv2.cvtColor(np.clip(ref, 0, 255).astype(np.float32) / 255, cv2.COLOR_RGB2LAB)
    sm, ss = s[sel].mean(0), s[sel].std(0) + 1e-6
    rm, rs = r[sel].mean(0), r[sel].std(0) + 1e-6
    # Limit the contrast change: a shadowed target should not flatten the source's features.
    gain = np.clip(rs / ss, 0.6, 1.6)
    out = (s - sm) * gain + rm
    return cv2.cvtColor(out.astype(np.float32), cv2.COLOR_LAB2RGB) * 255


def histogram_transfer(src: np.ndarray, ref: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Match each RGB channel's histogram inside the mask to the reference's."""
    sel = weight > 0.5
    if sel.sum() < 16:
        return src
    out = src.copy()
    for c in range(3):
        s = src[..., c][sel]
        r = ref[..., c][sel]
        qs = np.linspace(0, 100, 101)
        sp, rp = np.percentile(s, qs), np.percentile(r, qs)
        sp = np.maximum.accumulate(sp + np.arange(101) * 1e-6)
        out[..., c] = np.interp(src[..., c], sp, rp)
    return out


def merge(frame: np.ndarray, patch: Patch, target_landmarks: np.ndarray,
          options: MergeOptions | None = None) -> np.ndarray:
    """The frame with the patch laid in (a new uint8 array; the input is not modified)."""
    import cv2

    opts = options or MergeOptions()
    h, w = patch.mask.shape
    x0, y0 = patch.x0, patch.y0
    x1, y1 = min(x0 + w, frame.shape[1]), min(y0 + h, frame.shape[0])
    cx0, cy0 = max(x0, 0), max(y0, 0)
    if x1 <= cx0 or y1 <= cy0:
        return frame.copy()
    sl = (slice(cy0 - y0, y1 - y0), slice(cx0 - x0, x1 - x0))
    rgb = patch.rgb[sl]
    valid = patch.mask[sl]
    region = frame[cy0:y1, cx0:x1].astype(np.float32)
    local = patch.landmarks - [cx0, cy0]
    inner = region_mask(region.shape, local, "inner", feather=0) * (valid > 0.99)
    if opts.colour == "lab":
        rgb = lab_transfer(rgb, region, inner)
    elif opts.colour == "histogram":
        rgb = histogram_transfer(rgb, region, inner)
    alpha = region_mask(region.shape, local, "face", feather=opts.feather,
                        forehead_height=opts.forehead)
    alpha = np.minimum(alpha, valid)
    if opts.keep_mouth:
        mouth = region_mask(region.shape, np.asarray(target_landmarks) - [cx0, cy0], "mouth",
                            feather=0.05)
        alpha = alpha * (1 - mouth)
    elif opts.keep_inner_mouth:
        if np.shares_memory(rgb, patch.rgb):
            rgb = rgb.astype(np.float32)  # (no colour transfer: leave the engine's patch be)
        carry_inner_mouth(rgb, alpha, region, np.asarray(target_landmarks) - [cx0, cy0], local)
    out = frame.copy()
    if opts.blend == "poisson":
        hard = (alpha > 0.5).astype(np.uint8) * 255
        ys, xs = np.nonzero(hard)
        if len(xs) > 16:
            hard[[0, -1], :] = 0
            hard[:, [0, -1]] = 0
            centre = (int((xs.min() + xs.max()) / 2) + cx0, int((ys.min() + ys.max()) / 2) + cy0)
            src_full = out.copy()
            src_full[cy0:y1, cx0:x1] = np.clip(rgb, 0, 255).astype(np.uint8)
            mask_full = np.zeros(out.shape[:2], np.uint8)
            mask_full[cy0:y1, cx0:x1] = hard
            x, y, bw, bh = cv2.boundingRect(mask_full)
            centre = (x + bw // 2, y + bh // 2)
            cloned = cv2.seamlessClone(src_full, out, mask_full, centre, cv2.NORMAL_CLONE)
            # Keep Poisson's colours but the feathered edge's softness.
            a = alpha[..., None]
            region_c = cloned[cy0:y1, cx0:x1].astype(np.float32)
            out[cy0:y1, cx0:x1] = np.clip(region_c * a + region * (1 - a), 0, 255
                                          ).astype(np.uint8)
            return out
    a = alpha[..., None]
    out[cy0:y1, cx0:x1] = np.clip(rgb * a + region * (1 - a) + 0.5, 0, 255).astype(np.uint8)
    return out
