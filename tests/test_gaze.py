"""Where the eyes look: the target's sideways gaze is the output's.

Generated eyes (white almond, dark iris drawn where we choose, landmarks from the template)
test the pieces; the shared expressive clip, when present, tests the whole: where its eyes
glance aside, a photo swapped onto it glances the same way (judged by the bench's own
darkest-pixel centroid, not the swap's iris finder).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import media

from retake.video.expression import EYES
from retake.video.gaze import gaze, iris_position, look
from retake.video.geometry import TEMPLATE
from retake.video.swap_quality import gaze_judge

warnings.filterwarnings("ignore", category=UserWarning)

SKIN = (205, 165, 140)


def _face(size: float = 300, at: tuple[float, float] = (50, 40)) -> np.ndarray:
    return TEMPLATE * size + np.array(at)


def _eyes(lms: np.ndarray, u: float | None, shape: tuple[int, int] = (420, 420),
          iris: tuple[int, int, int] = (70, 50, 35)) -> np.ndarray:
    """Skin with both eyes white and an iris `u` of the way along each (None: none)."""
    import cv2

    img = np.zeros((*shape, 3), np.uint8)
    img[:] = SKIN
    for eye in EYES:
        p = lms[eye]
        inside = np.zeros(shape, np.uint8)
        cv2.fillPoly(inside, [np.round(p).astype(np.int32)], 1)
        img[inside > 0] = (235, 232, 228)
        if u is not None:
            width = float(np.linalg.norm(p[3] - p[0]))
            centre = p[0] + u * (p[3] - p[0]) + [0, 0.05 * width]
            disc = np.zeros(shape, np.uint8)
            cv2.circle(disc, tuple(np.round(centre).astype(int)), int(0.19 * width), 1, -1)
            img[(disc > 0) & (inside > 0)] = iris
    return cv2.GaussianBlur(img, (0, 0), 0.8)


@pytest.mark.parametrize("u", [0.3, 0.5, 0.68])
def test_the_iris_is_found_where_it_is(u: float) -> None:
    lms = _face()
    img = _eyes(lms, u)
    for eye in EYES:
        found = iris_position(img, lms, eye)
        assert found is not None and abs(found - u) < 0.04, (u, found)
    assert abs(gaze(img, lms) - (u - 0.5)) < 0.04


def test_no_iris_and_closed_eyes_tell_no_gaze() -> None:
    lms = _face()
    assert gaze(_eyes(lms, None), lms) is None
    closed = lms.copy()
    for eye in EYES:  # lids together
        mid = (closed[eye][[1, 2]] + closed[eye][[5, 4]]) / 2
        closed[eye.start + 1:eye.start + 3] = mid + [0, -1]
        closed[eye.start + 4:eye.start + 6] = mid[::-1] + [0, 1]
    assert gaze(_eyes(lms, 0.5), closed) is None


def test_looking_moves_the_iris_and_nothing_outside_the_eye() -> None:
    import cv2

    lms = _face()
    img = _eyes(lms, 0.5)
    out = img.copy()
    for eye in EYES:
        look(out, lms, eye, 0.5, 0.3)
    for eye in EYES:
        assert abs(iris_position(out, lms, eye) - 0.3) < 0.05
    inside = np.zeros(img.shape[:2], np.uint8)
    for eye in EYES:
        cv2.fillPoly(inside, [np.round(lms[eye]).astype(np.int32)], 1)
    assert np.array_equal(out[inside == 0], img[inside == 0])
    # The iris moves whole: not smeared wider (nearer the corner the lids hide a little
    # more of it, as they do).
    dark = lambda rgb: int((rgb[inside > 0].mean(1) < 120).sum())  # noqa: E731
    assert 0.75 * dark(img) <= dark(out) <= 1.05 * dark(img), (dark(img), dark(out))


def test_the_swap_looks_where_the_target_looks() -> None:
    """A photo looking straight ahead, swapped onto a target glancing to the image's left:
    the output's irises sit left of its eyes' middles, as the target's do."""
    from retake.video.swap_landmark import LandmarkSwapper

    src_lms, tgt_lms = _face(280, (60, 50)), _face()
    photo = _eyes(src_lms, 0.5)
    target = _eyes(tgt_lms, 0.3)
    swapper = LandmarkSwapper(photo, src_lms, shape=0.45)
    patch = swapper.render(target, tgt_lms)
    canvas = target.copy()
    hh, ww = patch.rgb.shape[:2]
    box = canvas[patch.y0:patch.y0 + hh, patch.x0:patch.x0 + ww]
    box[:] = np.where(patch.mask[..., None] > 0.5, np.clip(patch.rgb, 0, 255), box)
    seen = gaze_judge(canvas, patch.landmarks)
    assert gaze_judge(target, tgt_lms) < -0.1 and seen is not None and seen < -0.1, seen
    straight = LandmarkSwapper(photo, src_lms, shape=0.45, target_eyes=False)
    still = straight.render(target, tgt_lms)
    box[:] = np.where(still.mask[..., None] > 0.5, np.clip(still.rgb, 0, 255), box)
    assert abs(gaze_judge(canvas, still.landmarks)) < 0.05  # without: the photo's gaze


@pytest.fixture(scope="module")
def glance():
    """The shared expressive clip around a sideways glance (frame 300), with the photo."""
    from retake.video.faces import FaceModels
    from retake.video.media import read_frames, read_image

    clip = media("video", "liveportrait_d10.mp4")
    photo = media("faces", "obama.jpg")
    frames = [f.rgb for f in read_frames(clip) if 296 <= f.index <= 300]
    return FaceModels(), frames, read_image(photo)


def test_a_photo_on_the_clips_glance_glances_too(glance) -> None:
    from retake.video.blend import merge
    from retake.video.swap_landmark import LandmarkSwapper, source_face

    models, frames, photo = glance
    swapper = LandmarkSwapper(photo, source_face(photo, models))
    for rgb in frames:
        lms = models.landmarks(rgb, models.detect(rgb)[0])
        out = merge(rgb, swapper.render(rgb, lms), lms)
    again = models.landmarks(out, models.detect(out)[0])
    seen, target = gaze_judge(out, again), gaze_judge(rgb, lms)
    assert target is not None and target < -0.1
    assert seen is not None and seen < 0.5 * target, (target, seen)
