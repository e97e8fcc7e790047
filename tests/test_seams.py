"""No seams: the blend boundary stays inside the target's face and leaves no edge there.

The seam measure (`swap_quality.seam_ratio`) is the squared lightness derivative across
the blend's 0.5 level in the output over the target frame's own along the same pixels.
Generated cases (the multi-band blend itself; scikit-image's astronaut with a darkened,
mirrored copy of herself swapped in) run everywhere; a turned head from a shared clip,
when present, checks the far cheek (no face over hair or background beyond it).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import media

from retake.video.blend import PREVIOUS, MergeOptions, merge_parts, multiband, turn
from retake.video.geometry import outline
from retake.video.swap_quality import seam_ratio

warnings.filterwarnings("ignore", category=UserWarning)


@pytest.fixture(scope="module")
def models():
    from retake.video.faces import FaceModels

    return FaceModels()


def test_multiband_carries_colour_wide_and_detail_narrow() -> None:
    rng = np.random.default_rng(0)
    h, w = 64, 256
    detail = rng.normal(0, 20, (h, w, 1)).astype(np.float32)
    fg = np.full((h, w, 3), 100, np.float32) + detail
    bg = np.full((h, w, 3), 160, np.float32)
    alpha = np.zeros((h, w), np.float32)
    alpha[:, :128] = 1
    out = multiband(fg, bg, alpha, levels=5)
    plain = fg * alpha[..., None] + bg * (1 - alpha[..., None])
    # Far from the edge: each picture itself.
    assert np.abs(out[:, :40] - fg[:, :40]).max() < 3
    assert np.abs(out[:, -40:] - bg[:, -40:]).max() < 3
    # The colour step is spread out: the mean level changes gradually across the edge.
    level = out.mean((0, 2))
    assert np.abs(np.diff(level[108:148])).max() < 0.3 * np.abs(np.diff(plain.mean((0, 2)))).max()
    # Fine detail stops within a few pixels of the edge.
    assert out[:, 136:].std(0).mean() < 0.1 * fg.std()


def _astronaut_pair(models):
    """scikit-image's astronaut, darkened (a darker-skinned target), and her mirror image
    at full brightness as the source photo."""
    import skimage.data

    from retake.video.swap_landmark import LandmarkSwapper, source_face

    photo = skimage.data.astronaut()
    target = np.clip(photo * np.array([0.55, 0.45, 0.4]), 0, 255).astype(np.uint8)
    source = np.ascontiguousarray(photo[:, ::-1])
    lms = source_face(target, models)
    return target, lms, LandmarkSwapper(source, source_face(source, models))


def test_no_seam_on_a_generated_darker_target(models) -> None:
    target, lms, sw = _astronaut_pair(models)
    patch = sw.render(target, lms)
    new = merge_parts(target, patch, lms, MergeOptions())
    old = merge_parts(target, patch, lms, PREVIOUS)
    ratio_new = seam_ratio(new.frame, target, new.alpha, new.x0, new.y0)
    ratio_old = seam_ratio(old.frame, target, old.alpha, old.x0, old.y0)
    assert ratio_new <= 1.3  # (0.83; 1.52 before)
    assert ratio_new < ratio_old
    # Outside the face's box and the pyramid's margin, the frame is untouched.
    h, w = new.alpha.shape
    far = np.ones(target.shape[:2], bool)
    far[max(new.y0 - 64, 0):new.y0 + h + 64, max(new.x0 - 64, 0):new.x0 + w + 64] = False
    assert np.array_equal(new.frame[far], target[far])


def _outside(shape, lms, merged) -> np.ndarray:
    """The alpha (whole frame) where the target's own outline is not."""
    import cv2

    inside = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(inside, [np.round(outline(lms, 0.3)).astype(np.int32)], 1)
    alpha = np.zeros(shape[:2], np.float32)
    h, w = merged.alpha.shape
    alpha[merged.y0:merged.y0 + h, merged.x0:merged.x0 + w] = merged.alpha
    return alpha[inside == 0]


def test_turned_head_has_no_seam_and_no_face_beyond_its_cheek(models) -> None:
    """Both ways turned (yaw about 30°): the new face stays inside the target's outline
    (before, up to 0.6 alpha lay over the hair beside the far cheek: the grey crescent),
    and the boundary shows no more edge than the target had there."""
    from retake.video.media import read_frames, read_image
    from retake.video.swap_landmark import LandmarkSwapper, source_face

    src = read_image(media("faces", "obama.jpg"))
    sw = LandmarkSwapper(src, source_face(src, models))
    clip = media("video", "WDA_KatieHill_000.mp4")
    for rgb in (f.rgb for f in read_frames(clip) if f.index in (52, 176)):
        lms = models.landmarks(rgb, models.detect(rgb)[0])
        assert abs(turn(lms)) > 0.35
        patch = sw.render(rgb, lms)
        new = merge_parts(rgb, patch, lms, MergeOptions())
        old = merge_parts(rgb, patch, lms, PREVIOUS)
        assert seam_ratio(new.frame, rgb, new.alpha, new.x0, new.y0) <= 1.3
        out_new, out_old = _outside(rgb.shape, lms, new), _outside(rgb.shape, lms, old)
        assert out_new.max() < 0.5 <= out_old.max()
        assert out_new.sum() < 0.1 * out_old.sum()


def test_the_photos_fringe_is_not_pasted_on_the_targets_forehead(models) -> None:
    """scikit-image's astronaut wears a fringe down to her brows: the forehead the swap
    lays in ends at it (the target's own forehead shows above). Painted over with her skin,
    the same forehead is kept up to the mask's top."""
    import skimage.data

    from retake.video.blend import _below_hairline, _scale
    from retake.video.geometry import forehead, inter_ocular

    rgb = skimage.data.astronaut().astype(np.float32)
    lms = models.landmarks(rgb.astype(np.uint8), models.detect(rgb.astype(np.uint8),
                                                                 full=True)[0])
    f = _scale(lms)
    small = (rgb.shape[0] // f, rgb.shape[1] // f)
    iod = inter_ocular(lms)

    def weight_at(w: np.ndarray, pt: np.ndarray) -> float:
        return float(w[int(pt[1] / f), int(pt[0] / f)])

    brows_mid = lms[17:27].mean(0)
    up = (brows_mid - lms[8]) / np.linalg.norm(brows_mid - lms[8])
    in_fringe = brows_mid + up * 0.6 * iod
    w = _below_hairline(rgb, lms, f, 0.3, small)
    assert weight_at(w, in_fringe) == 0.0
    assert weight_at(w, lms[27]) == 1.0 and weight_at(w, lms[19]) == 1.0
    # The same photo with its forehead skin-coloured: nothing is cut.
    import cv2

    bare = rgb.copy()
    top = np.vstack([lms[17:27][::-1], forehead(lms, 0.35)])
    skin = np.median(rgb[int(lms[29, 1]) - 3:int(lms[29, 1]) + 3,
                         int(lms[2, 0] + 0.3 * iod):int(lms[2, 0] + 0.5 * iod)], axis=(0, 1))
    cv2.fillPoly(bare, [np.round(top).astype(np.int32)], skin.tolist())
    w = _below_hairline(bare, lms, f, 0.3, small)
    assert w.min() == 1.0


def test_a_sharp_photo_is_softened_to_a_soft_frame_never_sharpened(models) -> None:
    """The photo's fine skin detail is brought down to a soft frame's (a compressed or
    upscaled clip), so it does not read as pasted on; onto a sharper frame it is left be."""
    import cv2
    import skimage.data

    from retake.video.blend import _fine_detail, match_sharpness, skin_mask

    rgb = skimage.data.astronaut().astype(np.float32)
    lms = models.landmarks(rgb.astype(np.uint8), models.detect(rgb.astype(np.uint8),
                                                                 full=True)[0])
    soft = cv2.GaussianBlur(rgb, (0, 0), 1.6)
    skin = skin_mask(rgb.shape, lms)
    out = match_sharpness(rgb, soft, lms, lms)
    assert _fine_detail(rgb, skin) > 2 * _fine_detail(soft, skin)
    assert _fine_detail(out, skin) <= 1.2 * _fine_detail(soft, skin)
    assert np.abs(out[skin].mean(0) - rgb[skin].mean(0)).max() < 2  # same skin colour
    assert match_sharpness(soft, rgb, lms, lms) is soft
