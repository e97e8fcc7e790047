"""Measures of a merged face swap: skin colour against the target, feature hue against the
source, and seams along the blend's boundary (for bench/faceswap.py and the tests).

Independent of how `video/blend.py` masks and recolours: patches and features are placed
from the landmarks alone, colours are CIELAB (scikit-image, D65) and differences CIEDE2000.
- `skin_delta_e`: three skin patches (each cheek, below the eye and beside the nose, and
  mid-forehead, 0.3 inter-ocular above the brows), radius 0.1 inter-ocular; the ΔE2000
  between each patch's mean colour in the output and in the target frame, averaged.
- `feature_chroma`: the mean (a*, b*) of a face's brow hair (the darkest quarter of a band
  along each brow's body, its middle three points) or irises (the darkest quarter inside
  each eye's contour: iris, pupil, lashes), with the spread of those pixels about that
  mean (RMS distance: the feature's natural range of hue).
- `seam_energy`: along the boundary of a blend alpha (its 0.5 level), the mean squared
  derivative of lightness across the boundary (along the alpha's gradient), after a
  Gaussian of 1 pixel; `seam_ratio` is the output's over the target frame's own along the
  same pixels (1: no more edge there than the target had).
- `gaze_judge`: where the irises sit sideways, told differently from `video/gaze.py` (which
  the swap uses): the lightness-weighted centroid of the darkest 30 % of the pixels inside
  each eye's contour (lids, lashes and all), along the eye's corner-to-corner axis, 0 at
  the middle, in eye widths; the mean of the open eyes (EAR at least 0.2), else None.
- `brow_judge`: how high the brows sit, told differently from `video/brows.py` (which
  fits the hair along each brow's curve from dlib's points): the darkest row of a
  0.3-inter-ocular-wide strip straight up the face from each eye's middle, between 0.1 and
  0.8 inter-ocular above its upper lid, in inter-ocular distances above the eye's middle;
  the mean of both eyes. dlib's own brow points are no judge: on the expressive
  `liveportrait_d10` clip their height runs against this one (correlation -0.33) while
  the brows seen in the picture rise and fall with it.
"""

from __future__ import annotations

import numpy as np

from retake.video.geometry import LEFT_EYE, RIGHT_EYE, inter_ocular


def _unit(v: np.ndarray) -> np.ndarray:
    return v / (np.linalg.norm(v) + 1e-9)


def skin_patches(landmarks: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """(centre, radius) of the left cheek, right cheek and forehead patches, in pixels."""
    p = np.asarray(landmarks, float)
    iod = inter_ocular(p)
    up = _unit(p[27] - p[8])
    left = 0.5 * p[31] + 0.25 * p[2] + 0.25 * p[41]
    right = 0.5 * p[35] + 0.25 * p[14] + 0.25 * p[46]
    brow = (p[21] + p[22]) / 2 + up * 0.3 * iod
    return [(c, 0.15 * iod) for c in (left, right, brow)]


def _disk(shape: tuple[int, ...], centre: np.ndarray, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    return (xx - centre[0]) ** 2 + (yy - centre[1]) ** 2 <= radius ** 2


def _lab(rgb: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2lab

    return rgb2lab(np.asarray(rgb, np.float64) / 255)


def _crop(rgb: np.ndarray, centre: np.ndarray, radius: float
          ) -> tuple[np.ndarray, np.ndarray]:
    """The box around a disk and the disk's pixels in it."""
    h, w = rgb.shape[:2]
    x0, y0 = (np.floor(centre - radius).astype(int)).clip(0)
    x1, y1 = np.ceil(centre + radius).astype(int) + 1
    x1, y1 = min(x1, w), min(y1, h)
    box = rgb[y0:y1, x0:x1]
    return box, _disk(box.shape, centre - [x0, y0], radius)


def skin_delta_e(output: np.ndarray, target: np.ndarray, landmarks: np.ndarray) -> float:
    """Mean ΔE2000 between the output's and the target's skin patches (`skin_patches`)."""
    from skimage.color import deltaE_ciede2000

    out = []
    for centre, radius in skin_patches(landmarks):
        means = []
        for img in (output, target):
            box, disk = _crop(img, centre, radius)
            if disk.sum() < 4:
                break
            means.append(_lab(box)[disk].mean(0))
        if len(means) == 2:
            out.append(float(deltaE_ciede2000(means[0], means[1])))
    return float(np.mean(out)) if out else float("nan")


def _brow_band(shape: tuple[int, ...], landmarks: np.ndarray) -> np.ndarray:
    import cv2

    p = np.asarray(landmarks, float)
    iod = inter_ocular(p)
    down = _unit(p[8] - p[27])
    band = np.zeros(shape[:2], np.uint8)
    # The brows' bodies (their middle three points): a tail running out over a narrow
    # face's temple lies on the target's own hair, whose darkness the darkest quarter took.
    for brow in (p[18:21], p[23:26]):
        pts = np.round(brow + down * 0.03 * iod).astype(np.int32)
        cv2.polylines(band, [pts], False, 1, max(int(round(0.12 * iod)), 2))
    return band > 0


def _eye_inside(shape: tuple[int, ...], landmarks: np.ndarray) -> np.ndarray:
    import cv2

    p = np.asarray(landmarks, float)
    inside = np.zeros(shape[:2], np.uint8)
    for eye in (LEFT_EYE, RIGHT_EYE):
        cv2.fillPoly(inside, [np.round(p[eye]).astype(np.int32)], 1)
    return inside > 0


def _feature_ab(rgb: np.ndarray, landmarks: np.ndarray, feature: str,
                shown: np.ndarray | None = None) -> np.ndarray | None:
    """(a*, b*) of the brows' or irises' darkest quarter (None: too few pixels); with
    `shown` (bool, the frame's size), only among the pixels it sets."""
    p = np.asarray(landmarks, float)
    iod = inter_ocular(p)
    sel = p[17:27] if feature == "brows" else p[36:48]
    x0, y0 = np.floor(sel.min(0) - 0.3 * iod).astype(int).clip(0)
    x1, y1 = np.ceil(sel.max(0) + 0.3 * iod).astype(int) + 1
    box = np.asarray(rgb)[y0:y1, x0:x1]
    local = p - [x0, y0]
    if feature == "brows":
        where = _brow_band(box.shape, local)
    elif feature == "eyes":
        where = _eye_inside(box.shape, local)
    else:
        raise ValueError(f"unknown feature {feature!r}")
    if shown is not None:
        where = where & np.asarray(shown, bool)[y0:y1, x0:x1]
    lab = _lab(box)[where]
    if len(lab) < 8:
        return None
    return lab[lab[:, 0] <= np.percentile(lab[:, 0], 25)][:, 1:]


def feature_chroma(rgb: np.ndarray, landmarks: np.ndarray, feature: str = "brows",
                   shown: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Mean (a*, b*) of the brows' or irises' darkest quarter, and its pixels' RMS spread
    (`shown`: only where it is set, as in `feature_hue`)."""
    ab = _feature_ab(rgb, landmarks, feature, shown)
    if ab is None:
        return np.array([np.nan, np.nan]), float("nan")
    mean = ab.mean(0)
    return mean, float(np.sqrt(((ab - mean) ** 2).sum(1).mean()))


def feature_hue(rgb: np.ndarray, landmarks: np.ndarray, feature: str = "brows",
                shown: np.ndarray | None = None) -> tuple[float, float]:
    """Hue angle (degrees) of the mean (a*, b*) of `feature_chroma`'s pixels, and their
    chroma-weighted circular spread (degrees).

    Hue, not the (a*, b*) vector: a face laid into dimmer light keeps its brows' hue but
    loses chroma with lightness (as the skin around them does); a green or red cast is a
    turn of the hue angle. `shown` (bool, the frame's size): only the pixels it sets, e.g.
    where a swap's blend shows the new face (a photo's brow tail running out over a narrow
    target's temple is laid into the target's own hair there)."""
    ab = _feature_ab(rgb, landmarks, feature, shown)
    if ab is None:
        return float("nan"), float("nan")
    a, b = ab[:, 0].astype(float), ab[:, 1].astype(float)
    w = np.hypot(a, b) + 1e-9
    ang = np.arctan2(b, a)
    r = float(np.hypot((w * np.cos(ang)).sum(), (w * np.sin(ang)).sum()) / w.sum())
    spread = float(np.degrees(np.sqrt(-2 * np.log(min(max(r, 1e-9), 1.0)))))
    return float(np.degrees(np.arctan2(b.mean(), a.mean()))), spread


def hue_difference(a: float, b: float) -> float:
    """Signed difference of two hue angles (degrees), in (-180, 180]."""
    return float((a - b + 180) % 360 - 180)


def seam_energy(rgb: np.ndarray, alpha: np.ndarray) -> float:
    """Mean squared lightness derivative across the 0.5 level of `alpha` (same-size arrays)."""
    import cv2

    inside = (alpha >= 0.5).astype(np.uint8)
    edge = (inside - cv2.erode(inside, np.ones((3, 3), np.uint8))) > 0
    edge[[0, -1], :] = False
    edge[:, [0, -1]] = False
    if edge.sum() < 8:
        return float("nan")
    light = _lab(rgb)[..., 0].astype(np.float32)
    light = cv2.GaussianBlur(light, (0, 0), 1.0)
    gx = cv2.Sobel(light, cv2.CV_32F, 1, 0, ksize=3) / 8
    gy = cv2.Sobel(light, cv2.CV_32F, 0, 1, ksize=3) / 8
    soft = cv2.GaussianBlur(alpha.astype(np.float32), (0, 0), 1.0)
    ax = cv2.Sobel(soft, cv2.CV_32F, 1, 0, ksize=3)
    ay = cv2.Sobel(soft, cv2.CV_32F, 0, 1, ksize=3)
    norm = np.sqrt(ax ** 2 + ay ** 2) + 1e-9
    across = (gx * ax + gy * ay) / norm
    return float((across[edge] ** 2).mean())


def seam_ratio(output: np.ndarray, target: np.ndarray, alpha: np.ndarray, x0: int = 0,
               y0: int = 0) -> float:
    """`seam_energy` of the output over the target frame's, on the same boundary pixels.

    `alpha` covers the frames' rectangle [y0:, x0:] (as `blend.Merged` gives it)."""
    h, w = alpha.shape
    sl = (slice(y0, y0 + h), slice(x0, x0 + w))
    base = seam_energy(np.asarray(target)[sl], alpha)
    return seam_energy(np.asarray(output)[sl], alpha) / max(base, 1e-6)


def gaze_judge(rgb: np.ndarray, landmarks: np.ndarray) -> float | None:
    """Sideways gaze (eye widths off the middle, toward the image's right) by the darkest
    pixels' centroid in each open eye (see the module docstring); None if no eye is open."""
    import cv2

    from retake.video.expression import eye_aspect_ratio

    p = np.asarray(landmarks, float)
    found = []
    for eye in (LEFT_EYE, RIGHT_EYE):
        e = p[eye]
        width = float(np.linalg.norm(e[3] - e[0]))
        if width < 10 or eye_aspect_ratio(p, eye) < 0.2:
            continue
        x0, y0 = np.floor(e.min(0)).astype(int).clip(0)
        x1, y1 = np.ceil(e.max(0)).astype(int) + 1
        box = np.ascontiguousarray(np.asarray(rgb, np.uint8)[y0:y1, x0:x1])
        if box.shape[0] < 3 or box.shape[1] < 3:
            continue
        inside = np.zeros(box.shape[:2], np.uint8)
        cv2.fillPoly(inside, [np.round(e - [x0, y0]).astype(np.int32)], 1)
        light = cv2.cvtColor(box, cv2.COLOR_RGB2LAB)[..., 0].astype(float)
        vals = light[inside > 0]
        if len(vals) < 10:
            continue
        cut = np.percentile(vals, 30)
        ys, xs = np.nonzero((inside > 0) & (light <= cut))
        w = cut - light[ys, xs] + 1.0
        centre = np.array([np.sum(w * xs), np.sum(w * ys)]) / np.sum(w) + [x0, y0]
        axis = (e[3] - e[0]) / width
        found.append(float((centre - (e[0] + e[3]) / 2) @ axis / width))
    return float(np.mean(found)) if found else None



def brow_judge(rgb: np.ndarray, landmarks: np.ndarray) -> float:
    """How high the brows sit above the eyes (inter-ocular distances; see the module
    docstring)."""
    import cv2

    p = np.asarray(landmarks, float)
    iod = max(inter_ocular(p), 1.0)
    axis = _unit(p[45] - p[36])
    up = np.array([axis[1], -axis[0]])  # perpendicular to the eye line, toward the brows
    grey = cv2.cvtColor(np.asarray(rgb, np.uint8), cv2.COLOR_RGB2GRAY).astype(np.float32)
    grey = cv2.GaussianBlur(grey, (0, 0), max(0.02 * iod, 0.7))
    heights = []
    for eye in (LEFT_EYE, RIGHT_EYE):
        e = p[eye]
        c = e.mean(0)
        top = float(((e - c) @ up).max())
        along = np.linspace(top + 0.1 * iod, top + 0.8 * iod, 60)
        across = np.linspace(-0.15, 0.15, 9) * iod
        pts = c + along[:, None, None] * up + across[None, :, None] * axis
        vals = cv2.remap(grey, pts[..., 0].astype(np.float32), pts[..., 1].astype(np.float32),
                         cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        heights.append(along[int(np.argmin(vals.mean(1)))] / iod)
    return float(np.mean(heights))
