"""Faces and face swap: geometry, tracking, facesets, the landmark engine, CLI errors.

Real media from ../shared/media when present (identity must move to the source); else
scikit-image's astronaut, moved about in a generated clip (the pipeline's mechanics).
"""

from __future__ import annotations

import json
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from conftest import MEDIA, media
from typer.testing import CliRunner

from retake.video.faces import FaceModels, identity_distance
from retake.video.geometry import MIRROR, TEMPLATE, apply, crop_matrix, inter_ocular, umeyama
from retake.video.media import VideoWriter, probe, read_audio_track, read_frames, read_image

warnings.filterwarnings("ignore", category=UserWarning)


@pytest.fixture(scope="module")
def models() -> FaceModels:
    return FaceModels()


def _short_clip(src: Path, dst: Path, frames: int) -> Path:
    """The first `frames` frames of a clip, with its audio cut to match."""
    info = probe(src)
    audio = read_audio_track(src)
    got = [f for f, _ in zip(read_frames(src), range(frames), strict=False)]
    if audio is not None:
        end = int((got[-1].time + 1 / float(info.fps)) * audio[1])
        audio = (audio[0][:end], audio[1])
    with VideoWriter(dst, info.fps, info.width, info.height, audio=audio) as w:
        for f in got:
            w.write(f.rgb, f.time)
    return dst


def _astronaut_clip(path: Path, n: int = 24) -> Path:
    """A generated clip: the astronaut photo drifting and turning slightly, with a tone."""
    import cv2
    import skimage.data

    img = skimage.data.astronaut()
    rate = 16000
    t = np.arange(int(n / 25 * rate)) / rate
    tone = (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    with VideoWriter(path, Fraction(25), 512, 512, audio=(tone, rate)) as w:
        for i in range(n):
            m = cv2.getRotationMatrix2D((220, 130), 3 * np.sin(i / 4), 1.0 + 0.02 * np.sin(i / 5))
            m[0, 2] += 4 * np.sin(i / 3)
            w.write(cv2.warpAffine(img, m, (512, 512), borderMode=cv2.BORDER_REFLECT))
    return path


def test_umeyama_recovers_a_similarity() -> None:
    rng = np.random.default_rng(1)
    pts = rng.random((30, 2)) * 100
    a = 0.3
    m = np.array([[1.7 * np.cos(a), -1.7 * np.sin(a), 12], [1.7 * np.sin(a), 1.7 * np.cos(a), -5]])
    got = umeyama(pts, apply(m, pts))
    assert np.allclose(got, m, atol=1e-9)


def test_template_is_symmetric_and_crop_centres_the_face() -> None:
    mirrored = TEMPLATE.copy()
    mirrored[:, 0] = 1 - mirrored[:, 0]
    assert np.allclose(mirrored[MIRROR], TEMPLATE, atol=1e-3)
    # A face anywhere in a frame lands on the template in the crop.
    lms = TEMPLATE * 140 + [300, 90]
    m = crop_matrix(lms, 256)
    crop = apply(m, lms)
    assert crop.min() > 0 and crop.max() < 256
    assert abs(crop[:, 0].mean() - 128) < 10


def test_smoothing_cuts_jitter_without_lag() -> None:
    from retake.video.track import smooth_landmarks

    rng = np.random.default_rng(2)
    n = 60
    truth = np.array([TEMPLATE * 150 + [100 + 3 * i, 80 + 20 * np.sin(i / 8)]
                      for i in range(n)])
    noisy = truth + rng.normal(0, 1.5, truth.shape)
    smooth = np.array(smooth_landmarks(noisy, list(range(n)), 25.0))
    err_raw = np.abs(noisy - truth).mean()
    err_smooth = np.abs(smooth - truth).mean()
    assert err_smooth < 0.75 * err_raw
    # No lag: the mean signed error along the motion stays near zero.
    assert abs((smooth - truth)[5:-5, :, 0].mean()) < 0.3


def test_tracking_finds_the_face_in_every_frame(models: FaceModels, tmp_path: Path) -> None:
    from retake.video.track import track_faces

    clip = _astronaut_clip(tmp_path / "a.mp4")
    tracks = track_faces(read_frames(clip), models)
    assert len(tracks) >= 1
    main = tracks[0]
    assert len(main.frames) == 24
    assert main.embedding is not None and main.embedding.shape == (128,)


def test_faceset_extract_resume_and_sort(models: FaceModels, tmp_path: Path) -> None:
    from retake.video.faceset import extract, load, sort_faceset

    clip = _astronaut_clip(tmp_path / "a.mp4", n=12)
    fs = extract([clip], tmp_path / "fs", models, size=128)
    assert len(fs.records) == 12
    assert all((tmp_path / "fs" / "faces" / r.file).is_file() for r in fs.records)
    crop = fs.image(fs.records[0])
    assert crop.shape == (128, 128, 3)
    # Aligned landmarks sit near the template in every crop.
    from retake.video.geometry import aligned_template

    err = np.abs(fs.aligned_landmarks()[:, 17:] - aligned_template(128)[17:]).mean()
    assert err < 6
    again = extract([clip], tmp_path / "fs", models, size=128)  # resumes: nothing new
    assert len(again.records) == 12
    order = sort_faceset(tmp_path / "fs", "blur")
    assert [r.blur for r in order] == sorted((r.blur for r in order), reverse=True)
    assert load(tmp_path / "fs").records[0].file.startswith("00000_")
    for key in ("yaw", "size", "identity", "histogram"):
        assert len(sort_faceset(tmp_path / "fs", key)) == 12


def test_swap_generated_clip_keeps_frames_fps_audio_and_pose(models: FaceModels,
                                                            tmp_path: Path) -> None:
    from retake.video.swap import swap_video
    from retake.video.swap_landmark import LandmarkSwapper, source_face

    clip = _astronaut_clip(tmp_path / "a.mp4")
    src = read_image(media("faces", "obama.jpg")) if MEDIA.is_dir() else \
        np.ascontiguousarray(read_image_astronaut()[:, ::-1])
    sw = LandmarkSwapper(src, source_face(src, models))
    out = tmp_path / "out.mp4"
    res = swap_video(clip, out, sw, models)
    assert res.frames == 24 and res.swapped == 24
    a, b = probe(clip), probe(out)
    assert b.frames == a.frames and abs(b.duration - a.duration) < 0.05
    assert b.has_audio
    pose = []
    for fi, fo in zip(read_frames(clip), read_frames(out), strict=True):
        li = models.landmarks(fi.rgb, models.detect(fi.rgb)[0])
        lo = models.landmarks(fo.rgb, models.detect(fo.rgb)[0])
        pose.append(np.linalg.norm(lo - li, axis=1).mean() / inter_ocular(li))
    assert np.mean(pose) < 0.1


def read_image_astronaut() -> np.ndarray:
    import skimage.data

    return skimage.data.astronaut()


def test_swap_real_photo_onto_real_clip_moves_identity(models: FaceModels,
                                                      tmp_path: Path) -> None:
    from retake.video.swap import swap_video
    from retake.video.swap_landmark import LandmarkSwapper, source_face

    target = _short_clip(media("video", "WDA_KatieHill_000.mp4"), tmp_path / "k.mp4", 30)
    src = read_image(media("faces", "biden2.jpg"))
    src_lms = source_face(src, models)
    src_emb = models.embed(src, src_lms)
    out = tmp_path / "swapped.mp4"
    res = swap_video(target, out, LandmarkSwapper(src, src_lms), models)
    a, b = probe(target), probe(out)
    assert res.frames == 30 == b.frames
    assert b.fps == a.fps or abs(float(b.fps) - float(a.fps)) < 0.01
    assert b.has_audio
    ins, outs = list(read_frames(target)), list(read_frames(out))
    for i in (0, 10, 20, 29):
        li = models.landmarks(ins[i].rgb, models.detect(ins[i].rgb)[0])
        lo = models.landmarks(outs[i].rgb, models.detect(outs[i].rgb)[0])
        e_out = models.embed(outs[i].rgb, lo)
        to_src = identity_distance(e_out, src_emb)
        to_tgt = identity_distance(e_out, models.embed(ins[i].rgb, li))
        assert to_src < 0.6 and to_src < to_tgt, (i, to_src, to_tgt)
        assert np.linalg.norm(lo - li, axis=1).mean() / inter_ocular(li) < 0.08
    # Outside the face the frame is the target's own (only the encoder touched it).
    diff = np.abs(outs[15].rgb[:60].astype(int) - ins[15].rgb[:60].astype(int)).mean()
    assert diff < 3


def test_swap_still_image_and_keep_mouth(models: FaceModels, tmp_path: Path) -> None:
    from retake.video.blend import MergeOptions
    from retake.video.swap import swap_image
    from retake.video.swap_landmark import LandmarkSwapper, source_face

    target = tmp_path / "astronaut.png"
    from PIL import Image

    Image.fromarray(read_image_astronaut()).save(target)
    src = read_image(media("faces", "obama.jpg")) if (MEDIA / "faces").is_dir() else \
        np.ascontiguousarray(read_image_astronaut()[:, ::-1])
    sw = LandmarkSwapper(src, source_face(src, models))
    out = tmp_path / "out.png"
    swap_image(target, out, sw, models, merge_options=MergeOptions(keep_mouth=True))
    before, after = read_image(target), read_image(out)
    assert after.shape == before.shape
    lms = models.landmarks(before, models.detect(before)[0])
    mouth = lms[48:60].mean(0).astype(int)
    eye = lms[36:42].mean(0).astype(int)

    def patch(img: np.ndarray, c: np.ndarray) -> np.ndarray:
        return img[c[1] - 3:c[1] + 4, c[0] - 3:c[0] + 4].astype(int)

    assert np.abs(patch(after, mouth) - patch(before, mouth)).mean() < 6  # mouth kept
    assert np.abs(patch(after, eye) - patch(before, eye)).mean() > 6  # eyes swapped


runner = CliRunner()


def _cli(*args: str):
    from retake.ui.cli import app

    return runner.invoke(app, list(args))


def test_cli_swap_and_faces_commands(tmp_path: Path) -> None:
    clip = _astronaut_clip(tmp_path / "a.mp4", n=8)
    src = tmp_path / "src.png"
    from PIL import Image

    Image.fromarray(np.ascontiguousarray(read_image_astronaut()[:, ::-1])).save(src)
    out = tmp_path / "o.mp4"
    r = _cli("swap", "--consent", "--source", str(src), "--target", str(clip), "-o", str(out))
    assert r.exit_code == 0, r.output
    assert probe(out).frames == 8
    r = _cli("faces", "extract", str(clip), "-o", str(tmp_path / "fs"), "--size", "96")
    assert r.exit_code == 0, r.output
    lines = (tmp_path / "fs" / "faces.jsonl").read_text().splitlines()
    assert len(lines) == 8 and "embedding" in json.loads(lines[0])
    r = _cli("faces", "sort", str(tmp_path / "fs"), "--by", "yaw")
    assert r.exit_code == 0, r.output


def _two_people_clip(path: Path, photos: list[Path], models: FaceModels,
                     n: int = 4) -> list[np.ndarray]:
    """A still clip of two photos' faces side by side (120 px wide); their boxes in it."""
    from media_tools import place_face

    canvas = np.full((320, 640, 3), 128, np.uint8)
    boxes = []
    for photo, x in zip(photos, (160, 480), strict=True):
        rgb = read_image(photo)
        boxes.append(place_face(canvas, rgb, models.detect(rgb, full=True)[0], 120, (x, 160)))
    with VideoWriter(path, Fraction(25), 640, 320) as w:
        for _ in range(n):
            w.write(canvas)
    return boxes


@pytest.mark.parametrize("person", ["obama", "biden2"])
def test_cli_swap_faces_reference_swaps_the_person_in_the_photo(person: str,
                                                                models: FaceModels,
                                                                tmp_path: Path) -> None:
    from PIL import Image

    photos = [media("faces", "obama.jpg"), media("faces", "biden2.jpg")]
    clip = tmp_path / "two.mp4"
    boxes = _two_people_clip(clip, photos, models)
    src = tmp_path / "astronaut.png"
    Image.fromarray(read_image_astronaut()).save(src)
    out = tmp_path / "o.mp4"
    r = _cli("swap", "--consent", "--source", str(src), "--target", str(clip), "-o", str(out),
             "--faces", "reference", "--reference", str(media("faces", f"{person}.jpg")))
    assert r.exit_code == 0, (r.output, r.exception)
    before, after = next(iter(read_frames(clip))).rgb, next(iter(read_frames(out))).rgb

    def change(box: np.ndarray) -> float:
        x0, y0, x1, y1 = (int(v) for v in box)
        return float(np.abs(after[y0:y1, x0:x1].astype(int) - before[y0:y1, x0:x1]).mean())

    chosen = ["obama", "biden2"].index(person)
    assert change(boxes[chosen]) > 8, [change(b) for b in boxes]
    assert change(boxes[1 - chosen]) < 3, [change(b) for b in boxes]


def test_cli_swap_faces_reference_on_a_generated_clip(tmp_path: Path) -> None:
    from PIL import Image

    clip = _astronaut_clip(tmp_path / "a.mp4", n=4)
    ref, src = tmp_path / "ref.png", tmp_path / "src.png"
    Image.fromarray(read_image_astronaut()).save(ref)
    Image.fromarray(np.ascontiguousarray(read_image_astronaut()[:, ::-1])).save(src)
    out = tmp_path / "o.mp4"
    args = ["swap", "--consent", "--source", str(src), "--target", str(clip), "-o", str(out),
            "--faces", "reference"]
    r = _cli(*args)
    assert r.exit_code != 0 and "--faces reference needs --reference PHOTO" in str(r.exception)
    r = _cli(*args, "--reference", str(ref))
    assert r.exit_code == 0, (r.output, r.exception)
    assert "4/4 frames swapped" in " ".join(r.output.split())  # rich wraps lines


@pytest.mark.parametrize("case", ["no_face", "corrupt", "several_faces", "bad_suffix",
                                  "no_source_face"])
def test_cli_swap_errors_leave_nothing_behind(case: str, tmp_path: Path) -> None:
    from PIL import Image

    from retake.core.errors import RetakeError

    astro = read_image_astronaut()
    src = tmp_path / "src.png"
    Image.fromarray(astro).save(src)
    target = tmp_path / "t.mp4"
    out = tmp_path / "o.mp4"
    if case == "no_face":
        with VideoWriter(target, 25, 128, 128) as w:
            for _ in range(5):
                w.write(np.full((128, 128, 3), 120, np.uint8))
        msg = "no face"
    elif case == "corrupt":
        target.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
        msg = "readable"
    elif case == "several_faces":
        _astronaut_clip(target, n=4)
        Image.fromarray(np.concatenate([astro, astro[:, ::-1]], 1)).save(src)
        msg = "faces"
    elif case == "bad_suffix":
        _astronaut_clip(target, n=4)
        out = tmp_path / "o.avi"
        msg = ".mp4"
    else:
        _astronaut_clip(target, n=4)
        Image.fromarray(np.full((200, 200, 3), 90, np.uint8)).save(src)
        msg = "no face"
    from retake.ui.cli import app

    r = runner.invoke(app, ["swap", "--consent", "--source", str(src), "--target", str(target),
                            "-o", str(out)])
    assert r.exit_code != 0
    assert isinstance(r.exception, RetakeError), r.exception
    assert msg in str(r.exception)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".o.")]


def test_cli_train_resume_and_swap_with_model(tmp_path: Path) -> None:
    clip = _astronaut_clip(tmp_path / "a.mp4", n=6)
    fs = tmp_path / "fs"
    assert _cli("faces", "extract", str(clip), "-o", str(fs), "--size", "96").exit_code == 0
    model = tmp_path / "model"
    args = ["train", "--src", str(fs), "--dst", str(fs), "-o", str(model), "--resolution",
            "32", "--batch", "2", "--preview-every", "2", "--encoder-dims", "8",
            "--decoder-dims", "12", "--bottleneck", "32"]
    r = _cli(*args, "--steps", "3")
    assert r.exit_code == 0, r.output
    r = _cli(*args, "--steps", "5")  # resumes from step 3
    assert r.exit_code == 0, r.output
    meta = json.loads((model / "model.json").read_text())
    assert meta["steps"] == 5
    assert meta["arch"] == {"encoder_dims": 8, "bottleneck": 32, "decoder_dims": 12}
    out = tmp_path / "m.mp4"
    r = _cli("swap", "--consent", "--model", str(model), "--target", str(clip), "-o", str(out))
    assert r.exit_code == 0, r.output
    assert probe(out).frames == 6
