"""Colour that holds on every skin tone: skin matched from skin alone, features keep their hue.

A generated pair of faces (drawn on the template: flat skin with a little texture, dark
brows, irises, lips) tests the colour transfer in both directions, light skin onto dark
and dark onto light, against the statistics-over-the-whole-face transfer it replaces,
which tints dark brows green when the target skin is less red. Real faces from
../shared/media, when present: a light-skinned photo onto the one dark-skinned face there
is (the obama.jpg portrait, swapped as a still), and the dark-skinned photo onto a
light-skinned clip (frontal and turned frames).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import media

from retake.video.blend import (
    PREVIOUS,
    MergeOptions,
    lab_transfer,
    merge,
    merge_parts,
    skin_transfer,
)
from retake.video.geometry import TEMPLATE, outline, region_mask
from retake.video.swap_quality import feature_chroma, skin_delta_e

warnings.filterwarnings("ignore", category=UserWarning)


def _face(skin, brow, iris, lips, seed: int, light: float = 0.0):
    """A drawn face (float RGB) and its landmarks: skin with a little texture and a
    left-to-right light gradient, brows 8 px thick, white eyes with an iris, lips."""
    import cv2

    rng = np.random.default_rng(seed)
    lms = TEMPLATE * 200 + [60, 80]
    img = np.full((340, 320, 3), 90, np.float32)
    inside = np.zeros((340, 320), np.uint8)
    cv2.fillPoly(inside, [np.round(outline(lms, 0.45)).astype(np.int32)], 1)
    shade = (1 + light * (np.arange(320) - 160) / 160)[None, :, None]
    texture = cv2.GaussianBlur(rng.normal(0, 1, (340, 320)).astype(np.float32), (0, 0), 1.2)
    img = np.where(inside[..., None] > 0,
                   np.array(skin, np.float32) * shade + texture[..., None] * 6, img)
    for b in (lms[17:22], lms[22:27]):
        cv2.polylines(img, [np.round(b + [0, 4]).astype(np.int32)], False,
                      tuple(float(v) for v in brow), 8)
    for e in (slice(36, 42), slice(42, 48)):
        cv2.fillPoly(img, [np.round(lms[e]).astype(np.int32)], (235, 232, 225))
        cv2.circle(img, tuple(np.round(lms[e].mean(0)).astype(int)), 6,
                   tuple(float(v) for v in iris), -1)
    cv2.fillPoly(img, [np.round(lms[48:60]).astype(np.int32)], tuple(float(v) for v in lips))
    return np.clip(img, 0, 255), lms


def _u8(rgb: np.ndarray) -> np.ndarray:
    return np.clip(np.asarray(rgb) + 0.5, 0, 255).astype(np.uint8)


def _hue(ab: np.ndarray) -> float:
    return float(np.degrees(np.arctan2(ab[1], ab[0])))


LIGHT = ((232, 190, 178), (62, 44, 36), (90, 60, 40), (200, 110, 110))  # pink, dark brows
DARK = ((150, 105, 62), (30, 22, 18), (50, 35, 25), (140, 70, 60))  # brown, yellower
DEEP = ((120, 78, 52), (40, 30, 26), (60, 40, 30), (130, 70, 65))
PALE = ((240, 212, 200), (120, 90, 70), (90, 70, 50), (210, 120, 120))


@pytest.mark.parametrize("source, target", [(LIGHT, DARK), (DEEP, PALE)],
                         ids=["light onto dark", "dark onto light"])
def test_generated_skin_matches_and_brows_keep_their_hue(source, target) -> None:
    src, lms = _face(*source, seed=1)
    ref, _ = _face(*target, seed=2, light=0.3)
    out = _u8(skin_transfer(src, ref, lms, lms))
    brow_src, _ = feature_chroma(_u8(src), lms, "brows")
    brow_out, _ = feature_chroma(out, lms, "brows")
    eye_src, _ = feature_chroma(_u8(src), lms, "eyes")
    eye_out, _ = feature_chroma(out, lms, "eyes")
    assert skin_delta_e(out, _u8(ref), lms) < 2.0
    # Brows and irises keep their warm hue: not turned green (a* < 0) or blue (b* < 0).
    assert min(brow_out) > 0 and min(eye_out) > 0
    assert np.linalg.norm(brow_out - brow_src) < 2.5
    assert abs(_hue(brow_out) - _hue(brow_src)) < 15
    assert abs(_hue(eye_out) - _hue(eye_src)) < 15
    # The transfer it replaces (Reinhard statistics over the whole inner face) moves the
    # brows' hue much further.
    old = _u8(lab_transfer(src, ref, region_mask(src.shape, lms, "inner", feather=0)))
    brow_old, _ = feature_chroma(old, lms, "brows")
    assert np.linalg.norm(brow_old - brow_src) > 2 * np.linalg.norm(brow_out - brow_src)


def test_a_hazel_iris_keeps_its_hue_on_other_skin() -> None:
    """An iris is no skin: inside the eye opening none of the skin's chroma mapping is
    applied. A dark-skinned photo's grey-green iris onto pale skin turned 6.3 degrees with
    15% of the skin's mapping there (2.0 now); on the shared media a light-skinned photo's
    irises turned 11 degrees on a warmer target (issue 14: within the source's spread)."""
    dark = (DARK[0], DARK[1], (100, 112, 100), DARK[3])
    src, lms = _face(*dark, seed=1)
    ref, _ = _face(*PALE, seed=2, light=0.3)
    out = _u8(skin_transfer(src, ref, lms, lms))
    eye_src, _ = feature_chroma(_u8(src), lms, "eyes")
    eye_out, _ = feature_chroma(out, lms, "eyes")
    assert abs(_hue(eye_out) - _hue(eye_src)) < 3.5
    assert skin_delta_e(out, _u8(ref), lms) <= 6  # the skin still matches


def _lip_to_skin(rgb: np.ndarray, lms: np.ndarray) -> float:
    """(L* + 16) of the lips over that of the skin patches: how much darker the lips are."""
    import cv2

    from retake.video.swap_quality import skin_patches

    lab = cv2.cvtColor(_u8(rgb), cv2.COLOR_RGB2LAB).astype(float)
    light = lab[..., 0] * 100 / 255
    lips = np.zeros(rgb.shape[:2], np.uint8)
    cv2.fillPoly(lips, [np.round(lms[48:60]).astype(np.int32)], 1)
    lips = cv2.erode(lips, np.ones((3, 3), np.uint8)) > 0
    yy, xx = np.mgrid[:rgb.shape[0], :rgb.shape[1]]
    skin = np.zeros(rgb.shape[:2], bool)
    for (cx, cy), r in skin_patches(lms):
        skin |= (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
    return float((light[lips].mean() + 16) / (light[skin].mean() + 16))


def test_lips_stay_darker_than_the_skin_in_a_dimmer_face() -> None:
    """Lips take the skin's whole lightness change. Kept half (as brows and irises are), a
    light-skinned photo's lips laid into a darker face came out as light as its skin
    (lip-to-skin 0.75 -> about 1.0: a pale patch where the target's lips are darker)."""
    src, lms = _face(*LIGHT, seed=1)
    ref, _ = _face(*DEEP, seed=2)
    out = skin_transfer(src, ref, lms, lms)
    assert abs(_lip_to_skin(out, lms) - _lip_to_skin(src, lms)) < 0.05


def test_a_highlight_stays_skin_coloured_when_the_light_goes_down() -> None:
    """A specular highlight on the photo's cheek (near-white) darkened onto a darker skin
    takes that skin's hue, not a grey-blue smear (offsets added to a pale pixel used to
    flip its hue)."""
    import cv2

    src, lms = _face(*LIGHT, seed=1)
    spot = np.zeros(src.shape[:2], np.float32)
    centre = tuple(np.round((lms[41] + lms[48]) / 2).astype(int))
    cv2.circle(spot, centre, 9, 1.0, -1)
    spot = cv2.GaussianBlur(spot, (0, 0), 2)[..., None]
    src = src * (1 - spot) + np.array([250, 248, 246], np.float32) * spot
    ref, _ = _face(*DEEP, seed=2)
    lab = cv2.cvtColor(_u8(skin_transfer(src, ref, lms, lms)), cv2.COLOR_RGB2LAB)
    a = lab[..., 1].astype(float) - 128
    b = lab[..., 2].astype(float) - 128
    x, y = centre
    ab_spot = np.array([a[y - 3:y + 4, x - 3:x + 4].mean(), b[y - 3:y + 4, x - 3:x + 4].mean()])
    ring = (np.hypot(*np.mgrid[-20:21, -20:21]) > 14)
    ab_skin = np.array([a[y - 20:y + 21, x - 20:x + 21][ring].mean(),
                        b[y - 20:y + 21, x - 20:x + 21][ring].mean()])
    assert min(ab_spot) > 0  # neither green nor blue
    assert abs(_hue(ab_spot) - _hue(ab_skin)) < 20
    assert np.hypot(*ab_spot) > 0.5 * np.hypot(*ab_skin)  # not grey


def test_generated_dark_brows_on_light_skin_were_green_before() -> None:
    """The issue's case, reproduced: a shift computed over the whole face (redder source
    skin onto less red target skin) pushes dark brows to a* < 0; skin-only does not."""
    src, lms = _face(*DEEP, seed=1)
    ref, _ = _face(*PALE, seed=2)
    old = _u8(lab_transfer(src, ref, region_mask(src.shape, lms, "inner", feather=0)))
    new = _u8(skin_transfer(src, ref, lms, lms))
    assert feature_chroma(old, lms, "brows")[0][0] < 0
    assert feature_chroma(new, lms, "brows")[0][0] > 0


def test_features_are_what_is_not_skin_near_them() -> None:
    """Lid and brow-ridge skin take the skin's colour; only brow hair keeps its own."""
    src, lms = _face(*LIGHT, seed=1)
    ref, _ = _face(*DARK, seed=2)
    out = _u8(skin_transfer(src, ref, lms, lms))
    import cv2

    lab = cv2.cvtColor(out, cv2.COLOR_RGB2LAB).astype(float)
    ref_lab = cv2.cvtColor(_u8(ref), cv2.COLOR_RGB2LAB).astype(float)
    # Skin between the brows (inside the features' mask, not a feature) is the target's.
    c = np.round((lms[21] + lms[22]) / 2 + [0, 6]).astype(int)
    assert np.abs(lab[c[1], c[0]] - ref_lab[c[1], c[0]]).max() < 12


def _still_pair(source: str, target: str):
    from retake.video.faces import FaceModels
    from retake.video.media import read_image
    from retake.video.swap_landmark import LandmarkSwapper, source_face

    models = FaceModels()
    src = read_image(media("faces", source))
    tgt = read_image(media("faces", target))
    src_lms, tgt_lms = source_face(src, models), source_face(tgt, models)
    return src, src_lms, tgt, tgt_lms, LandmarkSwapper(src, src_lms)


def test_brows_keep_their_hue_on_a_dark_skinned_target() -> None:
    """A light-skinned photo (biden2) onto the dark-skinned portrait (obama), as a still."""
    src, src_lms, tgt, tgt_lms, sw = _still_pair("biden2.jpg", "obama.jpg")
    patch = sw.render(tgt, tgt_lms)
    out = merge(tgt, patch, tgt_lms, MergeOptions())
    before = merge(tgt, patch, tgt_lms, PREVIOUS)
    brow_src, spread = feature_chroma(src, src_lms, "brows")
    brow_out, _ = feature_chroma(out, patch.landmarks, "brows")
    brow_before, _ = feature_chroma(before, patch.landmarks, "brows")
    assert min(brow_out) > 0  # warm, neither green nor blue
    assert np.linalg.norm(brow_out - brow_src) <= spread  # within the source's own range
    assert np.linalg.norm(brow_out - brow_src) < np.linalg.norm(brow_before - brow_src)
    assert skin_delta_e(out, tgt, tgt_lms) <= 6  # (3.4 here; 4.6 before)


def test_brows_keep_their_hue_from_a_dark_skinned_photo_on_light_skin() -> None:
    """The reverse: the dark-skinned photo onto a light-skinned clip, frontal and turned
    frames (before, its dark brows came out blue-green: a* and b* below 0)."""
    from retake.video.faces import FaceModels
    from retake.video.media import read_frames, read_image
    from retake.video.swap_landmark import LandmarkSwapper, source_face

    models = FaceModels()
    src = read_image(media("faces", "obama.jpg"))
    src_lms = source_face(src, models)
    sw = LandmarkSwapper(src, src_lms)
    brow_src, spread = feature_chroma(src, src_lms, "brows")
    clip = media("video", "WDA_KatieHill_000.mp4")
    frames = [f.rgb for f in read_frames(clip) if f.index in (52, 100, 176)]
    d_e, shift = [], []
    for rgb in frames:
        lms = models.landmarks(rgb, models.detect(rgb)[0])
        patch = sw.render(rgb, lms)
        out = merge(rgb, patch, lms, MergeOptions())
        brow_out, _ = feature_chroma(out, patch.landmarks, "brows")
        assert min(brow_out) > 0
        shift.append(np.linalg.norm(brow_out - brow_src))
        before, _ = feature_chroma(merge(rgb, patch, lms, PREVIOUS), patch.landmarks, "brows")
        assert min(before) < 0  # what the issue saw
        d_e.append(skin_delta_e(out, rgb, lms))
    # (On the turned frame the far brow's tail, beyond the target's temple, is the
    # target's own: 5.3 there, under 1 on the others.)
    assert np.mean(shift) <= 0.75 * spread
    # Mean colour of cheek and forehead patches: 5.2-7.6 per frame (12.8-14.3 before).
    assert np.mean(d_e) <= 7 and max(d_e) <= 8.5


def test_a_brighter_photo_forehead_takes_the_targets_darker_one() -> None:
    """A photo whose forehead catches more light than its cheeks, onto a target whose
    forehead is darker than its cheeks: measured on the cheeks alone, the laid-in forehead
    kept the photo's light (biden2 on retalking_1: 21 L* lighter than the target's, skin
    ΔE 10.5); measured up the forehead too, it takes the target's."""
    import cv2

    from retake.video import blend
    from retake.video.geometry import forehead

    src, lms = _face(*LIGHT, seed=1)
    ref, _ = _face(*LIGHT, seed=2)
    top = np.zeros(src.shape[:2], np.uint8)
    cv2.fillPoly(top, [np.round(np.vstack([lms[17:27] - [0, 10], forehead(lms, 0.45)[::-1]]))
                       .astype(np.int32)], 1)
    top = cv2.GaussianBlur(top.astype(np.float32), (0, 0), 3)[..., None]
    src = np.clip(src * (1 + 0.12 * top), 0, 255)  # the photo's lit forehead
    ref = ref * (1 - 0.12 * top)  # the target's shadowed one
    brows = lms[17:27].mean(0)
    spot = np.round(brows + (brows - lms[8]) / np.linalg.norm(brows - lms[8])
                    * 0.12 * np.linalg.norm(lms[8] - brows)).astype(int)

    def light(img: np.ndarray) -> float:
        lab = cv2.cvtColor(_u8(img), cv2.COLOR_RGB2LAB).astype(float)
        return lab[spot[1] - 3:spot[1] + 4, spot[0] - 3:spot[0] + 4, 0].mean()

    new = skin_transfer(src, ref, lms, lms)
    old_height = blend.SHADING_FOREHEAD
    try:
        blend.SHADING_FOREHEAD = 0.0
        old = skin_transfer(src, ref, lms, lms)
    finally:
        blend.SHADING_FOREHEAD = old_height
    assert abs(light(new) - light(ref)) < 0.5 * abs(light(old) - light(ref))
    assert abs(light(new) - light(ref)) < 12  # (8-bit L: 0..255)
    # Below the brows nothing changes: the forehead's light is carried above them only.
    cheek = np.round(0.5 * lms[31] + 0.25 * lms[2] + 0.25 * lms[41]).astype(int)
    assert np.abs(new[cheek[1], cheek[0]] - old[cheek[1], cheek[0]]).max() < 2


def test_the_boundary_takes_the_frames_light_not_the_photos_step() -> None:
    """A photo with its own shadow along the jaw where the target's jaw is evenly lit: the
    multi-band blend alone leaves a step along the boundary (3.1x the frame's own edge
    energy there); near the edge the face takes the frame's coarser light
    (`match_boundary`), so the edge carries about what the frame's does (1.1x), while the
    face a little inside keeps its own light."""
    import cv2

    from retake.video.swap_quality import seam_ratio
    from retake.video.swappers import Patch

    src, lms = _face(*LIGHT, seed=1)
    ref, _ = _face(*LIGHT, seed=2)
    frame = _u8(ref)
    inside = np.zeros(src.shape[:2], np.uint8)
    cv2.fillPoly(inside, [np.round(outline(lms, 0.45)).astype(np.int32)], 1)
    depth = cv2.distanceTransform(inside, cv2.DIST_L2, 3)
    shadow = ((depth > 2) & (depth < 14)).astype(np.float32)
    shadow[:int(lms[33, 1])] = 0  # along the jaw, below the nose
    shadow = cv2.GaussianBlur(shadow, (0, 0), 2)[..., None]
    lit = src * (1 - 0.3 * shadow)  # the photo's own shadow along its jaw
    patch = Patch(0, 0, lit, np.ones(src.shape[:2], np.float32), lms)
    options = MergeOptions()
    new = merge_parts(frame, patch, lms, options)
    from retake.video import blend

    keep = blend.match_boundary
    try:
        blend.match_boundary = lambda rgb, *args, **kw: rgb
        old = merge_parts(frame, patch, lms, options)
    finally:
        blend.match_boundary = keep
    before = seam_ratio(old.frame, frame, old.alpha, old.x0, old.y0)
    after = seam_ratio(new.frame, frame, new.alpha, new.x0, new.y0)
    assert after < 1.3 < before, (before, after)
    # The face's middle is untouched (only a band of 0.15 inter-ocular at the edge moves).
    c = np.round(lms[30]).astype(int)
    assert np.abs(new.frame[c[1], c[0]].astype(int) - old.frame[c[1], c[0]]).max() <= 1


def test_a_light_photo_on_a_darker_foreheaded_clip_matches_and_has_no_seam() -> None:
    """biden2 (lit forehead and chin) onto retalking_1 (its forehead and jaw darker than its
    cheeks): skin ΔE2000 was 10.5 and seam energy 1.9x the target's; now both hold."""
    from retake.video.faces import FaceModels
    from retake.video.media import read_frames, read_image
    from retake.video.swap_landmark import LandmarkSwapper, source_face
    from retake.video.swap_quality import seam_ratio

    models = FaceModels()
    src = read_image(media("faces", "biden2.jpg"))
    sw = LandmarkSwapper(src, source_face(src, models))
    clip = media("video", "retalking_1.mp4")
    d_e, seams = [], []
    for f in read_frames(clip):
        if f.index not in (30, 60, 90):
            continue
        lms = models.landmarks(f.rgb, models.detect(f.rgb)[0])
        merged = merge_parts(f.rgb, sw.render(f.rgb, lms), lms, MergeOptions())
        d_e.append(skin_delta_e(merged.frame, f.rgb, lms))
        seams.append(seam_ratio(merged.frame, f.rgb, merged.alpha, merged.x0, merged.y0))
    assert np.mean(d_e) <= 6, d_e
    assert np.mean(seams) <= 1.3, seams


def test_feature_hue_holds_under_dimming_and_turns_with_a_cast() -> None:
    """The bench's brow measure: a face laid into dimmer light keeps its brows' hue (their
    chroma falls with their light), a green cast turns it."""
    import cv2

    from retake.video.swap_quality import feature_hue, hue_difference

    src, lms = _face(*LIGHT, seed=3)
    lab = cv2.cvtColor(_u8(src).astype(np.float32) / 255, cv2.COLOR_RGB2LAB)
    dim = lab.copy()
    dim[..., 0] = (lab[..., 0] + 16) * 0.7 - 16
    dim[..., 1:] *= 0.7
    dim = _u8(cv2.cvtColor(dim, cv2.COLOR_LAB2RGB) * 255)
    green = lab.copy()
    green[..., 1] -= 12
    green = _u8(cv2.cvtColor(green, cv2.COLOR_LAB2RGB) * 255)
    hue, spread = feature_hue(_u8(src), lms, "brows")
    assert 0 <= spread < 30  # (drawn brows: one colour)
    assert abs(hue_difference(feature_hue(dim, lms, "brows")[0], hue)) < 3
    assert feature_chroma(dim, lms, "brows")[0][1] < 0.8 * feature_chroma(_u8(src), lms,
                                                                             "brows")[0][1]
    assert abs(hue_difference(feature_hue(green, lms, "brows")[0], hue)) > 30
    assert hue_difference(350, 10) == -20 and hue_difference(10, 350) == 20
    # Only where the new face shows: a green cast on the right half of the picture (a
    # brow tail laid into the target's hair) is not counted where `shown` leaves it out.
    cut = int(lms[27, 0])
    hair = lab.copy()
    hair[..., 0] -= 10  # darker, so the darkest quarter is the green side's
    hair[..., 1] -= 12
    half = _u8(src).copy()
    half[:, cut:] = _u8(cv2.cvtColor(hair, cv2.COLOR_LAB2RGB) * 255)[:, cut:]
    left = np.zeros(half.shape[:2], bool)
    left[:, :cut] = True
    assert abs(hue_difference(feature_hue(half, lms, "brows")[0], hue)) > 10
    assert abs(hue_difference(feature_hue(half, lms, "brows", shown=left)[0], hue)) < 3


def test_reuse_measures_slow_decisions_every_few_merges(monkeypatch) -> None:
    """A live face's merges measure the softening (and hairline, edge light) on every
    `every`-th merge and reuse it between; the measuring merge is the plain merge."""
    from retake.video import blend
    from retake.video.blend import Reuse, merge_parts
    from retake.video.swappers import Patch

    src, lms = _face(*LIGHT, seed=4)
    ref, _ = _face(*DARK, seed=5, light=0.2)
    frame = _u8(ref)
    patch = Patch(0, 0, src.astype(np.float32), np.ones(src.shape[:2], np.float32), lms)
    calls = []
    real = blend.sharpness_sigma
    monkeypatch.setattr(blend, "sharpness_sigma",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    reuse = Reuse(every=3)
    outs = [merge_parts(frame, patch, lms, reuse=reuse).frame for _ in range(7)]
    assert len(calls) == 3  # merges 1, 4 and 7
    assert np.array_equal(outs[0], merge_parts(frame, patch, lms).frame)
    assert all(np.array_equal(o, outs[0]) for o in outs)  # same input, same decisions


def test_fair_brows_keep_their_hue() -> None:
    """The astronaut's fair brows (light brown on pale skin, 2-8 L* darker than the skin
    about them) read as skin and took the target skin's hue: on `retalking_2` they came
    out 17° off hers (her own spread: 10°). Brow hair darker than the skin about it, and
    as finely textured as hair, keeps its own hue now."""
    import retake.video.blend as blend
    from retake.video.faces import FaceModels
    from retake.video.media import read_frames, read_image
    from retake.video.swap_landmark import LandmarkSwapper, source_face
    from retake.video.swap_quality import feature_hue, hue_difference

    models = FaceModels()
    src = read_image(media("faces", "astronaut.png"))
    src_lms = source_face(src, models)
    hue_src, spread = feature_hue(src, src_lms, "brows")
    frames = [f.rgb for f in read_frames(media("video", "retalking_2.mp4"))
              if f.index in (0, 48, 96, 144)]
    shifts = {}
    for name, darker in (("now", blend.HAIR_DARKER), ("before", (1e3, 1e3 + 1))):
        sw, shift = LandmarkSwapper(src, src_lms), []
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(blend, "HAIR_DARKER", darker)
            for rgb in frames:
                lms = models.landmarks(rgb, models.detect(rgb)[0])
                patch = sw.render(rgb, lms)
                out = merge(rgb, patch, lms, MergeOptions())
                shift.append(hue_difference(feature_hue(out, patch.landmarks, "brows")[0],
                                            hue_src))
        shifts[name] = abs(float(np.mean(shift)))
    assert shifts["now"] <= 1.1 * spread < shifts["before"] - 5, (shifts, spread)


def test_a_frowns_creases_between_the_brows_stay_skin() -> None:
    """The creases between biden2's brows are darker than his skin, in the brows' band, and
    redder: kept with their own hue (as fair brow hair is) they came out as red streaks on
    a paler target. Being smooth, not hair-fine, they take the skin's mapping."""
    from skimage.color import rgb2lab

    import retake.video.blend as blend
    from retake.video.faces import FaceModels
    from retake.video.geometry import inter_ocular
    from retake.video.media import read_frames, read_image
    from retake.video.swap_landmark import LandmarkSwapper, source_face

    models = FaceModels()
    src = read_image(media("faces", "biden2.jpg"))
    src_lms = source_face(src, models)
    rgb = next(f.rgb for f in read_frames(media("video", "WDA_KatieHill_000.mp4"))
               if f.index == 40)
    lms = models.landmarks(rgb, models.detect(rgb)[0])
    redness = {}
    for name, darker, texture in (("now", blend.HAIR_DARKER, blend.HAIR_TEXTURE),
                                  ("no rule", (1e3, 1e3 + 1), blend.HAIR_TEXTURE),
                                  ("any texture", blend.HAIR_DARKER, (-2.0, -1.0))):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(blend, "HAIR_DARKER", darker)
            mp.setattr(blend, "HAIR_TEXTURE", texture)
            patch = LandmarkSwapper(src, src_lms).render(rgb, lms)
            out = merge(rgb, patch, lms, MergeOptions())
        p = patch.landmarks
        iod = inter_ocular(p)
        x0, x1 = int(p[21, 0] - 0.15 * iod), int(p[22, 0] + 0.15 * iod)
        y0, y1 = int(min(p[21, 1], p[22, 1]) - 0.1 * iod), int(p[27, 1])
        redness[name] = float(rgb2lab(out[y0:y1, x0:x1] / 255.0)[..., 1].mean())
    assert redness["now"] < redness["no rule"] + 0.5, redness
    assert redness["any texture"] > redness["no rule"] + 2.0, redness
