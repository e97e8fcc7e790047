"""The autoencoder engine: train a tiny model on real facesets, resume it, swap with it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from retake.core.errors import EngineUnavailable, FaceError, RetakeError

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"


def _frames(video: Path, n: int) -> list[np.ndarray]:
    from retake.video.media import read_frames

    out = []
    for fr in read_frames(video):
        out.append(fr.rgb)
        if len(out) == n:
            break
    return out


def _fallback_images() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Without the shared media: scikit-image's astronaut, mirrored and shifted."""
    data = pytest.importorskip("skimage.data")
    face = data.astronaut()
    src = [face, face[:, ::-1].copy()]
    dst = [np.roll(face, (k * 6, k * 4), axis=(0, 1)) for k in range(4)]
    return src, dst


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    """Two small facesets: src (three portraits) and dst (12 Katie Hill frames)."""
    from retake.video.faces import FaceModels
    from retake.video.faceset import extract
    from retake.video.media import write_image

    base = tmp_path_factory.mktemp("ae_sets")
    models = FaceModels()
    if MEDIA.is_dir():
        src_inputs = [MEDIA / "faces" / n for n in ("astronaut.png", "obama.jpg", "biden2.jpg")]
        dst_rgb = _frames(MEDIA / "video" / "WDA_KatieHill_000.mp4", 12)
    else:
        src_rgb, dst_rgb = _fallback_images()
        (base / "src_in").mkdir()
        src_inputs = [base / "src_in" / f"s{i}.png" for i in range(len(src_rgb))]
        for path, rgb in zip(src_inputs, src_rgb, strict=True):
            write_image(path, rgb)
    (base / "dst_in").mkdir(exist_ok=True)
    for i, rgb in enumerate(dst_rgb):
        write_image(base / "dst_in" / f"d{i:02d}.png", rgb)
    src = extract(src_inputs, base / "src", models, size=256, faces="largest")
    dst = extract([base / "dst_in"], base / "dst", models, size=256, faces="largest")
    return {"src": src, "dst": dst, "dst_frame": dst_rgb[0], "base": base}


def _opts(**kw):
    from retake.video.autoencoder import TrainOptions

    base = dict(resolution=32, batch_size=4, steps=6, preview_every=3, save_every=3,
                seed=7, device="cpu", encoder_dims=8, bottleneck=32, decoder_dims=8)
    base.update(kw)
    return TrainOptions(**base)


@pytest.fixture(scope="module")
def trained(sets, tmp_path_factory):
    from retake.video.autoencoder import train

    out = tmp_path_factory.mktemp("ae_model") / "model"
    calls = []
    history = train(sets["src"].root, sets["dst"].root, out, _opts(),
                    progress=lambda stage, d, n: calls.append((d, n)))
    return out, history, calls


def test_train_writes_checkpoint_previews_and_history(trained, sets):
    out, history, calls = trained
    assert history["step"] == [1, 2, 3, 4, 5, 6]
    assert all(np.isfinite(history[k]).all() for k in ("loss", "src", "dst", "mask"))
    assert calls[-1] == (6, 6)
    for name in ("model.pt", "model.json", "loss.json"):
        assert (out / name).is_file()
    for name in ("step_0000003.png", "step_0000006.png", "latest.png"):
        assert (out / "previews" / name).is_file()
    from retake.video.media import read_image

    grid = read_image(out / "previews" / "latest.png")
    assert grid.shape[1] == 5 * 128  # five columns, 32 px tiles shown at 128 px
    meta = json.loads((out / "model.json").read_text())
    assert meta["steps"] == 6 and meta["resolution"] == 32
    assert meta["identities"]["src"]["faces"] == len(sets["src"].records)
    assert meta["identities"]["dst"]["name"] == "dst"
    assert len(meta["identities"]["dst"]["embedding"]) == 128
    assert json.loads((out / "loss.json").read_text())["step"] == history["step"]


def test_resume_continues_like_an_uninterrupted_run(trained, sets, tmp_path):
    from retake.video.autoencoder import train

    out, first, _ = trained
    resumed = tmp_path / "resumed"
    shutil.copytree(out, resumed)
    more = train(sets["src"].root, sets["dst"].root, resumed, _opts(steps=9))
    assert more["step"] == list(range(1, 10))
    assert more["loss"][:6] == first["loss"]
    assert json.loads((resumed / "model.json").read_text())["steps"] == 9
    straight = train(sets["src"].root, sets["dst"].root, tmp_path / "straight", _opts(steps=9))
    np.testing.assert_allclose(more["loss"], straight["loss"], rtol=1e-3)
    # Reaching the target again trains nothing.
    again = train(sets["src"].root, sets["dst"].root, resumed, _opts(steps=9))
    assert again["step"] == more["step"]


def test_batch_workers_train_exactly_as_in_line(trained, sets, tmp_path):
    """Batches built ahead on threads (as beside a GPU) are the batches of those steps."""
    from retake.video.autoencoder import train

    _, first, _ = trained
    ahead = train(sets["src"].root, sets["dst"].root, tmp_path / "ahead", _opts(workers=2))
    assert ahead["step"] == first["step"]
    np.testing.assert_allclose(ahead["loss"], first["loss"], rtol=1e-5)


def test_resume_refuses_other_settings(trained, sets, tmp_path):
    from retake.video.autoencoder import train

    out, _, _ = trained
    copy = tmp_path / "m"
    shutil.copytree(out, copy)
    with pytest.raises(RetakeError, match="resolution"):
        train(sets["src"].root, sets["dst"].root, copy, _opts(resolution=48, steps=7))


def test_swap_renders_a_patch(trained, sets):
    from retake.video.swap_autoencoder import AutoencoderSwapper

    out, _, _ = trained
    frame = sets["dst_frame"]
    rec = sets["dst"].records[0]
    lms = np.array(rec.landmarks, float)
    for mask in ("learned", "landmarks", "both"):
        sw = AutoencoderSwapper(out, device="cpu", mask=mask)
        assert sw.name == "autoencoder"
        p = sw.render(frame, lms)
        h, w = p.mask.shape
        assert p.rgb.shape == (h, w, 3) and p.rgb.dtype == np.float32
        assert p.x0 >= 0 and p.x0 + w <= frame.shape[1]
        assert p.y0 >= 0 and p.y0 + h <= frame.shape[0]
        assert p.mask.min() >= 0 and p.mask.max() <= 1
        assert (p.mask > 0.1).mean() > 0.2
        assert p.rgb.min() >= 0 and p.rgb.max() <= 255
        # The rectangle covers the face's landmarks.
        assert (lms >= (p.x0, p.y0)).all() and (lms <= (p.x0 + w, p.y0 + h)).all()


def test_identity_check(trained, sets):
    from retake.video.swap_autoencoder import AutoencoderSwapper, check_model_identity

    out, _, _ = trained
    sw = AutoencoderSwapper(out, device="cpu")
    own = np.array(sets["dst"].records[0].embedding)
    assert sw.check_identity(own) < 0.6
    assert check_model_identity(out, own) < 0.6
    # Another person: the src set's face with real media; without it (the fallback sets
    # are one person) an embedding moved 0.8 away stands for a stranger.
    other = np.array(sets["src"].records[0].embedding) if MEDIA.is_dir() else \
        own + 0.8 * np.eye(len(own))[0]
    with pytest.raises(FaceError, match="trained for another face"):
        sw.check_identity(other)
    assert sw.check_identity(None) is None
    from retake.video.faces import FaceModels

    models = FaceModels()
    assert sw.check_target(sets["base"] / "dst_in" / "d00.png", models) < 0.6
    if MEDIA.is_dir():
        with pytest.raises(FaceError, match="trained for another face"):
            sw.check_target(sets["src"].root / "faces" / sets["src"].records[0].file, models)


def test_broken_model_folders_raise(trained, tmp_path):
    from retake.video.autoencoder import load_model
    from retake.video.swap_autoencoder import AutoencoderSwapper

    out, _, _ = trained
    with pytest.raises(EngineUnavailable, match="no such model folder"):
        load_model(tmp_path / "nothing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(EngineUnavailable, match="not a trained model"):
        load_model(empty)
    bad_pt = tmp_path / "bad_pt"
    shutil.copytree(out, bad_pt)
    (bad_pt / "model.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(EngineUnavailable, match="damaged"):
        AutoencoderSwapper(bad_pt, device="cpu")
    bad_json = tmp_path / "bad_json"
    shutil.copytree(out, bad_json)
    (bad_json / "model.json").write_text("{")
    with pytest.raises(RetakeError, match="damaged"):
        load_model(bad_json, "cpu")
    other_arch = tmp_path / "other_arch"
    shutil.copytree(out, other_arch)
    meta = json.loads((other_arch / "model.json").read_text())
    meta["arch"]["bottleneck"] = 64
    (other_arch / "model.json").write_text(json.dumps(meta))
    with pytest.raises(EngineUnavailable, match="does not match"):
        load_model(other_arch, "cpu")


def test_too_few_faces(sets, tmp_path):
    from retake.video.autoencoder import train

    one = tmp_path / "one"
    shutil.copytree(sets["src"].root, one)
    first = (one / "faces.jsonl").read_text().splitlines()[0]
    (one / "faces.jsonl").write_text(first + "\n")
    with pytest.raises(FaceError, match="at least 2"):
        train(one, sets["dst"].root, tmp_path / "m", _opts())


def test_ssim_and_random_warp():
    import torch

    from retake.video.autoencoder import dssim, random_warp, ssim

    g = torch.Generator().manual_seed(0)
    a = torch.rand(2, 3, 32, 32, generator=g)
    assert float(ssim(a, a)) == pytest.approx(1.0, abs=1e-5)
    assert float(dssim(a, torch.rand(2, 3, 32, 32, generator=g))) > 0.3
    img = (np.random.default_rng(0).random((32, 32, 3)) * 255).astype(np.uint8)
    warped = random_warp(img, np.random.default_rng(1))
    assert warped.shape == img.shape
    assert np.array_equal(warped[0], img[0]) and not np.array_equal(warped, img)


def test_default_architecture_is_small():
    import torch

    from retake.video.autoencoder import FaceAutoencoder, TrainOptions

    o = TrainOptions()
    for res in (64, 128):
        net = FaceAutoencoder(res, o.encoder_dims, o.bottleneck, o.decoder_dims)
        assert sum(p.numel() for p in net.parameters()) < 8e6
    rgb, mask = net(torch.rand(1, 3, 128, 128), "src")
    assert rgb.shape == (1, 3, 128, 128) and mask.shape == (1, 1, 128, 128)


def _eye_likeness(patch, frame: np.ndarray, lms: np.ndarray) -> float:
    """Correlation of grey levels between a patch and its frame over both eyes' boxes."""
    a, b = [], []
    for eye in (slice(36, 42), slice(42, 48)):
        x0, y0 = np.floor(lms[eye].min(0)).astype(int) - 3
        x1, y1 = np.ceil(lms[eye].max(0)).astype(int) + 3
        a.append(patch.rgb[y0 - patch.y0:y1 - patch.y0, x0 - patch.x0:x1 - patch.x0].mean(2))
        b.append(frame[y0:y1, x0:x1].mean(2))
    a, b = np.concatenate([x.ravel() for x in a]), np.concatenate([x.ravel() for x in b])
    return float(np.corrcoef(a, b)[0, 1])


def test_a_target_blink_is_the_targets_own_eyes(trained):
    """A model paints only the eyes its faceset showed (and at 32-128 px, a blur): where
    the target shuts its eyes, well past its own open level, its own eyes are laid in;
    where they are open, the model's painting stays."""
    if not MEDIA.is_dir():
        pytest.skip("needs the shared media")
    from retake.video.expression import eye_openness
    from retake.video.faces import FaceModels
    from retake.video.media import read_frames
    from retake.video.swap_autoencoder import AutoencoderSwapper

    models = FaceModels()
    clip = MEDIA / "video" / "WDA_KatieHill_000.mp4"
    frames = [(f.rgb, models.landmarks(f.rgb, models.detect(f.rgb)[0]))
              for f in read_frames(clip) if 150 <= f.index <= 171]
    out, _, _ = trained
    on, off = AutoencoderSwapper(out, device="cpu"), AutoencoderSwapper(
        out, device="cpu", target_eyes=False)
    likeness = []
    for rgb, lms in frames:
        likeness.append((eye_openness(lms), _eye_likeness(on.render(rgb, lms), rgb, lms),
                         _eye_likeness(off.render(rgb, lms), rgb, lms)))
    ear, with_eyes, without = np.array(likeness).T
    shut, open_ = int(np.argmin(ear)), int(np.argmax(ear))
    assert ear[shut] < 0.6 * ear[open_]
    assert with_eyes[shut] > 0.9 and without[shut] < with_eyes[shut] - 0.2, likeness[shut]
    assert with_eyes[open_] == pytest.approx(without[open_], abs=1e-6)


def test_device_augmentation_matches_the_threads_crops(sets):
    """Augmenting on the training device (as beside a GPU) frames each face as `sample`
    does: unaugmented crops within 1% of the OpenCV ones, masks within about a pixel."""
    import torch

    from retake.video.autoencoder import FaceBank, _TensorFeeder

    banks = {k: FaceBank.from_faceset(sets[k], 64, 0.2) for k in ("src", "dst")}
    feeder = _TensorFeeder(banks, _opts(resolution=64), torch.device("cpu"))
    idx = np.arange(len(banks["dst"]))
    crops, masks = feeder.plain("dst", idx)
    for j, i in enumerate(idx):
        _, target, mask = banks["dst"].sample(int(i), None)
        got = crops[j].permute(1, 2, 0).numpy()
        assert np.abs(got - target).mean() < 0.01
        m = masks[j, 0].numpy() > 0.5
        iou = (m & (mask > 0.5)).sum() / (m | (mask > 0.5)).sum()
        # 0.90-0.92 here at 64 px (about a pixel along the edge: the masks' erosion rounds
        # to whole pixels at each scale), 0.97-0.98 at 128 px
        assert iou > 0.85 and np.abs(masks[j, 0].numpy() - mask).mean() < 0.05
    # Augmented batches: the step's seed decides them; the input is the target warped.
    a = feeder.batch("src", np.random.default_rng([7, 3]), 4)
    b = feeder.batch("src", np.random.default_rng([7, 3]), 4)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    inputs, targets, mask = a
    assert inputs.shape == targets.shape == (4, 3, 64, 64) and mask.shape == (4, 1, 64, 64)
    assert 0.001 < float((inputs - targets).abs().mean()) < 0.1


def test_training_with_device_augmentation(sets, tmp_path):
    from retake.video.autoencoder import train

    first = train(sets["src"].root, sets["dst"].root, tmp_path / "a", _opts(augment="device"))
    again = train(sets["src"].root, sets["dst"].root, tmp_path / "b", _opts(augment="device"))
    assert first["step"] == [1, 2, 3, 4, 5, 6]
    assert np.isfinite(first["loss"]).all()
    np.testing.assert_allclose(first["loss"], again["loss"], rtol=1e-5)
    with pytest.raises(RetakeError, match="augment"):
        train(sets["src"].root, sets["dst"].root, tmp_path / "c", _opts(augment="gpu"))
