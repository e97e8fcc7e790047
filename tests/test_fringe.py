"""A source photo's fringe is painted out in its own skin; a bare forehead is left alone."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import MEDIA, media

from retake.video.faces import FaceModels
from retake.video.fringe import without_fringe
from retake.video.geometry import inter_ocular
from retake.video.swap_landmark import source_face


@pytest.fixture(scope="module")
def models() -> FaceModels:
    return FaceModels()


def _forehead_skin_share(rgb: np.ndarray, lms: np.ndarray) -> float:
    """Share of the forehead (0.3-0.6 inter-ocular above the brows, between the eyes'
    outer corners) within ΔE 12 of the mean of the cheeks."""
    import cv2

    lab = cv2.cvtColor(rgb.astype(np.float32) / 255, cv2.COLOR_RGB2LAB)
    iod = inter_ocular(lms)
    cheeks = [lab[int(y) - 3:int(y) + 3, int(x) - 3:int(x) + 3].reshape(-1, 3)
              for x, y in ((lms[2] + lms[31]) / 2, (lms[14] + lms[35]) / 2)]
    skin = np.concatenate(cheeks).mean(0)
    brow_y = lms[17:27, 1].min()
    patch = lab[int(brow_y - 0.6 * iod):int(brow_y - 0.3 * iod),
                int(lms[36, 0]):int(lms[45, 0])]
    return float((np.linalg.norm(patch - skin, axis=-1) < 12).mean())


def test_fringe_is_painted_out_and_nothing_else_changes(models: FaceModels) -> None:
    import skimage.data

    photo = skimage.data.astronaut()  # her fringe sweeps across the forehead
    before = photo.copy()
    lms = source_face(photo, models)
    out, share = without_fringe(photo, lms)
    assert np.array_equal(photo, before)  # the input is not modified
    assert share > 0.5
    assert _forehead_skin_share(photo, lms) < 0.5
    assert _forehead_skin_share(out, lms) > 0.9
    # Brows, eyes and below are the photo's own pixels.
    below = int(np.ceil(lms[17:27, 1].max()))
    assert np.array_equal(out[below:], photo[below:])
    for x, y in lms[17:27].round().astype(int):  # the brows (a blur's faint tail at most)
        diff = out[y - 2:y + 3, x - 2:x + 3].astype(int) - photo[y - 2:y + 3, x - 2:x + 3]
        assert np.abs(diff).max() <= 2
    # Painted once, the forehead is bare: a second pass leaves it as it is.
    again, share2 = without_fringe(out, lms)
    assert share2 == 0.0 and np.array_equal(again, out)


@pytest.mark.skipif(not (MEDIA / "faces").is_dir(), reason="shared media absent")
@pytest.mark.parametrize("name", ["obama.jpg", "biden2.jpg"])
def test_hairline_without_fringe_is_left_alone(name: str, models: FaceModels) -> None:
    from retake.video.media import read_image

    photo = read_image(media("faces", name))
    out, share = without_fringe(photo, source_face(photo, models))
    assert share == 0.0 and np.array_equal(out, photo)
