"""The target's expression where a swapped photo cannot show it: closed eyes, mouth interior.

A landmark swap warps the photo's eyes onto the target's eye contours. Where the target's
eye closes or narrows far beyond the photo's, that warp only squashes the photo's open
eye (iris and white stay visible), so the target's own eye region (lids, lashes, eye) is
carried through instead, shifted to where the output's eye sits and colour-matched to the
swapped skin around it, faded in by how closed the eye is: each eye on its own, so a wink
survives. Open eyes keep the photo's (they carry much of the identity).

How closed is judged two ways, and the more closed wins: against the photo's own aperture
(`carry_weight`: a target eye far narrower than the photo's), and against the target's own
recent open level (`closure_weight`, with `OpenEyes` following that level through a clip):
a squinting photo's eye warped onto a target that blinks only down to the photo's aperture
would otherwise stay open, half a blink being the target's lids at a third of their open
height while the photo's eye is still wide there.

Measures are on dlib's 68 points: the eye aspect ratio (EAR, Soukupová and Čech 2016:
lid-to-lid heights over corner-to-corner width; about 0.3 open and 0.13 closed in dlib's
landmarks on the shared clips) and the mouth opening (inner-lip height / inter-ocular).
"""

from __future__ import annotations

import numpy as np

from retake.video.geometry import INNER_LIPS, LEFT_EYE, OUTER_LIPS, RIGHT_EYE, inter_ocular

EYES = (LEFT_EYE, RIGHT_EYE)


def eye_aspect_ratio(landmarks: np.ndarray, eye: slice) -> float:
    """One eye's EAR: the mean of its two lid-to-lid heights over its corner-to-corner width."""
    p = np.asarray(landmarks, float)[eye]
    heights = np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])
    return float(heights / (2 * np.linalg.norm(p[0] - p[3]) + 1e-9))


def eye_openness(landmarks: np.ndarray) -> float:
    """The mean EAR of both eyes (a blink dips it; a wink dips it half as far)."""
    return 0.5 * sum(eye_aspect_ratio(landmarks, e) for e in EYES)


def mouth_opening(landmarks: np.ndarray) -> float:
    """Inner-lip height (mean of the three lip-to-lip gaps) over the inter-ocular distance."""
    p = np.asarray(landmarks, float)
    gaps = np.linalg.norm(p[[61, 62, 63]] - p[[67, 66, 65]], axis=1).mean()
    return float(gaps / max(inter_ocular(p), 1e-9))


def _smoothstep(x: float, edge0: float, edge1: float) -> float:
    t = min(max((x - edge0) / (edge1 - edge0), 0.0), 1.0)
    return t * t * (3 - 2 * t)


# dlib's EAR for a closed eye (0.12-0.16 on the shared clips): the lids' aperture is EAR
# above this.
CLOSED_EAR = 0.12


def carry_weight(target_ear: float, source_ear: float) -> float:
    """How much of the target's own eye to show (0: the photo's eye, 1: the target's).

    The share of the photo's lid aperture (EAR above `CLOSED_EAR`) the target's eye keeps:
    from 0.7 down to 0.4 the target's eye fades in. A closing eye is carried whatever
    the photo shows, a squinting photo's included, while a target that merely narrows
    toward a squinting photo's eye keeps the photo's. The photo's aperture counts as at
    least 0.08, so the fade spans at least 0.024 of EAR (a blink's frames step ~0.05).
    """
    aperture = (target_ear - CLOSED_EAR) / max(source_ear - CLOSED_EAR, 0.08)
    return 1 - _smoothstep(aperture, 0.4, 0.7)


# The target's own closure: its lid aperture (EAR above `CLOSED_EAR`) as a share of its
# recent open level. A blink's deepest frames are below 0.25 of the open aperture and its
# half-closed frames 0.3-0.4 on the shared clips; looking down or smiling stays above about
# 0.45. Over `CLOSURE_RAMP` the target's eye fades in to `CLOSURE_HALF`, over
# `CLOSURE_DEEP` the rest of the way: half-closed, the photo's eye (squashed to the
# target's lids) and the target's own are mixed, which reads as closing, keeps some of the
# photo's eye, and shows no photo iris in a shut eye. (0.6 left a squinting photo's
# half-blink at 0.72 of the output's open EAR by dlib's reading, on the bench's 0.7 edge.)
CLOSURE_RAMP = (0.3, 0.45)
CLOSURE_DEEP = (0.05, 0.2)
CLOSURE_HALF = 0.75


def closure_weight(target_ear: float, open_ear: float) -> float:
    """How much of the target's own eye to show, judged by the target alone (0..1).

    `open_ear` is the target's recent open-eye EAR (`OpenEyes`). The share of that open
    aperture (EAR above `CLOSED_EAR`, the open one counting as at least 0.05) the eye keeps
    now: from 0.45 down to 0.3 the target's eye fades in to `CLOSURE_HALF`, from 0.2 down
    to 0.05 to all of it.
    """
    aperture = (target_ear - CLOSED_EAR) / max(open_ear - CLOSED_EAR, 0.05)
    return (CLOSURE_HALF * (1 - _smoothstep(aperture, *CLOSURE_RAMP))
            + (1 - CLOSURE_HALF) * (1 - _smoothstep(aperture, *CLOSURE_DEEP)))


class FaceSeries:
    """Recent measurements of each face a swapper renders, frame by frame.

    Faces are told apart by where their eyes are (nearest within one inter-ocular
    distance), so swapping every face of a clip keeps each face's own series; a face not
    seen for `forget` renders is dropped; the last `window` values are kept.
    """

    def __init__(self, window: int, least: int = 5, forget: int = 50) -> None:
        self.window, self.least, self.forget = window, least, forget
        self._faces: list[dict] = []
        self._clock = 0

    def add(self, landmarks: np.ndarray, values: list[float]) -> np.ndarray | None:
        """Record this face's `values`; its recent ones ((n, len(values)) array) once it
        has at least `least`, else None."""
        from collections import deque

        p = np.asarray(landmarks, float)
        centre, iod = p[36:48].mean(0), max(inter_ocular(p), 1.0)
        self._clock += 1
        self._faces = [f for f in self._faces if self._clock - f["seen"] <= self.forget]
        near = [f for f in self._faces if np.linalg.norm(f["centre"] - centre) < iod]
        face = min(near, key=lambda f: np.linalg.norm(f["centre"] - centre)) if near else None
        if face is None:
            face = {"values": deque(maxlen=self.window)}
            self._faces.append(face)
        face["centre"], face["seen"] = centre, self._clock
        face["values"].append(list(values))
        if len(face["values"]) < self.least:
            return None
        return np.array(face["values"])


class OpenEyes(FaceSeries):
    """Each eye's recent open level (EAR) of the faces a swapper renders, frame by frame.

    The level is the 90th percentile of the eye's EAR over the last `window` renders of
    that face (about a second of video: a blink is a dip below it, a long look down soon
    becomes the level), face by face (`FaceSeries`). Until a face has `least` frames there
    is no level (None): a still image or a clip's first frames are judged by the photo.
    """

    def __init__(self, window: int = 25, least: int = 5, forget: int = 50) -> None:
        super().__init__(window, least, forget)

    def update(self, landmarks: np.ndarray) -> tuple[float, float] | None:
        """Record this face's eyes; its open level per eye (image-left, right) or None."""
        p = np.asarray(landmarks, float)
        recent = self.add(p, [eye_aspect_ratio(p, e) for e in EYES])
        if recent is None:
            return None
        level = np.percentile(recent, 90, axis=0)
        return float(level[0]), float(level[1])


def eye_weights(target: np.ndarray, source: np.ndarray,
                open_levels: tuple[float, float] | None = None) -> tuple[float, float]:
    """How much of the target's own eye to show, each eye (the image's left then right).

    `carry_weight` against the photo's (`source` landmarks) aperture, or, given the
    target's recent `open_levels` (`OpenEyes`), `closure_weight` where that is higher.
    """
    w = []
    for i, e in enumerate(EYES):
        ear = eye_aspect_ratio(target, e)
        weight = carry_weight(ear, eye_aspect_ratio(source, e))
        if open_levels is not None:
            weight = max(weight, closure_weight(ear, open_levels[i]))
        w.append(weight)
    return w[0], w[1]


EYE_REACH_UP = 0.45  # eye widths above the eye that `carry_eyes` lays in


def _eye_mask(points: np.ndarray, x0: int, y0: int, w: int, h: int,
              up: float = EYE_REACH_UP) -> np.ndarray:
    """A soft oval over one eye, its lids and lashes (float32 (h, w) in [0, 1]).

    Centred a little above the eye, 1.6 eye widths across, reaching `up` of a width up
    (at 0.45 a closed lid's crease is inside) and 0.7 down (the lower lid and the skin under it:
    a photo's under-eye folds around a target's closed lids read as an open eye); full
    weight within 55% of the radius, fading to 0 at the rim.
    """
    c = points.mean(0)
    axis = points[3] - points[0]
    width = float(np.linalg.norm(axis)) + 1e-6
    ux = axis / width
    uy = np.array([-ux[1], ux[0]])  # image "down" along the face
    c = c - uy * 0.08 * width
    yy, xx = np.mgrid[y0:y0 + h, x0:x0 + w].astype(np.float32)
    dx, dy = xx - c[0], yy - c[1]
    u = (dx * ux[0] + dy * ux[1]) / (0.8 * width)
    v = dx * uy[0] + dy * uy[1]
    v = v / (np.where(v > 0, 0.7, up) * width)
    r = np.sqrt(u * u + v * v)
    t = np.clip((1.0 - r) / 0.45, 0, 1)
    return (t * t * (3 - 2 * t)).astype(np.float32)


def carry_eyes(rgb: np.ndarray, x0: int, y0: int, frame: np.ndarray, target: np.ndarray,
               rendered: np.ndarray, weights: tuple[float, float],
               up: float = EYE_REACH_UP) -> np.ndarray:
    """Blend the target's own eye regions into a rendered patch (float RGB, modified in place).

    `rgb` covers frame rectangle [y0:, x0:]; `target` are the frame's landmarks, `rendered`
    the landmarks the patch was drawn to. Each eye region is taken from the frame, moved by
    the shift between the two eye contours, scaled per channel so its skin in the ring
    around the eye matches the patch's there, and laid in with weight × the soft ellipse of
    `_eye_mask` (reaching `up` eye widths above the eye).
    """
    import cv2

    h, w = rgb.shape[:2]
    for eye, weight in zip(EYES, weights, strict=True):
        if weight <= 0.01:
            continue
        out_pts = np.asarray(rendered, float)[eye]
        shift = (out_pts - np.asarray(target, float)[eye]).mean(0)
        width = float(np.linalg.norm(out_pts[3] - out_pts[0]))
        c = out_pts.mean(0) - [x0, y0]
        half = max(0.9, up + 0.2) * width + 2
        rx0, ry0 = max(int(c[0] - half), 0), max(int(c[1] - half), 0)
        rx1, ry1 = min(int(c[0] + half) + 1, w), min(int(c[1] + half) + 1, h)
        if rx1 - rx0 < 4 or ry1 - ry0 < 4:
            continue
        rw, rh = rx1 - rx0, ry1 - ry0
        mask = _eye_mask(out_pts - [x0, y0], rx0, ry0, rw, rh, up)
        # Output pixel (u, v) of the box shows frame pixel (u, v) + box origin - shift.
        m = np.float32([[1, 0, rx0 + x0 - shift[0]], [0, 1, ry0 + y0 - shift[1]]])
        own = cv2.warpAffine(frame, m, (rw, rh), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                             borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        box = rgb[ry0:ry1, rx0:rx1]
        ring = (mask > 0.02) & (mask < 0.5)
        if ring.sum() >= 16:
            # A gain, not a shift: lashes stay dark brown in a darker face, not clipped black.
            gain = (box[ring].mean(0) + 1) / (own[ring].mean(0) + 1)
            own = own * np.clip(gain, 0.25, 4.0)
        a = (weight * mask)[..., None]
        box[...] = box * (1 - a) + own * a
    return rgb


def without_teeth(rgb: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The photo with its mouth interior painted over in lip colour, and its inner lips refit.

    dlib's inner-lip points often sit on the teeth of a smiling photo, so teeth lie in the
    lip triangles too and a warp would put them between closed lips. Interior pixels are
    those inside the inner lips, plus, within the outer lips, those far less red than the
    lips (LAB a*: teeth) or much darker (the mouth's depth) and joined to the inside; they
    are inpainted (Telea, then softened) from the lips around. The returned landmarks have
    each upper inner-lip point moved up, and each lower one down, to the interior's edge
    in its column where the interior reaches past it, so the warp's lip triangles hold lips
    only. A photo with a closed mouth barely changes. Returns new arrays.
    """
    import cv2

    pts = np.array(landmarks, float, copy=True)
    out = np.array(rgb, copy=True)
    found = _interior(out, pts)
    if found is None:
        return out, pts
    (x0, y0), mask = found
    iod = max(inter_ocular(pts), 1.0)
    box = np.ascontiguousarray(out[y0:y0 + mask.shape[0], x0:x0 + mask.shape[1]])
    grown = cv2.dilate(mask, np.ones((3, 3), np.uint8))  # and the teeth's blurred rim
    filled = cv2.inpaint(box, grown, max(3, int(0.05 * iod)), cv2.INPAINT_TELEA)
    # Inpainting leaves streaks; soften the filled part only.
    soft = cv2.GaussianBlur(filled, (0, 0), max(1.0, 0.03 * iod))
    a = cv2.GaussianBlur(grown.astype(np.float32) / 255, (0, 0), 1.0)[..., None]
    box[...] = np.clip(filled * (1 - a) + soft * a + 0.5, 0, 255).astype(np.uint8)
    out[y0:y0 + mask.shape[0], x0:x0 + mask.shape[1]] = box
    for up, low in ((61, 67), (62, 66), (63, 65)):
        col = int(round((pts[up, 0] + pts[low, 0]) / 2)) - x0
        if not 0 <= col < mask.shape[1]:
            continue
        rows = np.nonzero(mask[:, col])[0]
        if len(rows):
            pts[up, 1] = min(pts[up, 1], rows[0] + y0 - 0.5)
            pts[low, 1] = max(pts[low, 1], rows[-1] + y0 + 0.5)
    return out, pts


def _interior(rgb: np.ndarray, pts: np.ndarray) -> tuple[tuple[int, int], np.ndarray] | None:
    """The mouth interior of `without_teeth`: a uint8 mask over a box around the lips."""
    import cv2

    iod = max(inter_ocular(pts), 1.0)
    h, w = rgb.shape[:2]
    x0, y0 = np.floor(pts[OUTER_LIPS].min(0) - 0.1 * iod).astype(int)
    x1, y1 = np.ceil(pts[OUTER_LIPS].max(0) + 0.1 * iod).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    lab = cv2.cvtColor(np.ascontiguousarray(rgb[y0:y1, x0:x1]), cv2.COLOR_RGB2LAB)
    lab = lab.astype(np.float32)
    hull = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.round(pts[OUTER_LIPS] - [x0, y0])
                                            .astype(np.int32)), 255)
    inner = np.zeros_like(hull)
    cv2.fillPoly(inner, [np.round(pts[INNER_LIPS] - [x0, y0]).astype(np.int32)], 255)
    ring = (hull > 0) & (inner == 0)
    if ring.sum() < 16:
        return None
    light, red = lab[..., 0], lab[..., 1]
    lip_l, lip_a = np.median(light[ring]), np.median(red[ring])
    pale = (red < lip_a - 0.5 * max(lip_a - 128, 4)) & (light > 0.5 * lip_l)
    dark = light < 0.5 * lip_l
    mask = ((((pale | dark) & (hull > 0)) | (inner > 0)) * 255).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    # Only what is joined to the inside of the lips (not a highlight on a lip).
    n, labels = cv2.connectedComponents(mask)
    keep = np.unique(labels[(inner > 0) & (mask > 0)])
    mask = np.where(np.isin(labels, keep[keep > 0]), 255, 0).astype(np.uint8) & hull
    return ((x0, y0), mask) if mask.any() else None


def _smooth_loop(points: np.ndarray, steps: int = 4) -> np.ndarray:
    """A closed polygon through `points` made round (a Catmull-Rom spline, `steps` per side)."""
    p = np.asarray(points, float)
    p0, p1, p2, p3 = np.roll(p, 1, 0), p, np.roll(p, -1, 0), np.roll(p, -2, 0)
    out = []
    for t in np.arange(steps) / steps:
        t2, t3 = t * t, t * t * t
        out.append(0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2
                          + (3 * p1 - p0 - 3 * p2 + p3) * t3))
    return np.stack(out, 1).reshape(-1, 2)


def inner_mouth_mask(shape: tuple[int, ...], landmarks: np.ndarray) -> np.ndarray:
    """A soft mask (float32 (h, w)) of the inside of the inner-lip contour.

    The contour is rounded through the 8 points (lips curve; the landmarks' polygon would
    cut corners off the target's mouth). Its exact pixel coverage (drawn at 4x and averaged
    down, so closed lips, a polygon of no area, give almost nothing) is full inside and
    softens outward over about 2% of the inter-ocular distance (Gaussian sigma).
    """
    out = np.zeros(shape[:2], np.float32)
    found = _inner_mouth(shape, landmarks)
    if found is not None:
        (x0, y0), mask = found
        out[y0:y0 + mask.shape[0], x0:x0 + mask.shape[1]] = mask
    return out


def _inner_mouth(shape: tuple[int, ...], landmarks: np.ndarray
                 ) -> tuple[tuple[int, int], np.ndarray] | None:
    """`inner_mouth_mask` over just the box around the mouth: (box origin, mask)."""
    import cv2

    h, w = shape[:2]
    pts = np.asarray(landmarks, float)
    sigma = max(0.02 * inter_ocular(pts), 0.5)
    margin = int(3 * sigma) + 2
    lips = _smooth_loop(pts[INNER_LIPS])
    bx0, by0 = np.floor(lips.min(0)).astype(int) - margin
    bx1, by1 = np.ceil(lips.max(0)).astype(int) + margin + 1
    bx0, by0, bx1, by1 = max(bx0, 0), max(by0, 0), min(bx1, w), min(by1, h)
    if bx1 - bx0 < 2 or by1 - by0 < 2:
        return None
    fine = np.zeros((4 * (by1 - by0), 4 * (bx1 - bx0)), np.uint8)
    # Pixel centres at (i + 0.5) / 4 in the 4x raster; shift=2 keeps quarter-pixel vertices.
    corners = np.round(((lips - [bx0, by0]) * 4 - 0.5) * 4).astype(np.int32)
    cv2.fillPoly(fine, [corners], 255, cv2.LINE_8, shift=2)
    cover = cv2.resize(fine.astype(np.float32) / 255, (bx1 - bx0, by1 - by0),
                       interpolation=cv2.INTER_AREA)
    return (int(bx0), int(by0)), np.maximum(cover, cv2.GaussianBlur(cover, (0, 0), sigma))


def carry_inner_mouth(rgb: np.ndarray, alpha: np.ndarray, region: np.ndarray,
                      target: np.ndarray, rendered: np.ndarray) -> None:
    """Lay the target's own mouth interior into a patch, inside its inner lips (in place).

    `rgb` (float, colour-matched), `alpha` and `region` (the frame's pixels) cover the same
    rectangle; `target` and `rendered` are landmarks in that rectangle's pixels. The mask is
    drawn on the rendered inner lips and filled with the frame's interior moved by the
    shift between the two inner-lip contours (none for engines that render to the target's
    own landmarks), so teeth, tongue and darkness are always the target's, never the photo's.
    `rgb` (float32) and `alpha` are modified in place: alpha rises to the mask there.
    """
    import cv2

    rendered = np.asarray(rendered, float)
    found = _inner_mouth(rgb.shape, rendered)
    if found is None:
        return
    (x0, y0), mask = found
    y1, x1 = y0 + mask.shape[0], x0 + mask.shape[1]
    shift = (rendered[INNER_LIPS] - np.asarray(target, float)[INNER_LIPS]).mean(0)
    own = region[y0:y1, x0:x1]
    if np.abs(shift).max() > 0.01:
        m = np.float32([[1, 0, x0 - shift[0]], [0, 1, y0 - shift[1]]])
        own = cv2.warpAffine(region, m, (x1 - x0, y1 - y0),
                             flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                             borderMode=cv2.BORDER_REPLICATE)
    a = mask[..., None]
    rgb[y0:y1, x0:x1] = rgb[y0:y1, x0:x1] * (1 - a) + own * a
    np.maximum(alpha[y0:y1, x0:x1], mask, out=alpha[y0:y1, x0:x1])
