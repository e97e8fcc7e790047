"""Retiming the picture to an edited audio time line: plans and rendered files.

The source clips are generated: each frame shows its own index (two flat colour blocks)
and a moving bar, so every decoded output frame tells which source frame it came from.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from retake.video.geometry import TEMPLATE
from retake.video.media import VideoWriter, probe, read_frames
from retake.video.retime import (
    FrameRecipe,
    RetimeError,
    iter_retimed,
    morph,
    mouth_frames,
    plan_retime,
    render_retimed,
    source_frame_times,
)
from retake.video.track import FaceTrack
from retake.voice.timemap import Inserted, TimeMap

FPS = Fraction(25)
SIDE = 64
SECONDS = 4.0
MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"


def picture(i: int) -> np.ndarray:
    """Frame i: its index in the top blocks' red and green levels, a bar at 2i px."""
    img = np.full((SIDE, SIDE, 3), 70, np.uint8)
    img[:32, :, 0] = (i % 16) * 10 + 50  # unsaturated: survives YUV 4:2:0 twice
    img[:32, :, 1] = (i // 16) * 20 + 60
    img[:32, :, 2] = 128
    x = (2 * i) % (SIDE - 8)
    img[36:, x:x + 8] = 220
    return img


def index_of(rgb: np.ndarray) -> int:
    """The source index a decoded frame shows."""
    r = float(rgb[6:26, 6:58, 0].mean())
    g = float(rgb[6:26, 6:58, 1].mean())
    return round((g - 60) / 20) * 16 + round((r - 50) / 10)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(float) - b.astype(float)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255 ** 2 / mse)


def make_clip(path: Path, times: list[float] | None = None) -> Path:
    """A generated clip; `times` gives each frame's own timestamp (variable rate)."""
    n = len(times) if times else int(SECONDS * FPS)
    # VideoWriter rounds times to its nominal rate's grid: a fine one keeps them.
    with VideoWriter(path, FPS if times is None else 90000, SIDE, SIDE) as w:
        for i in range(n):
            w.write(picture(i), None if times is None else times[i])
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("retime") / "src.mp4")


@pytest.fixture(scope="module")
def decoded(clip: Path) -> list[np.ndarray]:
    return [f.rgb for f in read_frames(clip)]


def deletion() -> TimeMap:
    return TimeMap([(0.0, 0.0), (1.5, 1.5), (2.3, 1.5), (4.0, 3.2)], [], 4.0, 3.2)


def insertion() -> TimeMap:
    return TimeMap([(0.0, 0.0), (2.0, 2.0), (2.0, 3.0), (4.0, 5.0)],
                   [Inserted(2.0, 3.0, 2.0, "brand new words")], 4.0, 5.0)


def both() -> TimeMap:
    # An insertion at 1 s, a deletion of 2.5-3.0 s, and a replacement at 3.5 s.
    knots = [(0.0, 0.0), (1.0, 1.0), (1.0, 1.6), (2.5, 3.1), (3.0, 3.1), (3.5, 3.6),
             (3.5, 4.0), (3.7, 4.0), (4.0, 4.3)]
    return TimeMap(knots, [Inserted(1.0, 1.6, 1.0, "one"), Inserted(3.6, 4.0, 3.5, "two")],
                   4.0, 4.3)


def render_and_decode(clip: Path, recipes: list[FrameRecipe], out: Path) -> list[np.ndarray]:
    result = render_retimed(clip, recipes, out, FPS)
    assert result.stats.frames == len(recipes)
    assert result.mouth == mouth_frames(recipes)
    return [f.rgb for f in read_frames(out)]


def check_file(out: Path, frames: list[np.ndarray], tm: TimeMap) -> None:
    assert len(frames) == round(tm.edited_duration * FPS)
    info = probe(out)
    assert abs(info.duration - tm.edited_duration) <= 1 / FPS + 1e-6


def check_untouched(recipes, frames, decoded) -> None:
    untouched = [r for r in recipes if r.untouched]
    assert untouched
    for r in untouched:
        assert r.kind == "copy" and len(r.sources) == 1 and not r.mouth
        assert psnr(frames[r.index], decoded[r.sources[0]]) >= 40, r


def test_identity_is_all_untouched_copies(clip: Path, decoded, tmp_path: Path) -> None:
    tm = TimeMap.identity(SECONDS)
    times = source_frame_times(clip)
    assert times == pytest.approx([f.time for f in read_frames(clip)])
    recipes = plan_retime(tm, times, FPS)
    assert len(recipes) == 100
    assert all(r.kind == "copy" and r.untouched and not r.mouth for r in recipes)
    assert [r.sources[0] for r in recipes] == list(range(100))
    frames = render_and_decode(clip, recipes, tmp_path / "id.mp4")
    check_file(tmp_path / "id.mp4", frames, tm)
    check_untouched(recipes, frames, decoded)
    assert [index_of(f) for f in frames] == list(range(100))


def test_deletion_dissolves_monotonically(clip: Path, decoded, tmp_path: Path) -> None:
    tm = deletion()
    recipes = plan_retime(tm, source_frame_times(clip), FPS)
    cut_before, cut_after = round(1.5 * 25), round(2.3 * 25)  # frames 37 | 57
    fades = [r for r in recipes if r.kind == "dissolve"]
    assert 2 <= len(fades) <= 4
    assert all(abs(r.time - 1.5) <= 0.06 + 1e-9 and r.mouth for r in fades)
    wa = [r.weights[0] for r in fades]
    assert all(0 < w < 1 for w in wa) and wa == sorted(wa, reverse=True)
    assert all(abs(sum(r.weights) - 1) < 1e-9 for r in fades)
    a = [r.sources[0] for r in fades]
    b = [r.sources[1] for r in fades]
    assert a == sorted(a) and b == sorted(b) and max(a) < min(b)
    # Outside the transition: before-cut frames, then after-cut frames, never mixed.
    shown = [r.sources[0] if r.kind == "copy" else None for r in recipes]
    first_fade, last_fade = fades[0].index, fades[-1].index
    assert all(s is not None and s < cut_before for s in shown[:first_fade])
    assert all(s is not None and s >= cut_after for s in shown[last_fade + 1:])
    # Mouths are flagged around the cut only.
    assert {r.index for r in recipes if r.mouth} == {
        r.index for r in recipes if -0.1 - 1e-9 <= r.time - 1.5 < 0.1 - 1e-9}
    frames = render_and_decode(clip, recipes, tmp_path / "del.mp4")
    check_file(tmp_path / "del.mp4", frames, tm)
    check_untouched(recipes, frames, decoded)
    for r in fades:  # a dissolve really is the blend of its two sources
        want = sum(decoded[s].astype(float) * w for s, w in zip(r.sources, r.weights,
                                                                strict=True))
        assert psnr(frames[r.index], want) >= 35


def check_hold(recipes: list[FrameRecipe], start: float, end: float, at: float,
               then_cut: bool = False) -> None:
    """Hold frames come from just before `at`, move by at most one frame, and join smoothly
    (at the end too, unless a cut follows: then a dissolve joins them)."""
    at_frame = round(at * 25)
    inside = [r for r in recipes if start <= r.time < end]
    assert inside and all(r.mouth for r in inside)
    for r in inside:  # a dissolve at a replacement's cut also shows the far side
        assert r.kind in ("hold", "dissolve")
        assert at_frame - 26 <= r.sources[0] <= at_frame + 1, r
    lo = max(inside[0].index - 3, 0)
    hi = inside[-1].index if then_cut else min(inside[-1].index + 3, len(recipes) - 1)
    path = [recipes[k].sources[0] for k in range(lo, hi + 1) if recipes[k].kind != "dissolve"]
    steps = np.abs(np.diff(path))
    assert steps.max() <= 2, path
    held = [r.sources[0] for r in inside if r.kind == "hold"]
    assert len(set(held)) > 2, "a hold must not be a freeze"


def test_insertion_holds_with_continuous_motion(clip: Path, decoded, tmp_path: Path) -> None:
    tm = insertion()
    recipes = plan_retime(tm, source_frame_times(clip), FPS)
    assert len(recipes) == 125
    check_hold(recipes, 2.0, 3.0, 2.0)
    assert {r.kind for r in recipes} == {"copy", "hold"}
    frames = render_and_decode(clip, recipes, tmp_path / "ins.mp4")
    check_file(tmp_path / "ins.mp4", frames, tm)
    check_untouched(recipes, frames, decoded)
    for r in recipes:  # holds are source pixels too
        assert index_of(frames[r.index]) == r.sources[0]


def test_deletion_and_insertions_together(clip: Path, decoded, tmp_path: Path) -> None:
    tm = both()
    recipes = plan_retime(tm, source_frame_times(clip), FPS)
    assert len(recipes) == round(4.3 * 25)
    check_hold(recipes, 1.0, 1.6, 1.0)
    check_hold(recipes, 3.6, 4.0, 3.5, then_cut=True)
    # The replacement's cut at 4.0 s blends the end of the hold into the resumed picture.
    fades = [r for r in recipes if r.kind == "dissolve"]
    assert any(abs(r.time - 3.1) < 0.07 for r in fades)
    assert any(abs(r.time - 4.0) < 0.07 for r in fades)
    for r in fades:
        assert r.sources[0] < r.sources[1]
    frames = render_and_decode(clip, recipes, tmp_path / "both.mp4")
    check_file(tmp_path / "both.mp4", frames, tm)
    check_untouched(recipes, frames, decoded)


def test_variable_frame_rate_source(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    gaps = rng.uniform(0.025, 0.07, 80)
    times = list(np.concatenate([[0.0], np.cumsum(gaps[:-1])]))
    src = make_clip(tmp_path / "vfr.mp4", times)
    got = source_frame_times(src)
    assert got == pytest.approx(times, abs=2e-5)
    decoded = [f.rgb for f in read_frames(src)]
    total = float(times[-1] + 0.04)
    cut = (1.0, 1.4)
    tm = TimeMap([(0.0, 0.0), (cut[0], cut[0]), (cut[1], cut[0]), (total, total - 0.4)], [],
                 total, total - 0.4)
    recipes = plan_retime(tm, got, FPS)
    for r in recipes:
        if r.kind == "copy":
            want = int(np.argmin(np.abs(np.array(got) - float(tm.to_original(r.time)))))
            assert r.sources[0] == want or r.mouth
    frames = render_and_decode(src, recipes, tmp_path / "vfr_out.mp4")
    check_file(tmp_path / "vfr_out.mp4", frames, tm)
    check_untouched(recipes, frames, decoded)
    for r in recipes:
        if r.untouched:
            assert index_of(frames[r.index]) == r.sources[0]


def test_iter_retimed_yields_editable_frames_and_bounded_buffer(clip: Path) -> None:
    recipes = plan_retime(insertion(), source_frame_times(clip), FPS)
    from retake.video.retime import RetimeStats

    stats = RetimeStats()
    seen = []
    for k, t, rgb, r in iter_retimed(clip, recipes, buffer_seconds=1.5, stats=stats):
        assert rgb.flags.writeable and rgb.shape == (SIDE, SIDE, 3)
        rgb[:] = 0  # the caller owns the array: must not poison later holds
        seen.append((k, t, r.index))
    assert [s[0] for s in seen] == list(range(len(recipes)))
    assert stats.redecoded == 0 and stats.peak_buffer <= 38
    # A frame pushed out of a small buffer is decoded again, not lost.
    twice = [FrameRecipe(k, k / 25, "copy", (k % 10,), (1.0,), False, True, k / 25)
             for k in range(20)]
    stats = RetimeStats()
    out = list(iter_retimed(clip, twice, buffer_seconds=0.2, stats=stats))
    assert stats.peak_buffer <= 5 and stats.redecoded >= 1
    assert [index_of(o[2]) for o in out] == [k % 10 for k in range(20)]
    # A frame that no longer exists is a clear error.
    bad = [FrameRecipe(0, 0.0, "copy", (500,), (1.0,), False, True, 20.0)]
    with pytest.raises(Exception, match="plan needs frame 500"):
        list(iter_retimed(clip, bad))


def test_trims_at_either_end_are_plain_copies() -> None:
    times = [k / 25 for k in range(100)]
    tm = TimeMap([(0.0, 0.0), (0.48, 0.0), (3.48, 3.0), (4.0, 3.0)], [], 4.0, 3.0)
    recipes = plan_retime(tm, times, FPS)
    assert len(recipes) == 75
    assert all(r.kind == "copy" and r.untouched for r in recipes)
    assert [r.sources[0] for r in recipes] == list(range(12, 87))


def test_plan_rejects_empty_inputs() -> None:
    with pytest.raises(RetimeError, match="no frames"):
        plan_retime(TimeMap.identity(1.0), [], FPS)
    with pytest.raises(RetimeError, match="empty"):
        plan_retime(TimeMap([(0.0, 0.0), (1.0, 0.0)], [], 1.0, 0.0), [0.0, 0.04], FPS)


def face_frame(centre: tuple[float, float], size: int = 160) -> tuple[np.ndarray, np.ndarray]:
    """A dark frame with a bright disc on a face whose landmarks are the template."""
    import cv2

    img = np.full((size, size, 3), 30, np.uint8)
    lms = (TEMPLATE - 0.5) * 60 + np.array(centre)
    cv2.circle(img, (round(centre[0]), round(centre[1])), 14, (240, 240, 240), -1)
    return img, lms


def test_morph_moves_the_head_instead_of_ghosting() -> None:
    a, la = face_frame((70, 80))
    b, lb = face_frame((86, 80))
    out, how = morph(a, b, la, lb, 0.5)
    assert how == "mesh"
    row = out[80, :, 0].astype(float)
    bright = np.nonzero(row > 200)[0]
    assert abs(bright.mean() - 78) <= 1.5  # one disc half way, at full brightness
    assert bright.max() - bright.min() >= 24
    # The border of the frame stays where it was.
    assert np.array_equal(out[0], a[0])
    # A mesh that would fold (mirrored landmarks) falls back to a similarity warp.
    mirrored = lb.copy()
    mirrored[:, 0] = 2 * lb[:, 0].mean() - lb[:, 0]
    out, how = morph(a, b, la, mirrored, 0.5)
    assert how == "similarity" and out.shape == a.shape


def test_renderer_morphs_dissolves_with_a_track(clip: Path, tmp_path: Path) -> None:
    recipes = plan_retime(deletion(), source_frame_times(clip), FPS)
    track = FaceTrack(0)
    for i in range(100):
        lms = (TEMPLATE - 0.5) * 24 + np.array([32 + 0.1 * i, 30])
        track.frames.append(i)
        track.landmarks.append(lms)
    result = render_retimed(clip, recipes, tmp_path / "m.mp4", FPS, track=track,
                            audio=(np.zeros(int(3.2 * 16000), np.float32), 16000),
                            metadata={"comment": "retimed"})
    fades = sum(r.kind == "dissolve" for r in recipes)
    assert result.stats.mesh + result.stats.similarity == fades > 0
    assert probe(tmp_path / "m.mp4").has_audio


def test_real_clip(tmp_path: Path) -> None:
    path = MEDIA / "video" / "WDA_KatieHill_000.mp4"
    if not path.exists():
        pytest.skip(f"shared media not available: {path}")
    from retake.video.media import read_audio_track

    info = probe(path)
    tm = TimeMap([(0.0, 0.0), (2.0, 2.0), (2.6, 2.0), (5.0, 4.4), (5.0, 5.0), (8.0, 8.0)],
                 [Inserted(4.4, 5.0, 5.0, "inserted")], 8.0, 8.0)
    recipes = plan_retime(tm, source_frame_times(path), info.fps)
    audio = read_audio_track(path)
    result = render_retimed(path, recipes, tmp_path / "k.mp4", info.fps, audio=audio)
    frames = [f.rgb for f in read_frames(tmp_path / "k.mp4")]
    src = [f.rgb for f in read_frames(path)]
    assert len(frames) == len(recipes) == 200
    assert result.stats.redecoded == 0
    for r in recipes:
        if r.untouched:
            assert psnr(frames[r.index], src[r.sources[0]]) >= 35
