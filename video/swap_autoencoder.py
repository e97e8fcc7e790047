"""The `autoencoder` swap engine: re-paint each target face with a trained model's decoder.

The target face is cut out at the model's framing (the same `crop_matrix` the training crops
used), encoded by the shared encoder and decoded by the other identity's decoder, so the
result keeps the target's pose, expression and lighting but shows the other person. The
decoded face and its learned mask are warped back over the face's rectangle in the frame;
colour matching and blending are left to the caller, as for every engine.

A model paints only the eyes its source faceset showed: a speaker filmed with open eyes
gives a decoder that cannot shut them, and at 64-128 px the lids are a blur anyway (on the
bench's GPU-trained 128 px model, 0 of 4 target blinks survived). So, as the landmark
engine does, where the target's eye closes well past its own recent open level the
target's own eye region is laid in (`expression.carry_eyes`, colour matched to the
painted skin around it).
"""

from __future__ import annotations

import os

import numpy as np

from retake.core.errors import FaceError, RetakeError
from retake.video.expression import OpenEyes, carry_eyes, eye_weights
from retake.video.faces import SAME_PERSON, FaceModels, identity_distance
from retake.video.geometry import crop_matrix, invert, outline, region_mask
from retake.video.swappers import Patch

# The target's own eye laid in reaches this many eye widths up (the landmark engine's
# 0.45 left the model's dark painted socket above a blink's lids, where dlib then found an
# open eye). The painted face is drawn on the target's landmarks, so more of the target's
# lid fits without a seam.
AE_EYE_REACH_UP = 0.8
DIRECTIONS = {"dst_to_src": ("dst", "src"), "src_to_dst": ("src", "dst")}
MASKS = ("learned", "landmarks", "both")


def check_identity(meta: dict, embedding: np.ndarray | None, expected: str = "dst",
                   threshold: float = SAME_PERSON) -> float | None:
    """Distance from a target face's embedding to the model's `expected` identity.

    Raises `FaceError` when it is above `threshold` (a model trained for other faces);
    returns None when the model or the face has no embedding to compare.
    """
    ident = meta.get("identities", {}).get(expected, {})
    ref = ident.get("embedding")
    if ref is None or embedding is None:
        return None
    d = identity_distance(np.asarray(embedding, float), np.asarray(ref, float))
    if not np.isfinite(d):
        return None
    if d > threshold:
        raise FaceError(f"this model was trained for another face: the target is {d:.2f} "
                        f"from the model's {expected} person '{ident.get('name', expected)}' "
                        f"(same person is below {threshold}); train a model on this face "
                        "with `retake train`")
    return d


def check_model_identity(model_dir: str | os.PathLike, embedding: np.ndarray | None,
                         direction: str = "dst_to_src") -> float | None:
    """`check_identity` for a model folder, without loading its weights."""
    from retake.video.autoencoder import model_info

    return check_identity(model_info(model_dir), embedding, _direction(direction)[0])


def _direction(direction: str) -> tuple[str, str]:
    if direction not in DIRECTIONS:
        raise RetakeError(f"unknown direction {direction!r}; use dst_to_src or src_to_dst")
    return DIRECTIONS[direction]


def _warp_down(frame: np.ndarray, m: np.ndarray, side: int) -> np.ndarray:
    """Warp a frame into a `side` crop, area-filtering when the face is shrunk a lot."""
    import cv2

    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    k = int(min(4, max(1, np.floor(1 / max(scale, 1e-6)))))
    mk = m * k
    mk[:, 2] += (k - 1) / 2  # pixel centres: crop pixel i covers big pixels k*i .. k*i+k-1
    big = cv2.warpAffine(frame, mk, (side * k, side * k), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REFLECT)
    if k == 1:
        return big
    return cv2.resize(big, (side, side), interpolation=cv2.INTER_AREA)


class AutoencoderSwapper:
    """Swap engine backed by a model folder from `retake train`.

    direction 'dst_to_src' (default): the frames show the destination person and get the
    source person's face; 'src_to_dst' the other way round. mask: 'learned' (the
    decoder's mask), 'landmarks' (the target's face outline) or 'both' (their minimum).
    target_eyes: an eye the target closes well past its recent open level is its own
    (see the module docstring); frames are expected in order.
    """

    name = "autoencoder"

    def __init__(self, model_dir: str | os.PathLike, direction: str = "dst_to_src",
                 device: str = "auto", mask: str = "learned", margin: float = 0.1,
                 target_eyes: bool = True) -> None:
        from retake.video.autoencoder import load_model

        self.target, self.paint_as = _direction(direction)
        if mask not in MASKS:
            raise RetakeError(f"unknown mask {mask!r}; use one of {', '.join(MASKS)}")
        self.model = load_model(model_dir, device)
        self.mask = mask
        self.margin = margin
        self.target_eyes = target_eyes
        self.open_eyes = OpenEyes()

    @property
    def meta(self) -> dict:
        """The model's model.json."""
        return self.model.meta

    def check_identity(self, embedding: np.ndarray | None) -> float | None:
        """Raise `FaceError` unless the face looks like the identity this model swaps away."""
        return check_identity(self.meta, embedding, self.target)

    def check_target(self, target: str | os.PathLike, models: FaceModels,
                     frames: int = 50) -> float | None:
        """`check_identity` on the largest face of an image, or of a video's first frames.

        Looks at every 5th of the first `frames` frames until one holds a face; returns
        None when none does (the swap itself then reports the missing face).
        """
        from retake.video.media import is_image, read_frames, read_image

        def first_face(rgb: np.ndarray) -> np.ndarray | None:
            boxes = models.detect(rgb)
            if not boxes:
                return None
            return models.embed(rgb, models.landmarks(rgb, boxes[0]))

        if is_image(target):
            return self.check_identity(first_face(read_image(target)))
        for fr in read_frames(target):
            if fr.index >= frames:
                break
            emb = first_face(fr.rgb) if fr.index % 5 == 0 else None
            if emb is not None:
                return self.check_identity(emb)
        return None

    def render(self, frame: np.ndarray, landmarks: np.ndarray) -> Patch:
        """The re-painted face over the face's rectangle (with a margin) of one RGB frame."""
        import cv2

        lms = np.asarray(landmarks, float)
        h, w = frame.shape[:2]
        res = self.model.resolution
        m = crop_matrix(lms, res, self.model.padding)
        crop = _warp_down(frame, m, res)
        rgb, learned = self.model.paint(crop[None], self.paint_as)

        face = outline(lms, 0.45)
        x0, y0 = face.min(0)
        x1, y1 = face.max(0)
        pad_x, pad_y = (x1 - x0) * self.margin, (y1 - y0) * self.margin
        x0, y0 = max(0, int(np.floor(x0 - pad_x))), max(0, int(np.floor(y0 - pad_y)))
        x1, y1 = min(w, int(np.ceil(x1 + pad_x))), min(h, int(np.ceil(y1 + pad_y)))
        if x1 <= x0 or y1 <= y0:
            raise FaceError("the face lies outside the frame; check the landmarks")
        back = invert(m)
        back[:, 2] -= (x0, y0)  # into patch coordinates
        size = (x1 - x0, y1 - y0)
        out_rgb = cv2.warpAffine(rgb[0], back, size, flags=cv2.INTER_CUBIC,
                                 borderMode=cv2.BORDER_REPLICATE)
        # The crop's own square, so nothing outside what the model saw is marked valid.
        inside = cv2.warpAffine(np.ones((res, res), np.float32), back, size,
                                flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        if self.mask == "landmarks":
            mask = region_mask((size[1], size[0]), lms - (x0, y0), "face")
        else:
            mask = cv2.warpAffine(learned[0], back, size, flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_CONSTANT)
            if self.mask == "both":
                mask = np.minimum(mask, region_mask((size[1], size[0]), lms - (x0, y0),
                                                    "face"))
        mask = np.clip(mask * inside, 0, 1).astype(np.float32)
        out_rgb = np.clip(out_rgb, 0, 255).astype(np.float32)
        if self.target_eyes:
            # Judged against the target alone (its own recent open level): the painted
            # face is drawn on the target's landmarks.
            weights = eye_weights(lms, lms, self.open_eyes.update(lms))
            if max(weights) > 0.01:
                carry_eyes(out_rgb, x0, y0, frame, lms, lms, weights, AE_EYE_REACH_UP)
        return Patch(x0, y0, out_rgb, mask, lms.copy())
