"""Face detection finds every face a person can see: small ones by searching larger scales
when the fast, downscaled pass finds nothing; big ones still in one fast pass.

Faces come from scikit-image's astronaut and, when present, frames of ../shared/media.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import media
from media_tools import place_face

from retake.video.faces import FaceModels


@pytest.fixture(scope="module")
def models() -> FaceModels:
    return FaceModels()


def _astronaut() -> np.ndarray:
    return pytest.importorskip("skimage.data").astronaut()


def _video_frame(name: str) -> np.ndarray:
    from retake.video.media import read_frames

    return next(iter(read_frames(media("video", name)))).rgb


def _passes(models: FaceModels, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the scale of every detector pass `models` makes."""
    scales: list[float] = []
    inner = models._detect_at

    def spy(rgb, scale, upsample):
        scales.append(scale)
        return inner(rgb, scale, upsample)

    monkeypatch.setattr(models, "_detect_at", spy)
    return scales


@pytest.mark.parametrize("source", ["astronaut", "WDA_KatieHill_000.mp4", "retalking_2.mp4"])
def test_small_face_in_a_tall_frame_is_found_where_it_is(source: str, models: FaceModels,
                                                         monkeypatch) -> None:
    rgb = _astronaut() if source == "astronaut" else _video_frame(source)
    box = models.detect(rgb, full=True)[0]
    canvas = np.full((1080, 720, 3), 128, np.uint8)
    want = place_face(canvas, rgb, box, 72, (250, 700))  # a face ~72x100 px
    scales = _passes(models, monkeypatch)
    got = models.detect(canvas)
    assert len(got) == 1, got
    centre = (got[0][:2] + got[0][2:]) / 2 - (want[:2] + want[2:]) / 2
    assert np.abs(centre).max() <= 5, (got[0], want)
    assert abs((got[0][2] - got[0][0]) / 72 - 1) < 0.1, (got[0], want)
    # The fast pass and its 2x retry miss it; full resolution finds it.
    assert scales == pytest.approx([320 / 1080, 640 / 1080, 1.0])


def test_big_face_takes_one_fast_pass(models: FaceModels, monkeypatch) -> None:
    rgb = _astronaut()
    canvas = np.full((1080, 720, 3), 128, np.uint8)
    want = place_face(canvas, rgb, models.detect(rgb, full=True)[0], 300, (360, 500))
    scales = _passes(models, monkeypatch)
    got = models.detect(canvas)
    assert len(got) == 1 and np.abs(got[0] - want).max() < 40, (got, want)
    assert scales == pytest.approx([320 / 1080])


@pytest.mark.parametrize(("h", "w", "want"), [(1080, 720, [320 / 1080, 640 / 1080, 1.0]),
                                              (1080, 1920, [1 / 6, 1 / 3, 1.0]),
                                              (2160, 3840, [1 / 12, 1 / 6, 1 / 3, 1.0]),
                                              (512, 512, [0.625, 1.0]),
                                              (240, 320, [1.0])])
def test_no_face_searches_up_to_full_size(h: int, w: int, want: list[float],
                                          models: FaceModels, monkeypatch) -> None:
    scales = _passes(models, monkeypatch)
    assert models.detect(np.full((h, w, 3), 128, np.uint8)) == []
    assert scales == pytest.approx(want)


def test_a_shallow_search_stops_after_one_doubling(models: FaceModels, monkeypatch) -> None:
    """The tracker's frames between deep searches: the fast pass and its 2x retry only."""
    scales = _passes(models, monkeypatch)
    assert models.detect(np.full((1080, 1920, 3), 128, np.uint8), deep=False) == []
    assert scales == pytest.approx([1 / 6, 1 / 3])
