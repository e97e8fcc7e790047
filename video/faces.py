"""Face detection, 68 landmarks and 128-d identity embeddings with dlib (offline models).

The models ship in the `face-recognition-models` wheel. `FaceModels` loads each one on
first use and is passed around explicitly (no module-level state). Detection runs on a
downscaled copy of the frame (`detect_side` pixels on the longer side), which is where most
of a naive pipeline's time goes, and at larger scales only when that finds nothing (small
faces); landmarks and embeddings use the full-resolution frame.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from retake.core.errors import EngineUnavailable

DETECTORS = ("hog", "cnn")

# dlib's rule of thumb: embeddings of one person are closer than this.
SAME_PERSON = 0.6


def _model_path(name: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import face_recognition_models as frm
        except ImportError as exc:  # pragma: no cover - install problem
            raise EngineUnavailable("face-recognition-models is not installed; "
                                    "run `make install`") from exc
    return getattr(frm, name)()


@dataclass
class FaceModels:
    """Lazily loaded dlib models: detector (HOG or CNN), 68-point predictor, encoder."""

    detector: str = "hog"
    detect_side: int = 320
    # HOG scores: real faces measured 0.9-1.6 here, the astronaut photo's suit patch (a
    # classic false positive) 0.09-0.21. CNN confidences are on another scale (~1 for faces).
    min_score: float = 0.3
    _cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.detector not in DETECTORS:
            raise EngineUnavailable(f"unknown face detector {self.detector!r}; "
                                    f"choose one of {', '.join(DETECTORS)}")

    def _get(self, key: str):
        import dlib

        if key not in self._cache:
            if key == "hog":
                self._cache[key] = dlib.get_frontal_face_detector()
            elif key == "cnn":
                self._cache[key] = dlib.cnn_face_detection_model_v1(
                    _model_path("cnn_face_detector_model_location"))
            elif key == "shape":
                self._cache[key] = dlib.shape_predictor(
                    _model_path("pose_predictor_model_location"))
            elif key == "encoder":
                self._cache[key] = dlib.face_recognition_model_v1(
                    _model_path("face_recognition_model_location"))
        return self._cache[key]

    def detect(self, rgb: np.ndarray, upsample: int = 0, full: bool = False,
               deep: bool = True) -> list[np.ndarray]:
        """Face boxes [x0, y0, x1, y1] in full-frame pixels, largest first.

        The frame is first shrunk so its longer side is `detect_side` (never enlarged),
        where only faces of ~60-70 px *at that scale* are found (the detectors' window).
        When nothing is found there, the search is repeated at twice the scale, and so on
        up to full resolution, so any face a person can see (~60 px and up) is found while
        frames with big faces stay on the fast path. `upsample` finds even smaller faces;
        `full` starts at full size (single photos, where thoroughness beats speed).
        `deep=False` stops after one doubling (a tracker scanning empty frames between its
        regular deep searches).
        """
        h, w = rgb.shape[:2]
        scale = 1.0 if full else min(1.0, self.detect_side / max(h, w))
        boxes = self._detect_at(rgb, scale, upsample)
        while not boxes and scale < 1 and (deep or scale <= self.detect_side / max(h, w)):
            # Double the scale; go straight to full size once it is within 1.5x (a pass in
            # between would cost nearly half the full-size one and add little).
            scale = 1.0 if 3 * scale >= 1 else 2 * scale
            boxes = self._detect_at(rgb, scale, upsample)
        boxes.sort(key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))
        return boxes

    def _detect_at(self, rgb: np.ndarray, scale: float, upsample: int) -> list[np.ndarray]:
        import cv2

        h, w = rgb.shape[:2]
        small = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))),
                           interpolation=cv2.INTER_AREA) if scale < 1 else rgb
        small = np.ascontiguousarray(small)
        if self.detector == "hog":
            found, scores, _ = self._get("hog").run(small, upsample, 0.0)
            rects = [r for r, sc in zip(found, scores, strict=True) if sc >= self.min_score]
        else:
            rects = [d.rect for d in self._get("cnn")(small, upsample)
                     if d.confidence >= self.min_score]
        return [np.array([r.left(), r.top(), r.right(), r.bottom()], float) / scale
                for r in rects]

    def landmarks(self, rgb: np.ndarray, box: np.ndarray) -> np.ndarray:
        """The 68 iBUG landmarks (x, y) inside a face box, float array of shape (68, 2)."""
        import dlib

        x0, y0, x1, y1 = (int(round(v)) for v in box)
        shape = self._get("shape")(rgb, dlib.rectangle(x0, y0, x1, y1))
        return np.array([(p.x, p.y) for p in shape.parts()], float)

    def embed(self, rgb: np.ndarray, landmarks: np.ndarray, jitters: int = 0) -> np.ndarray:
        """dlib's 128-d identity embedding of the face with these landmarks.

        Distances below `SAME_PERSON` (0.6) mean "same person" in dlib's calibration.
        """
        import dlib

        pts = [dlib.point(int(round(x)), int(round(y))) for x, y in landmarks]
        xs, ys = landmarks[:, 0], landmarks[:, 1]
        rect = dlib.rectangle(int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))
        shape = dlib.full_object_detection(rect, pts)
        vec = self._get("encoder").compute_face_descriptor(np.ascontiguousarray(rgb), shape,
                                                           max(0, jitters))
        return np.array(vec, np.float32)


def box_from_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """A dlib-style detector box predicted from 68 landmarks (to re-run the predictor).

    HOG boxes sit roughly from the brows to the chin and across the cheeks; this maps the
    landmarks' extent to that convention so tracking by landmarks stays self-consistent.
    """
    x0, y0 = landmarks.min(axis=0)
    x1, y1 = landmarks.max(axis=0)
    w = x1 - x0
    cx = (x0 + x1) / 2
    top = landmarks[17:27, 1].min()
    # Fitted on 50 HOG detections: side 1.03 x jaw width, centre 0.40 x width below brows.
    side = w * 1.03
    cy = top + 0.40 * w
    return np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2])


def identity_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance of two dlib embeddings (below 0.6: same person)."""
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)))
