"""Face geometry: the canonical 68-point template, Umeyama alignment, crops and masks.

Landmarks follow the iBUG 68-point scheme dlib predicts: jaw 0-16, brows 17-26, nose
27-35, eyes 36-47, outer lips 48-59, inner lips 60-67. All point arrays are (N, 2) floats
in pixel (x, y); affine matrices are 2x3 and map source pixels to destination pixels.
"""

from __future__ import annotations

import numpy as np

# The mean face in unit coordinates (jaw spans x 0..1, brow top at y 0). Built by this
# project: generalized Procrustes over 100 dlib landmark sets (the 50 faces of the three
# portraits and every tenth frame of the three talking clips in shared/media, each also
# mirrored), made exactly left-right symmetric, eye line horizontal.
TEMPLATE = np.array([
    (0.0000, 0.2232),
    (0.0058, 0.3500),
    (0.0198, 0.4770),
    (0.0443, 0.6031),
    (0.0885, 0.7217),
    (0.1616, 0.8247),
    (0.2583, 0.9089),
    (0.3706, 0.9720),
    (0.5000, 0.9917),
    (0.6294, 0.9720),
    (0.7417, 0.9089),
    (0.8384, 0.8247),
    (0.9115, 0.7217),
    (0.9557, 0.6031),
    (0.9802, 0.4770),
    (0.9942, 0.3500),
    (1.0000, 0.2232),
    (0.1093, 0.0789),
    (0.1679, 0.0213),
    (0.2499, 0.0000),
    (0.3372, 0.0095),
    (0.4182, 0.0447),
    (0.5818, 0.0447),
    (0.6628, 0.0095),
    (0.7501, 0.0000),
    (0.8321, 0.0213),
    (0.8907, 0.0789),
    (0.5000, 0.1477),
    (0.5000, 0.2228),
    (0.5000, 0.2964),
    (0.5000, 0.3741),
    (0.4062, 0.4569),
    (0.4519, 0.4716),
    (0.5000, 0.4857),
    (0.5481, 0.4716),
    (0.5938, 0.4569),
    (0.2045, 0.1790),
    (0.2554, 0.1469),
    (0.3176, 0.1461),
    (0.3731, 0.1836),
    (0.3147, 0.1956),
    (0.2544, 0.1966),
    (0.6269, 0.1836),
    (0.6824, 0.1461),
    (0.7446, 0.1469),
    (0.7955, 0.1790),
    (0.7456, 0.1966),
    (0.6853, 0.1956),
    (0.3083, 0.6510),
    (0.3774, 0.6001),
    (0.4486, 0.5763),
    (0.5000, 0.5881),
    (0.5514, 0.5763),
    (0.6226, 0.6001),
    (0.6917, 0.6510),
    (0.6249, 0.7129),
    (0.5549, 0.7414),
    (0.5000, 0.7466),
    (0.4451, 0.7414),
    (0.3751, 0.7129),
    (0.3402, 0.6506),
    (0.4485, 0.6202),
    (0.5000, 0.6239),
    (0.5515, 0.6202),
    (0.6598, 0.6506),
    (0.5523, 0.6768),
    (0.5000, 0.6825),
    (0.4477, 0.6768)
])

# Left-right partner of each point (for mirroring a landmark set).
MIRROR = (list(range(16, -1, -1)) + list(range(26, 16, -1)) + [27, 28, 29, 30]
          + [35, 34, 33, 32, 31] + [45, 44, 43, 42, 47, 46] + [39, 38, 37, 36, 41, 40]
          + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55] + [64, 63, 62, 61, 60, 67, 66, 65])

JAW = slice(0, 17)
BROWS = slice(17, 27)
NOSE = slice(27, 36)
LEFT_EYE = slice(36, 42)
RIGHT_EYE = slice(42, 48)
MOUTH = slice(48, 68)
OUTER_LIPS = slice(48, 60)
INNER_LIPS = slice(60, 68)
# Points that move little with expression: used to fit the similarity to the template.
STABLE = slice(17, 68)


def umeyama(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, shift) taking `src` onto `dst`.

    Umeyama (1991); returns the 2x3 matrix M with dst ≈ src @ M[:, :2].T + M[:, 2].
    """
    src = np.asarray(src, float)
    dst = np.asarray(dst, float)
    n = len(src)
    ms, md = src.mean(0), dst.mean(0)
    s, d = src - ms, dst - md
    u, sv, vt = np.linalg.svd(d.T @ s / n)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rot = u @ sign @ vt
    var = (s ** 2).sum() / n
    scale = np.trace(np.diag(sv) @ sign) / var if var > 0 else 1.0
    m = np.zeros((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = md - scale * rot @ ms
    return m


def apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to (N, 2) points."""
    return np.asarray(pts, float) @ m[:, :2].T + m[:, 2]


def invert(m: np.ndarray) -> np.ndarray:
    """The inverse of a 2x3 affine matrix."""
    full = np.vstack([m, [0, 0, 1]])
    return np.linalg.inv(full)[:2]


def crop_matrix(landmarks: np.ndarray, size: int, padding: float = 0.25) -> np.ndarray:
    """The similarity taking frame pixels to a `size`-pixel aligned crop.

    The template's unit box (jaw width, brow top to chin) is centred in the crop and
    surrounded by `padding` of its width on each side; the crop is then shifted up so the
    forehead is in view (DeepFaceLab's "whole face" framing is close to padding 0.25).
    """
    box = size / (1 + 2 * padding)
    dst = TEMPLATE[STABLE] * box + np.array([padding * box, padding * box + 0.04 * box])
    return umeyama(landmarks[STABLE], dst)


def aligned_template(size: int, padding: float = 0.25) -> np.ndarray:
    """Where the template's 68 points fall in a crop made by `crop_matrix`."""
    box = size / (1 + 2 * padding)
    return TEMPLATE * box + np.array([padding * box, padding * box + 0.04 * box])


def inter_ocular(landmarks: np.ndarray) -> float:
    """Distance between the eye centres, the usual scale for landmark errors."""
    return float(np.linalg.norm(landmarks[RIGHT_EYE].mean(0) - landmarks[LEFT_EYE].mean(0)))


def forehead(landmarks: np.ndarray, height: float = 0.45) -> np.ndarray:
    """Ten points above the brows, `height` x the brow-to-chin distance up the face.

    dlib stops at the brows; a swap that keeps the target's forehead keeps much of its
    identity, so the face mask extends up along the face's own vertical axis.
    """
    brows = landmarks[BROWS]
    chin = landmarks[8]
    top = brows.mean(0)
    up = top - chin
    length = np.linalg.norm(up) + 1e-9
    up /= length
    # Higher in the middle than at the temples: an arc.
    arc = np.sin(np.linspace(0.15, np.pi - 0.15, 10))
    return brows + up[None, :] * (height * length * (0.45 + 0.55 * arc))[:, None]


def outline(landmarks: np.ndarray, forehead_height: float = 0.45) -> np.ndarray:
    """The face's closed outline: jaw, then forehead right to left (for masks and warps)."""
    return np.vstack([landmarks[JAW], forehead(landmarks, forehead_height)[::-1]])


def region_mask(shape: tuple[int, int], landmarks: np.ndarray, region: str = "face",
                feather: float = 0.08, forehead_height: float = 0.3) -> np.ndarray:
    """A float32 mask in [0, 1] of `region` for an image.

    Regions: 'face' (jaw and forehead), 'inner' (brows to jaw, no forehead), 'lower' (below
    the nose, within the jaw: what speech moves), 'mouth' (the lips, grown), 'eyes'.

    `feather` is the soft edge as a fraction of the inter-ocular-scaled face size; the mask
    is shrunk by half the feather first so its soft edge stays inside the region.
    """
    import cv2

    h, w = shape[:2]
    scale = max(inter_ocular(landmarks), 1.0) * 2.5
    hard = np.zeros((h, w), np.uint8)

    def hull(pts: np.ndarray, grow: float = 0.0) -> None:
        pts = np.asarray(pts, float)
        if grow:
            c = pts.mean(0)
            pts = c + (pts - c) * (1 + grow)
        cv2.fillConvexPoly(hard, cv2.convexHull(np.round(pts).astype(np.int32)), 255)

    if region == "face":
        hull(outline(landmarks, forehead_height))
    elif region == "inner":
        hull(np.vstack([landmarks[17:27], landmarks[2:15]]))
    elif region == "lower":
        hull(np.vstack([landmarks[3:14], landmarks[31:36]]))
    elif region == "mouth":
        hull(landmarks[OUTER_LIPS], grow=0.25)
    elif region == "eyes":
        hull(np.vstack([landmarks[LEFT_EYE], landmarks[17:22]]), grow=0.2)
        hull(np.vstack([landmarks[RIGHT_EYE], landmarks[22:27]]), grow=0.2)
    else:
        raise ValueError(f"unknown mask region {region!r}")
    radius = feather * scale
    if radius >= 1:
        k = int(radius)
        hard = cv2.erode(hard, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k | 1, k | 1)))
        soft = cv2.GaussianBlur(hard.astype(np.float32) / 255, (0, 0), radius / 2)
        return soft
    return hard.astype(np.float32) / 255
