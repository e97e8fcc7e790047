"""Merging a rendered face into its frame: colour matching, multi-band, feathered or Poisson.

Shared by every swap engine (and by lip-sync later): an engine supplies a `Patch`; this
module makes its colours agree with the target skin and lays it in with a soft edge, and
can leave the target's own mouth in place so real speech stays real. The inside of the
mouth (teeth, tongue, darkness: within the inner lips) is always the target's own by
default, never the engine's: a source photo's teeth must not show through closed lips.

Colour (`skin_transfer`, mode "lab"): statistics come from skin alone on both faces (the
inner face without brows, eyes, lips and nostrils, kept off the jaw line; off-hue pixels,
and for the means the darkest tenth and brightest few percent, left out). Lightness moves
by the ratio of the two skins' means times the target's own shading over the source's,
smoothed at 0.1 inter-ocular where both show skin (not around the mouth, whose relief
stays the source's; out nearer the jaw line than the colour statistics, and above the
brows up the forehead too, where a photo often catches more light than on its cheeks),
so the target's light falls across the new face; the source's finer detail takes the
target's contrast within bounds. Skin chroma
scales about neutral to the target's, with a small clamped offset. Brows, irises and lips
(what near them does not look like skin) keep their own hue and saturation, lit like the
skin around them, so a shift computed on skin never turns dark brows green or blue.

Boundary (`blend_mask`, `MergeOptions.contour`): the new face ends inside the target's own
face, its outline pulled in a little and, on a turned head, more on the far side, where
the jaw points sit on the silhouette; and it leaves out hair the target shows over its
forehead or temples (pixels far from its skin's colour, joined to the outline's edge).
The default "multiband" blend lays the patch in with a Laplacian pyramid (Burt and Adelson
1983) over the face's box: fine detail changes over a few pixels (no doubled jaw or
ghosted hair), colour and shading over about a fifth of the inter-ocular distance (no
seam); what lies between (a photo's lit chin or jaw shadow against the target's) can
still make a step, and where it does (more edge across the boundary than the frame has
there: `SEAM_FREE`, `SEAM_FULL`) the face is laid in again with the frame's own light near
the edge (`match_boundary`). The merge before
(Reinhard statistics over the whole inner face, a wide feather on the rendered outline)
is `PREVIOUS` (`colour="reinhard"`, `blend="feather"`, `contour=False`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from retake.video.brows import erase_brows
from retake.video.expression import carry_inner_mouth
from retake.video.geometry import (
    LEFT_EYE,
    OUTER_LIPS,
    RIGHT_EYE,
    forehead,
    inter_ocular,
    outline,
    region_mask,
)
from retake.video.swappers import Patch

COLOUR_MODES = ("lab", "reinhard", "histogram", "none")
BLEND_MODES = ("multiband", "feather", "poisson")
# Each blend's soft edge (`MergeOptions.feather`) when none is given: the pyramid carries
# colour over a wide band by itself, so its finest edge can be narrow.
DEFAULT_FEATHER = {"multiband": 0.03, "feather": 0.10, "poisson": 0.10}


@dataclass(frozen=True)
class MergeOptions:
    """How to merge: colour transfer, blending, mask softness, keep the target's mouth.

    `keep_mouth` keeps the target's whole mouth, lips included; `keep_inner_mouth` (on by
    default) only what lies inside its inner lips, so the lips are the new face's.
    `contour` keeps the blend boundary inside the target's own face (see the module doc).
    `feather` is the soft edge (a share of 2.5 inter-ocular distances; None: the blend's
    own default, `DEFAULT_FEATHER`).
    """

    colour: str = "lab"
    blend: str = "multiband"
    feather: float | None = None
    keep_mouth: bool = False
    keep_inner_mouth: bool = True
    forehead: float = 0.3
    contour: bool = True


# The merge before skin-only colour and the contour-following multi-band boundary.
PREVIOUS = MergeOptions(colour="reinhard", blend="feather", contour=False)


# Merges between measurements of the slow-changing decisions for a face followed frame by
# frame (`Reuse`: live and file swaps alike).
REUSE_EVERY = 6


@dataclass
class Reuse:
    """Slow-changing merge decisions for one face followed frame by frame (live and file
    swaps): how much the photo is softened, where its hairline is, how much of the frame's
    light its edge takes. Measured on every `every`-th merge and reused in between
    (together about a fifth of a frame's merge time); without a Reuse, every merge
    measures them."""

    every: int = REUSE_EVERY
    merges: int = 0
    values: dict = field(default_factory=dict)
    fresh: bool = True


def _kept(reuse: Reuse | None, key: str, compute):
    """`compute()`, or its value from the last measuring merge when `reuse` says so."""
    if reuse is None:
        return compute()
    if reuse.fresh or key not in reuse.values:
        reuse.values[key] = compute()
    return reuse.values[key]


def lab_transfer(src: np.ndarray, ref: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Shift `src` colours (float RGB 0..255) so their LAB mean and spread match `ref`'s.

    Statistics are taken where `weight` > 0.5 (the inner face), per Reinhard et al. 2001.
    (Colour mode "reinhard"; lip-sync uses it on its skin-only mask.)
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


# --- skin: where colour statistics come from -------------------------------------------

def _lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (L 0..100, a and b signed) of float or uint8 RGB 0..255."""
    import cv2

    return cv2.cvtColor(np.clip(rgb, 0, 255).astype(np.float32) / 255, cv2.COLOR_RGB2LAB)


def _draw_hull(mask: np.ndarray, pts: np.ndarray, grow: float = 0.0) -> None:
    import cv2

    pts = np.asarray(pts, float)
    if grow:
        c = pts.mean(0)
        pts = c + (pts - c) * (1 + grow)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(pts).astype(np.int32)), 255)


def _soft_hulls(shape: tuple[int, int], hulls: list[np.ndarray], sigma: float,
                grow: float = 0.0) -> np.ndarray:
    """The filled convex hulls of `hulls` (point arrays), blurred by `sigma` pixels (at
    least 0.5): a soft float32 (h, w) mask in [0, 1]."""
    import cv2

    mask = np.zeros(shape, np.uint8)
    for pts in hulls:
        _draw_hull(mask, pts, grow=grow)
    return cv2.GaussianBlur(mask.astype(np.float32) / 255, (0, 0), max(sigma, 0.5))


def _draw_brows(mask: np.ndarray, lms: np.ndarray, iod: float, thickness: float) -> None:
    """Each brow as a thick line a little below dlib's points (they trace its upper half)."""
    import cv2

    down = lms[8] - lms[27]
    down = down / (np.linalg.norm(down) + 1e-9)
    t = max(int(round(thickness * iod)), 1)
    for brow in (lms[17:22], lms[22:27]):
        pts = np.round(brow + down * 0.05 * iod).astype(np.int32)
        cv2.polylines(mask, [pts], False, 255, t)


def feature_mask(shape: tuple[int, ...], landmarks: np.ndarray,
                 brows_only: bool = False) -> np.ndarray:
    """Brows, eyes (lids and lashes) and lips (or the brows alone), soft (float32 (h, w)
    in [0, 1])."""
    import cv2

    lms = np.asarray(landmarks, float)
    iod = max(inter_ocular(lms), 1.0)
    hard = np.zeros(shape[:2], np.uint8)
    _draw_brows(hard, lms, iod, 0.2)
    if not brows_only:
        for eye in (LEFT_EYE, RIGHT_EYE):
            _draw_hull(hard, lms[eye], grow=0.45)
        _draw_hull(hard, lms[OUTER_LIPS], grow=0.08)
    return cv2.GaussianBlur(hard.astype(np.float32) / 255, (0, 0), max(0.04 * iod, 0.5))


def _hair_texture(light: np.ndarray, landmarks: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """How hair-like the fine detail of `light` (L*) is, 0..1: its local energy above a
    Gaussian of 0.012 inter-ocular, against the median of the skin's (`skin`, a mask at any
    resolution), from `HAIR_TEXTURE`[0] to [1] times it. Brow hair on the shared photos
    reads 1.7-3x the skin; the creases between biden2's brows 1.1x."""
    import cv2

    sigma = max(0.012 * inter_ocular(np.asarray(landmarks, float)), 0.8)
    fine = light - cv2.GaussianBlur(light, (0, 0), sigma)
    energy = np.sqrt(cv2.GaussianBlur(fine * fine, (0, 0), 2 * sigma))
    h, w = light.shape
    on_skin = cv2.resize(skin.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
    if on_skin.sum() < 16:
        return np.zeros_like(light)
    ratio = energy / max(float(np.median(energy[on_skin])), 1e-3)
    return np.clip((ratio - HAIR_TEXTURE[0]) / (HAIR_TEXTURE[1] - HAIR_TEXTURE[0]), 0, 1)


def skin_mask(shape: tuple[int, ...], landmarks: np.ndarray, margin: float = 0.16,
              jaw: slice = slice(2, 15)) -> np.ndarray:
    """Where skin should be (bool (h, w)): the inner face (brows to the `jaw` points) kept
    `margin` inter-ocular distances off the jaw line, without brows, eyes, lips and
    nostrils. `skin_pixels` then drops what is not."""
    import cv2

    lms = np.asarray(landmarks, float)
    iod = max(inter_ocular(lms), 1.0)
    inner = np.zeros(shape[:2], np.uint8)
    _draw_hull(inner, np.vstack([lms[17:27], lms[jaw]]))
    k = max(int(margin * iod) | 1, 3)
    inner = cv2.erode(inner, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    out = np.zeros_like(inner)
    _draw_brows(out, lms, iod, 0.3)
    for eye in (LEFT_EYE, RIGHT_EYE):
        _draw_hull(out, lms[eye], grow=0.7)
    _draw_hull(out, lms[OUTER_LIPS], grow=0.2)
    _draw_hull(out, np.vstack([lms[31:36], lms[31:36] + (lms[33] - lms[30]) * 0.25]),
               grow=0.15)
    return (inner > 0) & (out == 0)


def skin_pixels(lab: np.ndarray, where: np.ndarray, light: bool = True) -> np.ndarray:
    """`where` less what is not plain skin: pixels far off the skin's median hue (stray
    hair, stubble, make-up: chroma farther than 3 x the median chroma distance, at least
    6) and, with `light`, the darkest 10% and brightest 3% by lightness (shadows,
    speculars: left out of colour statistics, kept where shading is measured)."""
    sel = where.copy()
    if sel.sum() < 32:
        return sel
    px = lab[sel]
    med = np.median(px[:, 1:], 0)
    dist = np.linalg.norm(px[:, 1:] - med, axis=1)
    keep = dist <= max(3 * np.median(dist), 6.0)
    if light:
        lo, hi = np.percentile(px[:, 0], (10, 97))
    else:  # shadows stay, but not what is far darker or brighter than any skin
        q1, mid, q3 = np.percentile(px[:, 0], (25, 50, 75))
        lo, hi = mid - 3 * max(q3 - q1, 4.0), mid + 3 * max(q3 - q1, 4.0)
    keep &= (px[:, 0] >= lo) & (px[:, 0] <= hi)
    sel[sel] = keep
    return sel


def forehead_band(shape: tuple[int, ...], landmarks: np.ndarray, height: float) -> np.ndarray:
    """The forehead from 0.15 inter-ocular above the brows' points (clear of their hair) up
    to `height` (as `geometry.forehead`: a share of the brow-to-chin distance), bool (h, w);
    empty when that is no height. Whether it shows skin is for the caller to test."""
    import cv2

    lms = np.asarray(landmarks, float)
    iod = max(inter_ocular(lms), 1.0)
    up = lms[27] - lms[8]
    up = up / (np.linalg.norm(up) + 1e-9)
    brows = lms[17:27] + up * 0.15 * iod
    top = forehead(lms, height)
    if np.linalg.norm(top[4:6].mean(0) - lms[17:27].mean(0)) <= 0.2 * iod:
        return np.zeros(shape[:2], bool)
    band = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(band, [np.round(np.vstack([brows, top[::-1]])).astype(np.int32)], 255)
    return band > 0


def _above_brows(shape: tuple[int, ...], lms: np.ndarray, soft: float) -> np.ndarray:
    """A weight (float32 (h, w)): 0 at the brows and below, 1 higher up the forehead; the
    step sits 0.1 inter-ocular plus `soft` above the brows (extended sideways by one
    inter-ocular), softened by a Gaussian of `soft`."""
    import cv2

    iod = max(inter_ocular(lms), 1.0)
    up = lms[27] - lms[8]
    up = up / (np.linalg.norm(up) + 1e-9)
    brows = lms[17:27]
    side = (brows[-1] - brows[0]) / (np.linalg.norm(brows[-1] - brows[0]) + 1e-9) * iod
    low = np.vstack([brows[0] - side, brows, brows[-1] + side]) + up * (0.1 * iod + soft)
    poly = np.vstack([low, (low + up * 4 * iod)[::-1]])
    out = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(out, [np.round(poly).astype(np.int32)], 255)
    return cv2.GaussianBlur(out.astype(np.float32) / 255, (0, 0), max(soft, 0.5))


@dataclass
class _Skin:
    """One face at low resolution: its LAB pixels, skin mask and skin statistics."""

    lab: np.ndarray
    mask: np.ndarray  # skin for colour statistics
    shading: np.ndarray  # skin for its low-frequency lightness (shadows kept)
    mean: np.ndarray
    std: np.ndarray
    forehead: np.ndarray | None = None  # forehead skin, for its shading above the brows


def _analyse(rgb: np.ndarray, lms: np.ndarray, f: int, valid: np.ndarray | None = None,
             forehead_height: float = 0.0) -> _Skin | None:
    """One face's skin at 1/`f` resolution; with `forehead_height`, its shading mask also
    takes the forehead up to there (`forehead_band`: what of it is skin)."""
    import cv2

    h, w = rgb.shape[:2]
    size = (max(w // f, 1), max(h // f, 1))
    small = cv2.resize(np.asarray(rgb, np.float32), size, interpolation=cv2.INTER_AREA)
    lab = _lab(small)
    p = (np.asarray(lms, float) - (f - 1) / 2) / f
    where = skin_mask(lab.shape, p)
    ok = None
    if valid is not None:
        ok = cv2.resize(np.asarray(valid, np.float32), size,
                        interpolation=cv2.INTER_AREA) > 0.99
        where &= ok
    sel = skin_pixels(lab, where)
    if sel.sum() < 16:
        return None
    px = lab[sel]
    shading = skin_pixels(lab, where, light=False)
    brow = np.zeros(lab.shape[:2], bool)
    if forehead_height > 0:
        # Out to where the blend ends: nearer the jaw line, and up the forehead (its
        # pixels kept apart: their light is carried above the brows only).
        jaw = skin_mask(lab.shape, p, SHADING_MARGIN, slice(0, 17)) & ~where
        brow = forehead_band(lab.shape, p, forehead_height) & ~where & ~jaw
        if ok is not None:
            jaw &= ok
            brow &= ok
        # They must look like this face's skin (a fringe can share its hue).
        mean, std = px.mean(0), px.std(0)
        like = ((np.abs(lab[..., 0] - mean[0]) < 3 * std[0] + 10)
                & (np.abs(lab[..., 1] - mean[1]) < 3 * std[1] + 3)
                & (np.abs(lab[..., 2] - mean[2]) < 3 * std[2] + 3))
        shading |= jaw & like
        brow &= like
    return _Skin(lab, sel, shading, px.mean(0), px.std(0) + 1e-6, brow)


def _scale(landmarks: np.ndarray) -> int:
    """The downsampling factor for colour statistics: about 24 pixels between the eyes."""
    return max(1, int(inter_ocular(np.asarray(landmarks, float)) / 24))


def target_skin(rgb: np.ndarray, landmarks: np.ndarray) -> _Skin | None:
    """The target face's skin as `skin_transfer` and `blend_mask` both read it (its
    colour statistics do not depend on the forehead's shading band), analysed once."""
    return _analyse(rgb, landmarks, _scale(landmarks), forehead_height=SHADING_FOREHEAD)


# Chroma: gain about neutral within these bounds; the offset that is left, at most this.
CHROMA_GAIN = (0.5, 2.0)
CHROMA_OFFSET = 6.0
# Lightness: the two skins' mean ratio (on L* + 16, about the cube root of luminance) and
# the local correction on top of it, each within these bounds.
SHADING_RATIO = (0.4, 2.5)
SHADING_LOCAL = (0.7, 1.4)
# The scales (Gaussian sigma, inter-ocular distances) above which lightness and skin
# chroma are the target's; below them they are the source's own.
SHADING_SCALE = 0.10
COLOUR_SCALE = 0.15
# How much of the lightness change (in its logarithm) and of the skin's chroma mapping
# brows, eyes and lips take: the rest keeps their own hue, lit like the skin around them.
FEATURE_LIGHT, FEATURE_CHROMA = 0.5, 0.15
# In the brows' band, pixels this much darker than the skin about them (L*: from the
# first to the second, fading in) keep their own hue (fair brow hair).
HAIR_DARKER = (1.0, 5.0)
HAIR_TEXTURE = (1.3, 2.0)  # ...and whose fine detail is this many times the skin's
# How much of the local shading correction the mouth and the skin around it take.
MOUTH_SHADING = 0.0
# The source's skin detail (about its local mean) is scaled toward the target's contrast
# within these bounds (a soft, dim target softens it; a sharper one barely sharpens it).
DETAIL_GAIN = (0.9, 1.1)
# How far up the forehead (a share of the brow-to-chin distance, as `geometry.forehead`;
# the blend's forehead is 0.3) the shading is measured: a photo's forehead often catches
# more light than its cheeks, a target's less, and measured on the cheeks alone the laid-in
# forehead kept the photo's (up to 21 L* lighter than the target's).
SHADING_FOREHEAD = 0.3
# and how near the jaw line (inter-ocular distances; colour statistics keep 0.16 off it).
SHADING_MARGIN = 0.06
# Where both faces show less skin than this (blurred density), the local corrections
# fade to the global ones.
LOCAL_SUPPORT = 0.05


def _mean(values: np.ndarray, weight: np.ndarray, sigma: float, fill: float) -> np.ndarray:
    """`values` smoothed over `weight`, tending to `fill` where the weight is sparse."""
    import cv2

    wt = weight.astype(np.float32)
    num = cv2.GaussianBlur(values.astype(np.float32) * wt, (0, 0), sigma)
    den = cv2.GaussianBlur(wt, (0, 0), sigma)
    return (num + LOCAL_SUPPORT * fill) / (den + LOCAL_SUPPORT)


def _local(values: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    """`values` smoothed over `weight`, fading to 0 where the weight is sparse."""
    import cv2

    wt = weight.astype(np.float32)
    num = cv2.GaussianBlur(values.astype(np.float32) * wt, (0, 0), sigma)
    den = cv2.GaussianBlur(wt, (0, 0), sigma)
    return num / (den + LOCAL_SUPPORT)


def skin_transfer(src: np.ndarray, ref: np.ndarray, src_landmarks: np.ndarray,
                  ref_landmarks: np.ndarray, valid: np.ndarray | None = None,
                  ref_skin: _Skin | None = None) -> np.ndarray:
    """Recolour `src` (float RGB 0..255) so its skin matches `ref`'s skin; the same rectangle.

    `src_landmarks` are where the face in `src` is drawn, `ref_landmarks` the face in `ref`
    (pixels of the rectangle); `valid` (optional) where `src` has pixels. Statistics come
    from skin only (`skin_mask`, `skin_pixels`), at about 24 pixels per inter-ocular
    distance. Lightness: (L + 16) is multiplied by the ratio of the two skins' means, and
    by a local correction: the per-pixel ratio where both faces show skin (shadows kept),
    smoothed at `SHADING_SCALE` inter-ocular (the target's light carried over, the
    source's divided out; within `SHADING_LOCAL`), except around the nose and mouth
    (`MOUTH_SHADING`: there the source's relief stays, the lips stay findable). Chroma
    of skin: a* and b* scaled about neutral by the ratio of skin means (within
    `CHROMA_GAIN`), plus what that leaves of the difference, locally, at most
    `CHROMA_OFFSET`. Detail: lightness about the
    source skin's local mean is scaled toward the target's contrast (`DETAIL_GAIN`).
    The shading is also measured nearer the jaw line (`SHADING_MARGIN`) and, for what lies
    above the brows only, up the forehead (`SHADING_FOREHEAD`).
    Features, the pixels near brows, eyes and lips (`feature_mask`) that do not look like
    the source's skin, take `FEATURE_LIGHT` of the lightness change and keep their detail;
    their chroma is scaled with their lightness (same hue and saturation, as under a
    different light) plus `FEATURE_CHROMA` of the skin's mapping (none inside the eye
    opening), so a shift computed on skin never turns dark brows or irises green or blue.
    Lips take the whole lightness change (they stay as much darker than the skin).
    Returns a new float32 array (or `src` itself when either face shows too little skin).
    `ref_skin`: `target_skin` of `ref`, when the caller already has it.
    """
    import cv2

    f = _scale(ref_landmarks)
    s = _analyse(src, src_landmarks, f, valid, SHADING_FOREHEAD)
    r = ref_skin if ref_skin is not None else target_skin(ref, ref_landmarks)
    if s is None or r is None:
        return src
    iod = inter_ocular(np.asarray(ref_landmarks, float)) / f
    sigma = max(SHADING_SCALE * iod, 1.0)
    sigma_c = max(COLOUR_SCALE * iod, 1.0)
    h, w = src.shape[:2]
    ratio = float(np.clip((r.mean[0] + 16) / (s.mean[0] + 16), *SHADING_RATIO))
    both = s.shading & r.shading
    bounds = np.log(SHADING_LOCAL)
    local = np.clip(np.log((r.lab[..., 0] + 16) / ((s.lab[..., 0] + 16) * ratio)), *bounds)
    correction = _local(local, both, sigma)
    brow = s.forehead & r.forehead if s.forehead is not None and r.forehead is not None \
        else None
    if brow is not None and brow.sum() >= 8:
        # Above the brows the light measured on the forehead too (a photo's forehead
        # often catches more light than its cheeks, a target's less); at and below them
        # not (the brow ridge's relief is much of the photo's likeness).
        drawn = (np.asarray(src_landmarks, float) - (f - 1) / 2) / f
        above = _above_brows(correction.shape, drawn, sigma)
        correction = (1 - above) * correction + above * _local(local, both | brow, sigma)
    if MOUTH_SHADING < 1:
        # Around the mouth the source's own shading stays (its lips' and philtrum's
        # relief is what finds the lips again, and much of the expression).
        zone = np.zeros(correction.shape, np.uint8)
        drawn = (np.asarray(src_landmarks, float) - (f - 1) / 2) / f
        _draw_hull(zone, np.vstack([drawn[31:36], drawn[48:60]]), grow=0.35)
        zone = cv2.GaussianBlur(zone.astype(np.float32) / 255, (0, 0), sigma)
        correction *= 1 - (1 - MOUTH_SHADING) * zone
    log_k = np.log(ratio) + correction
    # The local corrections (clamped, smoothed in the log) can pull the skin's mean off
    # the target's: re-centre so the new skin's mean lightness is the target skin's.
    after = (s.lab[..., 0] + 16) * np.exp(log_k)
    if s.mask.any():
        log_k = log_k + float(np.clip(np.log((r.mean[0] + 16) / after[s.mask].mean()),
                                      -0.25, 0.25))
    log_k = cv2.resize(log_k.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    lab = _lab(src)
    # Features are what, near the brows, eyes and lips, does not look like skin: lid and
    # lip-edge skin take the skin's mapping, brow hair and irises keep their own.
    d2 = (((lab[..., 0] - s.mean[0]) / (2 * s.std[0] + 6)) ** 2
          + ((lab[..., 1] - s.mean[1]) / (s.std[1] + 3)) ** 2
          + ((lab[..., 2] - s.mean[2]) / (s.std[2] + 3)) ** 2)
    feat = feature_mask((h, w), src_landmarks) * np.clip(np.sqrt(d2) - 1, 0, 1)
    # The source's detail (lightness about its skin's local mean) takes the target's
    # contrast, within DETAIL_GAIN; features keep theirs.
    low_s = _mean(s.lab[..., 0], s.shading, sigma, float(s.mean[0]))
    low_r = _mean(r.lab[..., 0], r.shading, sigma, float(r.mean[0]))
    spread_s = float((s.lab[..., 0] - low_s)[s.mask].std())
    spread_r = float((r.lab[..., 0] - low_r)[r.mask].std())
    detail = float(np.clip(spread_r / max(spread_s, 1e-3), *DETAIL_GAIN))
    low = cv2.resize(low_s, (w, h), interpolation=cv2.INTER_LINEAR)
    # Fair brow hair (light brown or blond on pale skin) is near enough the skin's colour
    # to read as skin, and took the target skin's hue (the astronaut's came out 17-18°
    # redder): in the brows' band, what is darker than the skin about it and as finely
    # textured as hair keeps its own hue too (its lightness follows the skin's, as a
    # feature's darkness would not). Texture tells hair from a frown's creases between
    # the brows, as dark but smooth (kept, they came out as red streaks on biden2).
    hair = feature_mask((h, w), src_landmarks, brows_only=True) * np.clip(
        (low - lab[..., 0] - HAIR_DARKER[0]) / (HAIR_DARKER[1] - HAIR_DARKER[0]), 0, 1)
    if hair.max() > 0:
        hair *= _hair_texture(lab[..., 0], src_landmarks, s.mask)
    hued = np.maximum(feat, hair)
    if detail != 1.0:
        lab[..., 0] = low + (lab[..., 0] - low) * (1 - (1 - detail) * (1 - feat))
    # Lips take the whole lightness change: kept half as features are, a photo's lips laid
    # into a dimmer face came out as light as the skin around them (a pale pink patch),
    # where the target's own lips are darker than its skin.
    drawn_px = np.asarray(src_landmarks, float)
    iod_px = max(inter_ocular(drawn_px), 1.0)
    lips = _soft_hulls((h, w), [drawn_px[OUTER_LIPS]], 0.04 * iod_px, grow=0.08)
    k = np.exp(log_k * (1 - FEATURE_LIGHT * feat * (1 - lips)))
    lab[..., 0] = (lab[..., 0] + 16) * k - 16
    # Inside the eye opening (iris, pupil, white) none of the skin's chroma mapping: an
    # iris is no skin, and 15% of a warm-skin shift turned a grey-blue one green. The lids
    # keep their share (a carried blink's look depends on their colour).
    opening = _soft_hulls((h, w), [drawn_px[e] for e in (LEFT_EYE, RIGHT_EYE)], 0.02 * iod_px)
    # Brow hair keeps its own hue whole, as irises do (15% of a warm skin's mapping
    # turned biden2's grey-brown brows 7° toward the target's skin).
    share = 1 - (1 - FEATURE_CHROMA * (1 - np.maximum(opening, hair))) * hued
    skin = s.mask & r.mask
    # A pale pixel of skin (a specular highlight: the photo's light on the skin, under
    # 60% of the skin's mean chroma) takes the new skin's chroma there as it is darkened,
    # or it would stay a grey-blue smear on warm skin.
    vivid = np.clip(np.hypot(lab[..., 1], lab[..., 2])
                    / (0.6 * max(float(np.hypot(s.mean[1], s.mean[2])), 1.0)), 0, 1)
    vivid = np.where(k < 1, vivid, 1.0)  # only where the light goes down
    vivid = 1 - (1 - vivid) * (1 - hued)  # a grey-blue iris is no highlight
    for c in (1, 2):
        sm, rm = float(s.mean[c]), float(r.mean[c])
        gain = float(np.clip(rm / sm, *CHROMA_GAIN)) if sm > 3 and rm > 0 else 1.0
        offset = rm - gain * sm
        # What that leaves of the difference where both show skin (redder cheeks stay).
        rest = _local(r.lab[..., c] - gain * s.lab[..., c] - offset, skin, sigma_c)
        total = np.clip(offset + rest, -CHROMA_OFFSET, CHROMA_OFFSET).astype(np.float32)
        total = cv2.resize(total, (w, h), interpolation=cv2.INTER_LINEAR)
        own = lab[..., c]
        mapped = vivid * (gain * own + total) + (1 - vivid) * (gain * sm + total)
        lab[..., c] = share * mapped + (1 - share) * own * k
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB) * 255


# --- the boundary ---------------------------------------------------------------------

def turn(landmarks: np.ndarray) -> float:
    """How far the head is turned, from the nose tip's place between the jaw's sides:
    (left - right) / (left + right) distances; 0 frontal, about ±0.4 at 30° of yaw;
    negative when the image-left cheek is the far, foreshortened one."""
    p = np.asarray(landmarks, float)
    left, right = np.linalg.norm(p[30] - p[2]), np.linalg.norm(p[14] - p[30])
    return float((left - right) / max(left + right, 1e-9))


# Inset of the target's outline (inter-ocular distances): everywhere, and added on the
# far side of a turned head per unit of `turn` (its jaw points sit on the silhouette).
CONTOUR_INSET, CONTOUR_TURN = 0.05, 0.5
# The softest edge the target's contour gets (as `MergeOptions.feather`).
CONTOUR_FEATHER = 0.03


def target_contour(landmarks: np.ndarray, forehead_height: float = 0.3) -> np.ndarray:
    """The target's face outline (jaw, then forehead) pulled in toward the nose: by
    `CONTOUR_INSET` inter-ocular distances all round and, on a turned head's far side, by
    `CONTOUR_TURN` x |turn| more along the jaw (half that along the forehead)."""
    p = np.asarray(landmarks, float)
    iod = max(inter_ocular(p), 1.0)
    pts = outline(p, forehead_height)
    centre = p[27:31].mean(0)
    across = p[16] - p[0]
    across = across / (np.linalg.norm(across) + 1e-9)
    half = max(float(np.abs((pts - centre) @ across).max()), 1e-6)
    side = (pts - centre) @ across / half  # -1 image-left edge .. 1 image-right
    t = turn(p)
    far = np.clip(np.sign(t) * side, 0, 1)
    # The jaw's far points sit on the silhouette; the forehead's are drawn from the brows,
    # which a turned head keeps inside it (half as far in, so a far brow's tail stays).
    far[17:] *= 0.5
    inset = iod * (CONTOUR_INSET + CONTOUR_TURN * abs(t) * far)
    toward = centre - pts
    dist = np.linalg.norm(toward, axis=1, keepdims=True) + 1e-9
    return pts + toward / dist * np.minimum(inset[:, None], 0.5 * dist)





# How far from the skin's colour (in its spreads; lightness gets 2.5 of its own plus 8) a
# pixel is not skin.
NOT_SKIN = 3.0


def _not_skin(rgb: np.ndarray, lms: np.ndarray, f: int, inside: np.ndarray,
              zone: np.ndarray, skin: _Skin | None = None) -> np.ndarray:
    """Low-resolution mask (bool) of what a face shows within `inside` and `zone` that is
    not skin (hair over the forehead or temple): pixels far from its skin's colour
    (`NOT_SKIN`), outside the features' hull, joined to the edge of `inside`."""
    import cv2

    r = skin if skin is not None else _analyse(rgb, lms, f)
    h, w = inside.shape
    if r is None:
        return np.zeros((h, w), bool)
    p = (np.asarray(lms, float) - (f - 1) / 2) / f
    iod = max(inter_ocular(p), 1.0)
    core = np.zeros((h, w), np.uint8)
    _draw_hull(core, np.vstack([p[17:27], p[36:48], p[27:36], p[48:60]]), grow=0.05)
    # Brows: dlib's points often sit on a thick brow's lower edge, and its tail runs out
    # toward the temple's hair; a band from 0.35 inter-ocular above them to 0.15 below.
    up = p[27] - p[8]
    up = up / (np.linalg.norm(up) + 1e-9)
    for brow in (p[17:22], p[22:27]):
        cv2.polylines(core, [np.round(brow + up * 0.1 * iod).astype(np.int32)], False, 255,
                      max(int(round(0.5 * iod)), 1))
    lab = r.lab
    # Lightness varies with shading far more than hue: allow it a wide band.
    d2 = (((lab[..., 0] - r.mean[0]) / (2.5 * r.std[0] + 8)) ** 2
          + ((lab[..., 1] - r.mean[1]) / (r.std[1] + 2.5)) ** 2
          + ((lab[..., 2] - r.mean[2]) / (r.std[2] + 2.5)) ** 2)
    odd = ((d2 > NOT_SKIN ** 2) & (inside > 0) & (zone > 0) & (core == 0)).astype(np.uint8)
    odd = cv2.morphologyEx(odd, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    # Keep what reaches the outline's edge: hair and background come in from outside.
    edge = inside - cv2.erode(inside, np.ones((3, 3), np.uint8))
    n, labels = cv2.connectedComponents(odd)
    keep = np.unique(labels[(edge > 0) & (odd > 0)])
    keep = keep[keep > 0]
    out = np.isin(labels, keep)
    k = max(int(0.06 * iod) | 1, 3)
    return cv2.dilate(out.astype(np.uint8), np.ones((k, k), np.uint8)) > 0


# Up the forehead, the first band (in inter-ocular distances) where fewer than this share
# of the photo's pixels look like its skin is its hairline.
HAIRLINE_SKIN = 0.45


def _forehead_height(lms: np.ndarray, f: int, small: tuple[int, int]
                     ) -> tuple[np.ndarray, np.ndarray, float]:
    """Per low-resolution pixel: height above the brows and distance across the face's
    axis (inter-ocular distances), and the brows' half width (the same units)."""
    p = (np.asarray(lms, float) - (f - 1) / 2) / f
    iod = max(inter_ocular(p), 1.0)
    brows = p[17:27].mean(0)
    up = brows - p[8]
    up = up / (float(np.linalg.norm(up)) + 1e-9)
    ys, xs = np.mgrid[0:small[0], 0:small[1]].astype(np.float32)
    height = ((xs - brows[0]) * up[0] + (ys - brows[1]) * up[1]) / iod
    across = np.abs((xs - brows[0]) * up[1] - (ys - brows[1]) * up[0]) / iod
    return height, across, 0.5 * float(np.linalg.norm(p[26] - p[17])) / iod


HAIRLINE_STEP = 0.08  # the bands' height (inter-ocular distances)


def _hairline_cut(patch: np.ndarray, lms: np.ndarray, f: int, forehead_height: float,
                  small: tuple[int, int]) -> float | None:
    """Height above the brows (inter-ocular distances) of the rendered photo's hairline,
    None where its forehead is skin all the way up.

    Bands of the forehead, from just above the brows upward, are tested for skin (close
    to the photo's skin in lightness as well as hue: a fringe can share the skin's hue);
    the forehead ends at the first band that is mostly not skin."""
    r = _analyse(patch, lms, f)
    if r is None:
        return None
    p = (np.asarray(lms, float) - (f - 1) / 2) / f
    iod = max(inter_ocular(p), 1.0)
    length = float(np.linalg.norm(p[17:27].mean(0) - p[8])) + 1e-9
    height, across, half_width = _forehead_height(lms, f, small)
    lab = r.lab
    skin = ((np.abs(lab[..., 0] - r.mean[0]) < 2 * r.std[0] + 6)
            & (np.abs(lab[..., 1] - r.mean[1]) < 3 * r.std[1] + 3)
            & (np.abs(lab[..., 2] - r.mean[2]) < 3 * r.std[2] + 3))
    top = forehead_height * length / iod
    h = 0.25  # above the brows' own hair
    while h < top:
        band = (height >= h) & (height < h + HAIRLINE_STEP) & (across < 0.8 * half_width)
        if band.sum() >= 3 and skin[band].mean() < HAIRLINE_SKIN:
            return h
        h += HAIRLINE_STEP
    return None


def _below_hairline(patch: np.ndarray, lms: np.ndarray, f: int, forehead_height: float,
                    small: tuple[int, int], reuse: Reuse | None = None) -> np.ndarray:
    """Low-resolution weight (float32) that is 0 above the rendered photo's hairline
    (`_hairline_cut`), fading over a band."""
    cut = _kept(reuse, "hairline",
                lambda: _hairline_cut(patch, lms, f, forehead_height, small))
    if cut is None:
        return np.ones(small, np.float32)
    height = _forehead_height(lms, f, small)[0]
    return np.clip((cut - height) / HAIRLINE_STEP, 0, 1).astype(np.float32)


def blend_mask(region: np.ndarray, rendered: np.ndarray, target: np.ndarray,
               feather: float = 0.03, forehead_height: float = 0.3,
               contour: bool = True, patch: np.ndarray | None = None,
               skin: _Skin | None = None, reuse: Reuse | None = None) -> np.ndarray:
    """The blend's alpha (float32 (h, w)) over `region` (the frame's pixels of the patch).

    The rendered face's outline (`region_mask` 'face'); with `contour`, also inside the
    target's own (`target_contour`) and off the hair it shows over its forehead and
    temples (`_not_skin`), and, given the rendered `patch` (RGB, the region's size), off
    the hair the source photo has there (a fringe over the photo's forehead would sit on
    the target's like a cap: the target's own forehead shows instead), with a soft edge of
    at most `CONTOUR_FEATHER`. Landmarks are in the region's pixels.
    """
    import cv2

    h, w = region.shape[:2]
    alpha = region_mask((h, w), rendered, "face", feather=feather,
                        forehead_height=forehead_height)
    if not contour:
        return alpha
    target = np.asarray(target, float)
    f = _scale(target)
    small = (max(h // f, 1), max(w // f, 1))
    inside = np.zeros(small, np.uint8)
    pts = (target_contour(target, forehead_height) - (f - 1) / 2) / f
    cv2.fillPoly(inside, [np.round(pts).astype(np.int32)], 1)
    # Hair only where it falls: over the forehead and temples, above the eyes' line (on
    # the cheeks and jaw, shadow and make-up are too often unlike the skin's mean).
    upper = np.zeros(small, np.uint8)
    top = np.vstack([target[[16]], forehead(target, forehead_height), target[[0]]])
    cv2.fillPoly(upper, [np.round((top - (f - 1) / 2) / f).astype(np.int32)], 1)
    keep = inside * (1 - _not_skin(region, target, f, inside, upper, skin))
    if patch is not None:
        keep = keep * _below_hairline(patch, rendered, f, forehead_height, small, reuse)

    keep = cv2.resize(keep.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    # A soft edge kept inside the contour: the rendered outline's, at most a narrow one
    # (a wide feather there would pull the face far in from the target's own edge).
    scale = max(inter_ocular(target), 1.0) * 2.5
    radius = min(feather, CONTOUR_FEATHER) * scale
    if radius >= 1:
        k = int(radius)
        hard = (keep > 0.5).astype(np.uint8)
        hard = cv2.erode(hard, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k | 1, k | 1)))
        keep = cv2.GaussianBlur(hard.astype(np.float32), (0, 0), radius / 2)
    return np.minimum(alpha, keep)


def multiband(fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray, levels: int) -> np.ndarray:
    """Laplacian-pyramid blend (Burt and Adelson 1983) of float32 images, `alpha` on `fg`.

    Level k's detail is blended with `alpha` blurred to that level, so fine detail changes
    over the mask's own edge and the coarsest colour over about 2**levels pixels.
    """
    bg = np.asarray(bg, np.float32)
    return bg + _blend_difference(np.asarray(fg, np.float32) - bg, alpha, levels)


def _blend_difference(diff: np.ndarray, alpha: np.ndarray, levels: int) -> np.ndarray:
    """`multiband` less its background: the pyramid of fg - bg, each level weighted by
    the alpha's pyramid (the blend is linear, so one pyramid does for both pictures)."""
    import cv2

    gd, ga = [diff], [np.asarray(alpha, np.float32)]
    for _ in range(levels):
        if min(gd[-1].shape[:2]) < 4:
            break
        gd.append(cv2.pyrDown(gd[-1]))
        ga.append(cv2.pyrDown(ga[-1]))
    out = gd[-1] * ga[-1][..., None]
    for k in range(len(gd) - 2, -1, -1):
        size = (gd[k].shape[1], gd[k].shape[0])
        detail = gd[k] - cv2.pyrUp(gd[k + 1], dstsize=size)
        out = cv2.pyrUp(out, dstsize=size) + detail * ga[k][..., None]
    return out


# Blurs tried, smallest first, to bring a sharp photo down to a soft frame's detail.
SHARPNESS_SIGMAS = (0.5, 0.75, 1.0, 1.4, 2.0, 2.8)


def _fine_detail(rgb: np.ndarray, where: np.ndarray) -> float:
    """Fine-detail energy of skin: variance of lightness less its 1.5 px blur, where set."""
    import cv2

    y = cv2.cvtColor(np.clip(rgb, 0, 255).astype(np.float32) / 255, cv2.COLOR_RGB2GRAY)
    high = y - cv2.GaussianBlur(y, (0, 0), 1.5)
    return float(high[where].var()) if where.sum() > 16 else 0.0


def match_sharpness(src: np.ndarray, ref: np.ndarray, src_landmarks: np.ndarray,
                    ref_landmarks: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """`src` blurred just enough that its skin's fine detail is no sharper than `ref`'s.

    A sharp photo laid into a soft frame (a compressed, upscaled or defocused clip) reads
    as pasted on, and its crisp texture meets the frame's soft skin at the boundary. Only
    ever softens (a soft photo is not sharpened). Returns `src` itself when nothing is done.
    """
    return _soften(src, sharpness_sigma(src, ref, src_landmarks, ref_landmarks, valid))


def _soften(src: np.ndarray, sigma: float) -> np.ndarray:
    import cv2

    return cv2.GaussianBlur(np.asarray(src, np.float32), (0, 0), sigma) if sigma else src


def sharpness_sigma(src: np.ndarray, ref: np.ndarray, src_landmarks: np.ndarray,
                    ref_landmarks: np.ndarray, valid: np.ndarray | None = None) -> float:
    """The Gaussian sigma `match_sharpness` softens `src` by (0: none): the first of
    `SHARPNESS_SIGMAS` that brings its skin's fine detail within 1.2x `ref`'s."""
    h, w = src.shape[:2]
    mine = skin_mask((h, w), src_landmarks)
    if valid is not None:
        mine &= valid > 0.99
    theirs = skin_mask(ref.shape, ref_landmarks)
    want = _fine_detail(ref, theirs)
    have = _fine_detail(src, mine)
    if want <= 0 or have <= 1.2 * want:
        return 0.0
    for sigma in SHARPNESS_SIGMAS:
        if _fine_detail(_soften(src, sigma), mine) <= 1.2 * want:
            break
    return sigma


# Near the blend's boundary the new face takes the frame's own light and shading at scales
# above `BOUNDARY_SCALE` (Gaussian sigma, inter-ocular distances), fully at the boundary and
# fading out `BOUNDARY_BAND` inside it; its finer detail stays its own. The difference is
# measured where the alpha is above `BOUNDARY_SUPPORT`, and the frame's pixels count less
# the farther (in 8-bit RGB, by a Gaussian of `BOUNDARY_UNLIKE`) they are from its face's
# median colour: its hair or background beside the edge must not darken the new face's
# edge. Applied where there was no seam, it pulled the output's identity toward the
# target's (dlib distance to the photo +0.03 on astronaut onto liveportrait_d10), so
# `merge_parts` applies it only where the blend leaves one.
BOUNDARY_SCALE = 0.025
BOUNDARY_BAND = 0.15
BOUNDARY_SUPPORT = 0.1
BOUNDARY_UNLIKE = 40.0


def match_boundary(rgb: np.ndarray, region: np.ndarray, alpha: np.ndarray, iod: float,
                   valid: np.ndarray | None = None) -> np.ndarray:
    """`rgb` (the patch, float RGB) with the frame's (`region`) coarser light near the edge.

    The multi-band blend changes colour and shading over a wide band, but what lies
    between its finest and coarsest levels (a photo's lit chin against a target's shadowed
    jaw, a cheek's contour) still changes within a few pixels: a visible step. Here the
    difference frame - patch, smoothed at `BOUNDARY_SCALE` where the patch has pixels, is
    added to the patch, all of it where `alpha` crosses 0.5 and none `BOUNDARY_BAND` inside
    (a membrane from the boundary inward, as Poisson blending does, but only near the edge:
    the face within keeps its own relief). Returns a new float32 array.
    """
    import cv2

    inside = (alpha >= 0.5).astype(np.uint8)
    if inside.sum() < 16:
        return rgb
    band = max(BOUNDARY_BAND * iod, 2.0)
    depth = cv2.distanceTransform(np.pad(inside, 1), cv2.DIST_L2, 3)[1:-1, 1:-1]
    t = np.clip(1 - depth / band, 0, 1)
    reach = (t * t * (3 - 2 * t)).astype(np.float32)
    wt = (depth < 1.5 * band).astype(np.float32) * (alpha > BOUNDARY_SUPPORT)
    if valid is not None:
        wt *= valid > 0.99
    sigma = max(BOUNDARY_SCALE * iod, 1.0)
    region = np.asarray(region, np.float32)
    # What of the frame there is far from its face's usual colour (its hair or the
    # background beside the edge) is not what the new face's edge should take on.
    core = region[::3, ::3][alpha[::3, ::3] > 0.9]
    face = np.median(core, 0) if len(core) >= 16 else None
    if face is not None:
        wt = wt * np.exp(-(np.abs(region - face).max(-1) / BOUNDARY_UNLIKE) ** 2)
    diff = (region - rgb) * wt[..., None]
    num = cv2.GaussianBlur(diff, (0, 0), sigma)
    den = cv2.GaussianBlur(wt, (0, 0), sigma)[..., None]
    smooth = num / np.maximum(den, 1e-3) * np.clip(den / 0.05, 0, 1)
    return (rgb + smooth * reach[..., None]).astype(np.float32)


# The seam (edge energy across the blend's boundary, over the frame's own there) from which
# the boundary takes the frame's light (`match_boundary`), and at which it takes all of it.
SEAM_FREE, SEAM_FULL = 1.0, 1.3


def _seam_share(laid: np.ndarray, region: np.ndarray, alpha: np.ndarray) -> float:
    """How much of the frame's own light the edge takes (0..1): by the excess of edge
    energy across the boundary over the frame's (`SEAM_FREE`, `SEAM_FULL`)."""
    excess = _edge_energy(laid, alpha) / max(_edge_energy(region, alpha), 1e-6)
    return float(np.clip((excess - SEAM_FREE) / (SEAM_FULL - SEAM_FREE), 0, 1))


def _edge_energy(rgb: np.ndarray, alpha: np.ndarray) -> float:
    """Mean squared lightness (L*) derivative across the 0.5 level of `alpha`, after a
    Gaussian of 1 pixel (as `swap_quality.seam_energy`, in OpenCV's colour conversion)."""
    import cv2

    inside = (alpha >= 0.5).astype(np.uint8)
    edge = (inside - cv2.erode(inside, np.ones((3, 3), np.uint8))) > 0
    edge[[0, -1], :] = False
    edge[:, [0, -1]] = False
    if edge.sum() < 8:
        return 0.0
    light = cv2.GaussianBlur(_lab(rgb)[..., 0], (0, 0), 1.0)
    gx = cv2.Sobel(light, cv2.CV_32F, 1, 0, ksize=3) / 8
    gy = cv2.Sobel(light, cv2.CV_32F, 0, 1, ksize=3) / 8
    soft = cv2.GaussianBlur(alpha.astype(np.float32), (0, 0), 1.0)
    ax = cv2.Sobel(soft, cv2.CV_32F, 1, 0, ksize=3)
    ay = cv2.Sobel(soft, cv2.CV_32F, 0, 1, ksize=3)
    across = (gx * ax + gy * ay) / (np.sqrt(ax ** 2 + ay ** 2) + 1e-9)
    return float((across[edge] ** 2).mean())


@dataclass
class Merged:
    """A merge's result: the new frame and the alpha it was laid in with (over the frame
    rectangle [y0:y0+h, x0:x0+w] of `alpha`)."""

    frame: np.ndarray
    alpha: np.ndarray
    x0: int
    y0: int


def merge(frame: np.ndarray, patch: Patch, target_landmarks: np.ndarray,
          options: MergeOptions | None = None, reuse: Reuse | None = None) -> np.ndarray:
    """The frame with the patch laid in (a new uint8 array; the input is not modified).
    `reuse`: a live face's slow-changing decisions (`Reuse`)."""
    return merge_parts(frame, patch, target_landmarks, options, reuse).frame


def merge_parts(frame: np.ndarray, patch: Patch, target_landmarks: np.ndarray,
                options: MergeOptions | None = None, reuse: Reuse | None = None) -> Merged:
    """`merge`, also returning the alpha the patch was laid in with (for measures)."""
    import cv2

    if reuse is not None:
        reuse.fresh = reuse.merges % max(reuse.every, 1) == 0
        reuse.merges += 1

    opts = options or MergeOptions()
    if opts.colour not in COLOUR_MODES:
        raise ValueError(f"unknown colour mode {opts.colour!r}")
    if opts.blend not in BLEND_MODES:
        raise ValueError(f"unknown blend mode {opts.blend!r}")
    feather = opts.feather if opts.feather is not None else DEFAULT_FEATHER[opts.blend]
    h, w = patch.mask.shape
    x0, y0 = patch.x0, patch.y0
    x1, y1 = min(x0 + w, frame.shape[1]), min(y0 + h, frame.shape[0])
    cx0, cy0 = max(x0, 0), max(y0, 0)
    if x1 <= cx0 or y1 <= cy0:
        return Merged(frame.copy(), np.zeros((0, 0), np.float32), cx0, cy0)
    sl = (slice(cy0 - y0, y1 - y0), slice(cx0 - x0, x1 - x0))
    rgb = patch.rgb[sl]
    valid = patch.mask[sl]
    region = frame[cy0:y1, cx0:x1].astype(np.float32)
    local = patch.landmarks - [cx0, cy0]
    target = np.asarray(target_landmarks, float) - [cx0, cy0]
    skin = target_skin(region, target) if opts.colour == "lab" else None
    if opts.colour == "lab":
        rgb = skin_transfer(rgb, region, local, target, valid, skin)
        rgb = _soften(rgb, _kept(reuse, "sigma", lambda: sharpness_sigma(
            rgb, region, local, target, valid)))
    elif opts.colour in ("reinhard", "histogram"):
        inner = region_mask(region.shape, local, "inner", feather=0) * (valid > 0.99)
        fn = lab_transfer if opts.colour == "reinhard" else histogram_transfer
        rgb = fn(rgb, region, inner)
    alpha = blend_mask(region, local, target, feather, opts.forehead, opts.contour,
                       patch=np.asarray(patch.rgb[sl], np.float32),  # the photo's colours
                       skin=skin, reuse=reuse)
    alpha = np.minimum(alpha, valid)
    fix_edges = opts.colour == "lab" and opts.contour  # (`match_boundary`, multi-band)
    if fix_edges:
        # The target's own brows where the new face leaves them showing (a second brow
        # above the photo's) are painted over with the skin around them.
        erased = erase_brows(region, target, alpha)
        if erased is not None:
            region = erased
            frame = frame.copy()
            frame[cy0:y1, cx0:x1] = np.clip(erased + 0.5, 0, 255).astype(np.uint8)
    if opts.keep_mouth:
        mouth = region_mask(region.shape, target, "mouth", feather=0.05)
        alpha = alpha * (1 - mouth)
    elif opts.keep_inner_mouth:
        if np.shares_memory(rgb, patch.rgb):
            rgb = rgb.astype(np.float32)  # (no colour transfer: leave the engine's patch be)
        carry_inner_mouth(rgb, alpha, region, target, local)
    out = frame.copy()
    if opts.blend == "poisson":
        hard = (alpha > 0.5).astype(np.uint8) * 255
        ys, xs = np.nonzero(hard)
        if len(xs) > 16:
            hard[[0, -1], :] = 0
            hard[:, [0, -1]] = 0
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
            return Merged(out, alpha, cx0, cy0)
    if opts.blend == "multiband":
        # Outside the mask the patch is the frame, so the coarse levels carry none of the
        # photo's own hair or background in.
        support = np.minimum(alpha * 4, 1)[..., None]
        iod = max(inter_ocular(target), 1.0)
        levels = int(np.clip(round(np.log2(max(0.2 * iod, 2))), 1, 6))
        # The pyramid runs over the box grown by its coarsest blur, so what it changes
        # fades out before the box's edge (no straight line where the box ends).
        pad = 2 ** (levels + 1)
        fh, fw = frame.shape[:2]
        px0, py0 = max(cx0 - pad, 0), max(cy0 - pad, 0)
        px1, py1 = min(x1 + pad, fw), min(y1 + pad, fh)
        bg = frame[py0:py1, px0:px1].astype(np.float32)
        a_all = np.zeros(bg.shape[:2], np.float32)
        inner = (slice(cy0 - py0, y1 - py0), slice(cx0 - px0, x1 - px0))
        a_all[inner] = alpha

        def lay(face: np.ndarray) -> np.ndarray:
            diff = np.zeros_like(bg)
            diff[inner] = (face - region) * support
            return bg + _blend_difference(diff, a_all, levels) + 0.5

        laid = lay(rgb)
        if fix_edges:
            # The boundary's own light only where the blend left a seam: more edge across
            # the boundary than the frame has there (elsewhere the photo's face reaches
            # the edge, which much of its likeness is).
            t = _kept(reuse, "seam", lambda: _seam_share(laid[inner], region, alpha))
            if t > 0.01:
                rgb = np.asarray(rgb, np.float32)
                fix = match_boundary(rgb, region, alpha, iod, valid) - rgb
                laid = lay(rgb + fix * (t * t * (3 - 2 * t)))
        out[py0:py1, px0:px1] = np.clip(laid, 0, 255).astype(np.uint8)
        return Merged(out, alpha, cx0, cy0)
    a = alpha[..., None]
    out[cy0:y1, cx0:x1] = np.clip(rgb * a + region * (1 - a) + 0.5, 0, 255).astype(np.uint8)
    return Merged(out, alpha, cx0, cy0)
