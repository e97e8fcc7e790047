"""The video room's engines: face detectors and face-swap engines, built by name.

FaceFusion style: each swap engine is a module with the same tiny interface
(`video.swappers.Swapper`), listed here with what it needs and its weights, and built here.
"""

from __future__ import annotations

import os

from retake.core.engines import EngineSpec, WeightFile, build, module_missing
from retake.video.swappers import DEFAULT_SHAPE

DLIB_WEIGHTS = ("dlib HOG / MMOD CNN detector, 68-point predictor, ResNet embedding, inside "
                "the face-recognition-models wheel")
DLIB_FILES = tuple(WeightFile("face_recognition_models", "models/" + p, h) for p, h in (
    ("shape_predictor_68_face_landmarks.dat",
     "fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f"),
    ("dlib_face_recognition_resnet_model_v1.dat",
     "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30"),
    ("mmod_human_face_detector.dat",
     "4cb19393e2fbaf2b1609a9319ad5386618c886a6234ec1b971f3e87c85d87fe6"),
))


def _dlib_missing() -> str | None:
    return module_missing("dlib", "face_recognition_models")


def _faces(name: str, **_):
    from retake.video.faces import FaceModels

    return FaceModels(detector=name)


def _landmark(name: str, models=None, source: str | os.PathLike | None = None,
              source_face: int | None = None, shape: float = DEFAULT_SHAPE, **_):
    from retake.core.errors import RetakeError
    from retake.video.media import read_image
    from retake.video.swap_landmark import LandmarkSwapper
    from retake.video.swap_landmark import source_face as find_source

    if source is None:
        raise RetakeError("the landmark engine needs a source photo (--source PHOTO)")
    rgb = read_image(source)
    return LandmarkSwapper(rgb, find_source(rgb, models or _faces("hog"), source_face),
                           shape=shape)


def _autoencoder(name: str, model: str | os.PathLike | None = None,
                 direction: str = "dst_to_src", device: str = "auto", mask: str = "learned",
                 **_):
    from retake.core.errors import RetakeError
    from retake.video.swap_autoencoder import AutoencoderSwapper

    if model is None:
        raise RetakeError("the autoencoder engine needs a model folder (--model MODEL)")
    return AutoencoderSwapper(model, direction=direction, device=device, mask=mask)


FACE_ENGINES: tuple[EngineSpec, ...] = (
    EngineSpec("faces", "hog", "dlib HOG face detector on a downscaled frame, tracked by "
               "landmarks between keyframes; CPU", "nothing beyond the pip install",
               DLIB_WEIGHTS, "CC0 (models), Boost (dlib)", True, _dlib_missing, _faces,
               "face-recognition-models", DLIB_FILES),
    EngineSpec("faces", "cnn", "dlib MMOD CNN detector: turned and small faces, slower",
               "nothing beyond the pip install", DLIB_WEIGHTS, "CC0 (models), Boost (dlib)",
               False, _dlib_missing, _faces, "face-recognition-models", DLIB_FILES),
)

SWAP_ENGINES: tuple[EngineSpec, ...] = (
    EngineSpec("swap", "landmark", "one source photo warped onto every frame (shape-aware "
               "Delaunay warp, colour transfer, feathered or Poisson blend)",
               "a source photo", "none (dlib's, listed under faces)", "n/a", True,
               _dlib_missing, _landmark, "dlib-bin"),
    EngineSpec("swap", "autoencoder", "DeepFaceLab-style shared encoder + a decoder per "
               "identity, trained with `retake train`; CUDA when present",
               "a model folder from `retake train`", "trained by you on your facesets",
               "yours", False, lambda: module_missing("torch"), _autoencoder, "torch"),
)

VIDEO_ENGINES = (*FACE_ENGINES, *SWAP_ENGINES)


def build_swapper(name: str, models=None, **options):
    """The swap engine `name` (landmark: `source=PHOTO`; autoencoder: `model=FOLDER`)."""
    return build(SWAP_ENGINES, name, "swap", models=models, **options)


def build_faces(detector: str = "hog"):
    """The face models for `detector` (hog or cnn)."""
    return build(FACE_ENGINES, detector, "face detection")
