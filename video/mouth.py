"""Mouth re-rendering from the speaker's own video (Video Rewrite, Bregler et al. 1997).

A `MouthBank` holds every frame's real mouth: its lower-face pixels, landmarks, inner-lip
gap and spread, and (when the original speech is aligned) the viseme it was saying. For a
run of frames that must say new words, `select_mouths` picks one bank frame per output frame
by a Viterbi search: the target cost asks for the right viseme and mouth opening, the join
cost for small shape changes, and consecutive source frames cost nothing to join, so real
motion is reused whole where it fits. `render_mouth` warps the chosen lower face onto the
current face (piecewise affine, pose from the eyes and nose) and closes the lips exactly on
M, B and P. A bank of a single still photo works too: the mouth is then shaped by warping.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from retake.video.geometry import TEMPLATE, apply, inter_ocular, umeyama
from retake.video.visemes import VISEMES, lip_gap, mouth_spread, viseme_distance
from retake.video.warp import mesh_warp, triangulate

# Points of the lower-face mesh: jaw 2..14, nose base 31..35, nose ridge 29..30, mouth.
MESH = list(range(2, 15)) + [29, 30, 31, 32, 33, 34, 35] + list(range(48, 68))
# Points that carry the head pose (never move with speech).
POSE = list(range(27, 48))
# Jaw points that follow the mouth's opening.
LOWER_JAW = list(range(4, 13))
_UPPER_INNER = (61, 62, 63)
_LOWER_INNER = (67, 66, 65)


def ring(landmarks: np.ndarray, grow: float = 0.22) -> np.ndarray:
    """Points outside the jaw (2..14), pushed away from the nose tip by `grow`.

    The mesh reaches out to them so a chin that moves with the new mouth stretches the skin
    and neck smoothly, and the blend's soft edge falls outside the jaw line.
    """
    jaw = landmarks[2:15]
    centre = landmarks[30]
    return jaw + (jaw - centre) * grow


def mesh_points(landmarks: np.ndarray) -> np.ndarray:
    """The lower-face mesh vertices: MESH landmarks then the ring."""
    return np.vstack([landmarks[MESH], ring(landmarks)])


def _mesh_triangles() -> np.ndarray:
    pts = mesh_points(TEMPLATE * 200)
    tri = triangulate(pts)
    # Drop triangles inside the inner lips: the mouth's interior is drawn separately.
    inner = {MESH.index(i) for i in range(60, 68)}
    return np.array([t for t in tri if not set(t.tolist()) <= inner], np.int32)


@dataclass
class MouthSample:
    """One frame's mouth: pixels of the lower face and its measurements."""

    frame: int
    crop: np.ndarray  # uint8 lower-face pixels
    origin: tuple[int, int]  # crop's top-left in its frame
    landmarks: np.ndarray  # (68, 2) frame pixels
    gap: float
    spread: float
    viseme: str | None = None
    shape: np.ndarray = field(default_factory=lambda: np.zeros((20, 2)))
    pose: np.ndarray = field(default_factory=lambda: np.zeros(2))


def pose_of(landmarks: np.ndarray) -> np.ndarray:
    """(yaw proxy, roll in radians) of a face: bank mouths should come from similar poses."""
    from retake.video.faceset import yaw_estimate

    eyes = landmarks[42:48].mean(0) - landmarks[36:42].mean(0)
    return np.array([yaw_estimate(landmarks), np.arctan2(eyes[1], eyes[0])])


def mouth_box(landmarks: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The lower face a bank keeps of a frame (x0, y0, x1, y1): the mouth mesh with a
    margin of 0.2 inter-ocular distances, within the frame."""
    pts = mesh_points(landmarks)
    iod = inter_ocular(landmarks)
    x0, y0 = np.maximum(np.floor(pts.min(0) - 0.2 * iod).astype(int), 0)
    x1 = min(int(np.ceil(pts[:, 0].max() + 0.2 * iod)), shape[1])
    y1 = min(int(np.ceil(pts[:, 1].max() + 0.2 * iod)), shape[0])
    return int(x0), int(y0), x1, y1


@dataclass
class MouthBank:
    """The mouths available to re-render with, and the speaker's resting spread."""

    samples: list[MouthSample]
    rest_spread: float

    def add(self, frame: int, rgb: np.ndarray, landmarks: np.ndarray,
            viseme: str | None = None) -> None:
        """Keep one frame's lower face (cropped around the mesh with a margin)."""
        x0, y0, x1, y1 = mouth_box(landmarks, rgb.shape)
        m = umeyama(landmarks[POSE], TEMPLATE[POSE])
        self.samples.append(MouthSample(frame, rgb[y0:y1, x0:x1].copy(), (int(x0), int(y0)),
                                        np.asarray(landmarks, float), lip_gap(landmarks),
                                        mouth_spread(landmarks), viseme,
                                        apply(m, landmarks[48:68]), pose_of(landmarks)))

    def finish(self) -> MouthBank:
        """Compute the resting spread (median) once all frames are in."""
        if self.samples:
            self.rest_spread = float(np.median([s.spread for s in self.samples]))
        return self


HOLD_COST = 4.0  # joining a bank mouth to itself while speaking (a repeated frame shows)
# The same mouth on the same picture again is an exact duplicate frame, silent or not.
STILL_COST = 1000.0


def _target_cost(s: MouthSample, viseme: str, rest_spread: float) -> float:
    v = VISEMES[viseme]
    cost = abs(s.gap - v.openness) / 0.1 + abs(s.spread / rest_spread - v.spread) / 0.1
    if s.viseme is not None:
        cost += 0.5 * viseme_distance(s.viseme, viseme)
    if viseme == "closed":
        cost += 20 * max(0.0, s.gap - 0.03) / 0.03
    return cost


def select_mouths(bank: MouthBank, visemes: list[str], before: int | None = None,
                  after: int | None = None, candidates: int = 10,
                  poses: list[np.ndarray] | None = None,
                  still: list[bool] | None = None) -> list[int]:
    """Bank sample indices, one per frame, for a run of frames showing `visemes`.

    `before`/`after` are bank indices of the untouched frames around the run, so the
    chosen mouths join them smoothly. `poses` (from `pose_of`) of the faces being painted
    favour mouths seen from the same angle. `still[i]`: frame i shows the very picture of
    frame i - 1 (a retimed hold dwelling on one source frame), so the mouth before it must
    not be repeated, even in silence: the frame would be an exact duplicate. Viterbi over
    the `candidates` best per frame.
    """
    if not bank.samples:
        raise ValueError("empty mouth bank")
    shapes = np.array([s.shape for s in bank.samples])
    frames = np.array([s.frame for s in bank.samples])
    n = len(visemes)
    cands, costs = [], []
    bank_poses = np.array([s.pose for s in bank.samples])
    for i, v in enumerate(visemes):
        tc = np.array([_target_cost(s, v, bank.rest_spread) for s in bank.samples])
        if poses is not None and poses[i] is not None:
            d = np.abs(bank_poses - poses[i])
            tc = tc + d[:, 0] / 0.05 + d[:, 1] / 0.03
        idx = np.argsort(tc)[:candidates]
        cands.append(idx)
        costs.append(tc[idx])

    def join(a: np.ndarray, b: np.ndarray, hold: float = 0.0) -> np.ndarray:
        d = np.linalg.norm(shapes[a][:, None] - shapes[b][None, :], axis=3).mean(2) / 0.02
        natural = frames[b][None, :] == frames[a][:, None] + 1
        held = a[:, None] == b[None, :]
        return np.where(natural, 0.0, 0.5 + d + hold * held)

    def hold_cost(i: int) -> float:
        if still is not None and still[i]:
            return STILL_COST
        # the same bank mouth twice in a row is a frozen frame while speech goes on
        return HOLD_COST if visemes[i] != "rest" else 0.0

    total = costs[0].copy()
    if before is not None:
        total += join(np.array([before]), cands[0], hold_cost(0))[0]
    back = []
    for i in range(1, n):
        j = join(cands[i - 1], cands[i], hold_cost(i)) + total[:, None]
        arg = np.argmin(j, axis=0)
        back.append(arg)
        total = j[arg, np.arange(len(cands[i]))] + costs[i]
    if after is not None:
        total = total + join(cands[-1], np.array([after]))[:, 0]
    k = int(np.argmin(total))
    path = [k]
    for arg in reversed(back):
        k = int(arg[k])
        path.append(k)
    path.reverse()
    return [int(cands[i][p]) for i, p in enumerate(path)]


def _target_points(sample: MouthSample, current: np.ndarray, viseme: str,
                   rest_spread: float, reshape: bool) -> np.ndarray:
    """Where the sample's mesh points go on the current face (68 points, MESH used)."""
    m = umeyama(sample.landmarks[POSE], current[POSE])
    moved = apply(m, sample.landmarks)
    out = current.copy()
    out[LOWER_JAW] = moved[LOWER_JAW]
    out[48:68] = moved[48:68]
    if reshape:
        out = shape_mouth(out, VISEMES[viseme].openness, VISEMES[viseme].spread,
                          sample.spread / rest_spread)
    if viseme == "closed":
        out = close_lips(out)
    return out


def shape_mouth(lms: np.ndarray, openness: float, spread: float,
                current_spread: float = 1.0) -> np.ndarray:
    """Open or close the mouth to an inner-lip gap of `openness` x width, widen it to
    `spread` (relative); the lower lip and the chin move down together."""
    out = lms.copy()
    width = np.linalg.norm(out[54] - out[48])
    centre = out[48:68].mean(0)
    axis = (out[54] - out[48]) / (width + 1e-9)
    down = np.array([-axis[1], axis[0]])
    scale = spread / max(current_spread, 1e-3)
    rel = out[48:68] - centre
    along = rel @ axis
    out[48:68] = centre + np.outer(along * scale, axis) + np.outer(rel @ down, down)
    inner_w = np.linalg.norm(out[64] - out[60]) + 1e-9
    gap_now = lip_gap(out)
    extra = (openness - gap_now) * inner_w
    lower = [55, 56, 57, 58, 59, 65, 66, 67]
    out[lower] += extra * down
    jaw_w = np.sin(np.linspace(0, np.pi, 9)) * 0.8
    out[LOWER_JAW] += np.outer(jaw_w * extra, down)
    return out


def close_lips(lms: np.ndarray) -> np.ndarray:
    """The same mouth with the lips pressed together (for M, B, P)."""
    out = lms.copy()
    shift = []
    for u, d in zip(_UPPER_INNER, _LOWER_INNER, strict=True):
        mid = (out[u] + out[d]) / 2
        shift.append(mid - out[d])
        out[u] = out[d] = mid
    s = np.mean(shift, axis=0)
    out[[56, 57, 58]] += s * 0.9  # the lower lip rises to meet the upper one
    out[LOWER_JAW] += np.outer(np.sin(np.linspace(0, np.pi, 9)) * 0.6, s)
    return out


@dataclass
class MouthRender:
    """A re-rendered lower face: region pixels, blend mask and the landmarks drawn to."""

    x0: int
    y0: int
    rgb: np.ndarray
    alpha: np.ndarray
    landmarks: np.ndarray


class MouthRenderer:
    """Draw bank mouths onto frames: mesh warp, mouth interior, colour match, soft mask."""

    def __init__(self, bank: MouthBank) -> None:
        self.bank = bank
        self.tri = _mesh_triangles()

    def render(self, frame: np.ndarray, current: np.ndarray, sample_index: int,
               viseme: str) -> MouthRender | None:
        """Warp bank sample `sample_index` onto `frame`, whose face has `current` landmarks."""

        from retake.video.blend import lab_transfer

        s = self.bank.samples[sample_index]
        reshape = len(self.bank.samples) == 1 or (
            viseme != "closed" and abs(s.gap - VISEMES[viseme].openness) > 0.12)
        target = _target_points(s, np.asarray(current, float), viseme, self.bank.rest_spread,
                                reshape)
        src_pts = mesh_points(s.landmarks) - s.origin
        dst_pts = np.vstack([target[MESH], ring(np.asarray(current, float))])
        warped = mesh_warp(s.crop, src_pts, dst_pts, self.tri, frame.shape)
        if warped is None:
            return None
        local = target - [warped.x0, warped.y0]
        rgb = warped.rgb
        h, w = rgb.shape[:2]
        # The mouth's interior is never stretched with the lips: it is drawn apart.
        interior, cover = _interior(s, local, (h, w))
        rgb = rgb * (1 - cover[..., None]) + interior * cover[..., None]
        valid = np.maximum(warped.valid, cover)
        region = frame[warped.y0:warped.y0 + h, warped.x0:warped.x0 + w].astype(np.float32)
        lower = _lower_mask((h, w), dst_pts - [warped.x0, warped.y0], local)
        rgb = lab_transfer(rgb, region, _skin(lower * warped.valid, local,
                                              np.asarray(current, float) - [warped.x0,
                                                                            warped.y0]))
        alpha = np.minimum(lower, valid)
        return MouthRender(warped.x0, warped.y0, rgb, alpha, target)


CAVITY_TOP = np.array([38, 16, 18], np.float32)  # the dark back of an open mouth
CAVITY_TONGUE = np.array([120, 52, 56], np.float32)  # the tongue's shading at its floor


def _interior(s: MouthSample, drawn: np.ndarray, shape: tuple[int, int]
              ) -> tuple[np.ndarray, np.ndarray]:
    """Pixels and soft coverage of the mouth's inside for inner lips at `drawn[60:68]`.

    The sample's own interior (teeth, tongue, darkness) keeps its proportions: it moves with
    a similarity transform that takes its mouth corners and upper inner lip to the drawn
    ones, so the upper teeth stay under the upper lip at their size where the mouth opens
    wider than the sample's (warping them with the lips drew vertical streaks). What it
    does not cover is the cavity: dark at the top, the tongue's shading toward the floor."""
    import cv2

    h, w = shape
    inner = np.zeros((h, w), np.uint8)
    cv2.fillPoly(inner, [np.round(drawn[60:68]).astype(np.int32)], 255)
    cover = cv2.GaussianBlur(inner.astype(np.float32) / 255, (0, 0), 0.8)
    if not inner.any():
        return np.zeros((h, w, 3), np.float32), cover
    ys = np.nonzero(inner)[0]
    frac = np.clip((np.arange(h, dtype=np.float32) - ys.min()) / max(np.ptp(ys), 1), 0, 1)
    cavity = CAVITY_TOP + (CAVITY_TONGUE - CAVITY_TOP) * (frac ** 1.5)[:, None, None]
    cavity = np.broadcast_to(cavity, (h, w, 3)).astype(np.float32)
    src = s.landmarks - s.origin
    anchors = [60, 64, 62]
    m, _ = cv2.estimateAffinePartial2D(src[anchors].astype(np.float32),
                                       drawn[anchors].astype(np.float32))
    if m is None or s.gap < 0.03:
        return cavity, cover
    own = np.zeros(s.crop.shape[:2], np.uint8)
    cv2.fillPoly(own, [np.round(src[60:68]).astype(np.int32)], 255)
    moved = cv2.warpAffine(s.crop.astype(np.float32), m, (w, h), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
    reach = cv2.warpAffine(own.astype(np.float32) / 255, m, (w, h), flags=cv2.INTER_LINEAR)
    reach = cv2.GaussianBlur(reach, (0, 0), 1.5)[..., None]
    return moved * reach + cavity * (1 - reach), cover


def _skin(weight: np.ndarray, drawn: np.ndarray, current: np.ndarray) -> np.ndarray:
    """`weight` without the lips and mouth of both the drawn and the current face: colour
    statistics of skin alone, so an open bank mouth (dark inside) does not brighten the lips
    it is matched with, nor a lipsticked one redden the chin (closed lips alternated between
    pale and red, ΔE 11-14, with the whole lower face as statistics)."""
    import cv2

    mouth = np.zeros(weight.shape, np.uint8)
    for pts in (drawn[48:60], current[48:60]):
        cv2.fillPoly(mouth, [np.round(pts).astype(np.int32)], 255)
    k = max(3, int(inter_ocular(drawn) * 0.08) | 1)
    mouth = cv2.dilate(mouth, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    skin = weight * (mouth == 0)
    return skin if (skin > 0.5).sum() >= 64 else weight


def _lower_mask(shape: tuple[int, int], mesh: np.ndarray, local: np.ndarray) -> np.ndarray:
    """Soft mask over the mesh (below the nose to the ring), fading out toward the ring."""
    import cv2

    hard = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(hard, cv2.convexHull(np.round(mesh).astype(np.int32)), 255)
    size = max(inter_ocular(local), 1.0)
    k = int(size * 0.25) | 1
    hard = cv2.erode(hard, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    return cv2.GaussianBlur(hard.astype(np.float32) / 255, (0, 0), size * 0.12)


def paste(frame: np.ndarray, r: MouthRender) -> np.ndarray:
    """The frame with a rendered mouth blended in (a new array)."""
    out = frame.copy()
    h, w = r.alpha.shape
    region = out[r.y0:r.y0 + h, r.x0:r.x0 + w].astype(np.float32)
    a = r.alpha[..., None]
    out[r.y0:r.y0 + h, r.x0:r.x0 + w] = np.clip(r.rgb * a + region * (1 - a) + 0.5, 0, 255
                                                ).astype(np.uint8)
    return out
