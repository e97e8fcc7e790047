"""The face-swap engine interface and registry (FaceFusion style: one tiny interface, by name).

An engine turns one target frame plus that frame's (smoothed) target landmarks into a
`Patch`: new face pixels and a soft mask over a rectangle of the frame. Colour matching,
blending and keeping the target's mouth are shared by all engines (`video/blend.py`), so
each engine is only the part that differs: where the new face's pixels come from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from retake.core.engines import EngineSpec


@dataclass
class Patch:
    """New face pixels for the frame rectangle [y0:y0+h, x0:x0+w].

    `rgb` is float32 (h, w, 3) in 0..255; `mask` float32 (h, w) in [0, 1] says where the
    engine's pixels are valid (before feathering); `landmarks` are the 68 points the new
    face was rendered to, in frame pixels.
    """

    x0: int
    y0: int
    rgb: np.ndarray
    mask: np.ndarray
    landmarks: np.ndarray


class Swapper(Protocol):
    """What every swap engine provides."""

    name: str

    def render(self, frame: np.ndarray, landmarks: np.ndarray) -> Patch:
        """The new face for one RGB frame whose target face has these 68 landmarks."""
        ...


def _torch_missing() -> str | None:
    from retake.core.engines import _module_missing

    return _module_missing("torch")


def _dlib_missing() -> str | None:
    from retake.core.engines import _module_missing

    return _module_missing("dlib", "face_recognition_models")


DLIB_WEIGHTS = "dlib HOG / MMOD CNN detector, 68-point predictor, ResNet embedding, inside " \
    "the face-recognition-models wheel"

VIDEO_ENGINES: tuple[EngineSpec, ...] = (
    EngineSpec("faces", "hog", "dlib HOG face detector on a downscaled frame, tracked by "
               "landmarks between keyframes; CPU", "nothing beyond the pip install",
               DLIB_WEIGHTS, "CC0 (models), Boost (dlib)", True, _dlib_missing),
    EngineSpec("faces", "cnn", "dlib MMOD CNN detector: turned and small faces, slower",
               "nothing beyond the pip install", DLIB_WEIGHTS, "CC0 (models), Boost (dlib)",
               False, _dlib_missing),
    EngineSpec("swap", "landmark", "one source photo warped onto every frame (shape-aware "
               "Delaunay warp, colour transfer, feathered or Poisson blend)",
               "a source photo", "none", "n/a", True, _dlib_missing),
    EngineSpec("swap", "autoencoder", "DeepFaceLab-style shared encoder + a decoder per "
               "identity, trained with `retake train`; CUDA when present",
               "a model folder from `retake train`", "trained by you on your facesets",
               "yours", False, _torch_missing),
)
