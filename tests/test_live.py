"""Live face swap (`retake live`): frames, timestamps, identity, label, signing, errors."""

from __future__ import annotations

import logging
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from conftest import media

from retake.awareness.provenance import Provenance, verify
from retake.core.errors import RetakeError
from retake.video.faces import FaceModels
from retake.video.media import VideoWriter, probe, read_audio_track, read_frames, read_image
from retake.video.one_euro import OneEuro

CLIP_FRAMES = 50  # 2 s at 25 fps


@pytest.fixture(scope="module")
def models() -> FaceModels:
    return FaceModels()


def _pts(path: Path) -> list[float]:
    return [f.time for f in read_frames(path)]


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """The first 2 s of a shared talking clip, with its audio."""
    src = media("video", "WDA_KatieHill_000.mp4")
    out = tmp_path_factory.mktemp("live") / "katie2s.mp4"
    samples, rate = read_audio_track(src)
    with VideoWriter(out, probe(src).fps, 512, 512,
                     audio=(samples[: int(CLIP_FRAMES / 25 * rate)], rate)) as w:
        for f, _ in zip(read_frames(src), range(CLIP_FRAMES), strict=False):
            w.write(f.rgb, f.time)
    return out


@pytest.fixture(scope="module")
def swapper(models):
    from retake.video.engines import build_swapper

    return build_swapper("landmark", models, source=media("faces", "obama.jpg"))


@pytest.fixture(scope="module")
def recorded(clip, swapper, models, tmp_path_factory):
    """Every frame of the clip swapped (realtime off) into a signed recording, by two
    render processes (the default)."""
    from retake.video.live import run_live

    out = tmp_path_factory.mktemp("rec") / "live.mp4"
    res = run_live(str(clip), swapper, models, record=out, realtime=False,
                   provenance=Provenance(consent={"method": "declared"}))
    return res, out


def test_recording_keeps_every_frame_its_time_and_audio(clip, recorded):
    res, out = recorded
    assert res.stats["frames"] == CLIP_FRAMES and res.stats["dropped"] == 0
    assert res.stats["swapped"] == CLIP_FRAMES and res.ended == "end of input"
    assert _pts(out) == pytest.approx(_pts(clip), abs=1e-3)
    assert probe(out).has_audio


def test_recording_is_labelled_and_signed(clip, recorded):
    from retake.video.live import _label_overlay

    _, out = recorded
    ys, xs, _, _ = _label_overlay(512, 512)
    for fi, fo in zip(read_frames(clip), read_frames(out), strict=True):
        diff = np.abs(fo.rgb[ys, xs].astype(int) - fi.rgb[ys, xs].astype(int)).mean()
        assert diff > 20, f"no label in frame {fi.index}"
    v = verify(out)
    assert v.intact and any("live" in a.get("description", "") for a in v.actions)


def test_identity_moves_toward_the_source(clip, recorded, models):
    from retake.video.swap_landmark import source_face

    _, out = recorded
    photo = read_image(media("faces", "obama.jpg"))
    src = models.embed(photo, source_face(photo, models))
    closer = []
    for fi, fo in zip(read_frames(clip), read_frames(out), strict=True):
        if fi.index % 10:
            continue
        d = []
        for rgb in (fi.rgb, fo.rgb):
            box = models.detect(rgb)[0]
            d.append(np.linalg.norm(models.embed(rgb, models.landmarks(rgb, box)) - src))
        closer.append(d[1] < d[0])
    assert all(closer), closer


def test_generated_clip_without_shared_media(models, tmp_path):
    """The same checks on a generated clip (the astronaut photo drifting, with a tone), so
    they run where ../shared/media is absent: frames, times, audio, label, signature."""
    import cv2

    skimage = pytest.importorskip("skimage")
    from retake.video.engines import build_swapper
    from retake.video.live import _label_overlay, run_live

    img = skimage.data.astronaut()
    clip, photo = tmp_path / "a.mp4", tmp_path / "src.png"
    cv2.imwrite(str(photo), np.ascontiguousarray(img[:, ::-1, ::-1]))  # mirrored, as BGR
    rate = 16000
    tone = (0.1 * np.sin(2 * np.pi * 220 * np.arange(rate // 2) / rate)).astype(np.float32)
    with VideoWriter(clip, Fraction(25), 512, 512, audio=(tone, rate)) as w:
        for i in range(12):
            m = cv2.getRotationMatrix2D((220, 130), 3 * np.sin(i / 4), 1.0)
            w.write(cv2.warpAffine(img, m, (512, 512), borderMode=cv2.BORDER_REFLECT))
    out = tmp_path / "live.mp4"
    sw = build_swapper("landmark", models, source=photo)
    res = run_live(str(clip), sw, models, record=out, realtime=False, workers=1)
    assert res.stats["frames"] == 12 and res.stats["swapped"] >= 10
    assert _pts(out) == pytest.approx(_pts(clip), abs=1e-3) and probe(out).has_audio
    ys, xs, _, _ = _label_overlay(512, 512)
    first_in, first_out = next(read_frames(clip)).rgb, next(read_frames(out)).rgb
    assert np.abs(first_out[ys, xs].astype(int) - first_in[ys, xs]).mean() > 20
    assert verify(out).intact


def test_realtime_drops_frames_and_keeps_the_rest_in_time(clip, swapper, models, tmp_path):
    from retake.video.live import run_live

    out = tmp_path / "rt.mp4"
    res = run_live(str(clip), swapper, models, record=out, realtime=True, workers=1)
    written = _pts(out)
    assert len(written) + res.stats["dropped"] == CLIP_FRAMES
    src = _pts(clip)
    kept = [t for i, t in enumerate(src) if i not in set(res.dropped)]
    assert written == pytest.approx(kept, abs=1e-3)


def test_no_face_passes_through_labelled_and_resumes(clip, swapper, models, caplog):
    from retake.video.live import LiveSwap

    live = LiveSwap(swapper, models)
    frames = [f.rgb for f, _ in zip(read_frames(clip), range(6), strict=False)]
    blank = np.full_like(frames[0], 90)
    caplog.set_level(logging.WARNING, "retake.video.live")
    t = 0.0
    for rgb in frames[:3] + [blank] * 40 + frames[3:]:
        out = live.frame(rgb, t)
        t += 0.04
        if rgb is blank:
            assert np.array_equal(out[:400], blank[:400])  # untouched but for the label
            assert not np.array_equal(out, blank)
    s = live.stats()
    assert s["frames"] == 46 and s["swapped"] == 6
    assert 1.4 < s["no_face_s"] < 1.7
    said = [r.getMessage() for r in caplog.records]
    assert sum("no face in view" in m for m in said) == 1
    assert sum("face back" in m for m in said) == 1


def test_no_virtual_camera_device_is_one_clear_error(clip, swapper, models):
    from retake.video.live import run_live

    pytest.importorskip("pyvirtualcam")
    if any(Path("/dev").glob("video*")):
        pytest.skip("this machine has video devices (maybe a loopback camera)")
    with pytest.raises(RetakeError, match="no virtual camera device here") as exc:
        run_live(str(clip), swapper, models, virtual_camera=True, realtime=False,
                 max_frames=3, workers=1)
    assert "\n" not in str(exc.value)


def test_label_off_needs_consent(clip, swapper, models, tmp_path):
    from retake.video.live import run_live

    with pytest.raises(RetakeError, match="consent"):
        run_live(str(clip), swapper, models, record=tmp_path / "x.mp4", label=False)
    assert not (tmp_path / "x.mp4").exists()


class _Fake:
    """A camera container that delivers `n` frames and then fails (unplugged)."""

    def __init__(self, frames: list[np.ndarray]) -> None:
        import av

        class S:
            time_base = Fraction(1, 1000000)
            average_rate = Fraction(25)
            guessed_rate = Fraction(25)
            thread_type = None

        self.frames, self.streams = frames, type("T", (), {"video": [S()], "audio": []})
        self.av = av

    def decode(self, _stream):
        for i, rgb in enumerate(self.frames):
            fr = self.av.VideoFrame.from_ndarray(rgb, format="rgb24")
            fr.pts = 5_000_000 + i * 40_000  # a camera's clock starts anywhere
            yield fr
        raise OSError(5, "Input/output error")

    def close(self) -> None:
        pass


def test_camera_disconnect_keeps_a_signed_recording(clip, swapper, models, tmp_path,
                                                    monkeypatch, caplog):
    from retake.video import live as live_mod

    frames = [f.rgb for f, _ in zip(read_frames(clip), range(10), strict=False)]
    monkeypatch.setattr(live_mod, "_open_source", lambda s: (_Fake(frames), True))
    out = tmp_path / "cam.mp4"
    res = live_mod.run_live("v4l2:/dev/video9", swapper, models, record=out,
                            realtime=False, workers=1)
    assert res.ended == "disconnected"
    assert len(_pts(out)) == 10 and _pts(out)[0] == pytest.approx(0, abs=1e-3)
    assert verify(out).intact
    assert any("stopped cleanly" in r.getMessage() for r in caplog.records)


def _main(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    """Run the `retake` entry point in-process; (exit code, stderr)."""
    from retake.ui import cli
    from retake.ui.cli_live import register

    if not any(c.name == "live" for c in cli.app.registered_commands):
        register(cli.app)
    monkeypatch.setattr(sys, "argv", ["retake", *args])
    monkeypatch.setenv("COLUMNS", "300")
    with pytest.raises(SystemExit) as exc:
        cli.main()
    return exc.value.code, capsys.readouterr().err


def test_cli_missing_input_is_one_error_line(monkeypatch, capsys, tmp_path):
    code, err = _main(monkeypatch, capsys, "live", "--source", str(tmp_path / "p.jpg"),
                      "--input", str(tmp_path / "missing.mp4"), "--record",
                      str(tmp_path / "o.mp4"), "--consent")
    assert code == 1
    assert err.strip().count("\n") == 0 and "missing.mp4: no such file" in err


def test_cli_live_input_records_a_labelled_signed_swap(clip, monkeypatch, capsys, tmp_path):
    """`retake live --input CLIP --record OUT --no-realtime --consent`, end to end."""
    out = tmp_path / "o.mp4"
    code, err = _main(monkeypatch, capsys, "live", "--source",
                      str(media("faces", "obama.jpg")), "--input", str(clip), "--record",
                      str(out), "--no-realtime", "--consent")
    assert code == 0, err
    assert f"{CLIP_FRAMES} frames out, {CLIP_FRAMES} swapped, 0 dropped" in err
    assert "Labelled as synthetic media" in err
    assert _pts(out) == pytest.approx(_pts(clip), abs=1e-3)
    v = verify(out)
    assert v.intact and v.consent is not None


def test_cli_missing_camera_is_one_error_line(monkeypatch, capsys, tmp_path):
    code, err = _main(monkeypatch, capsys, "live", "--source",
                      str(media("faces", "obama.jpg")), "--camera", "/dev/video97",
                      "--record", str(tmp_path / "o.mp4"), "--consent")
    assert code == 1 and err.strip().count("\n") == 0
    assert "/dev/video97: the camera could not be opened" in err
    assert not (tmp_path / "o.mp4").exists()


def test_cli_refuses_without_consent(clip, monkeypatch, capsys, tmp_path):
    code, err = _main(monkeypatch, capsys, "live", "--source",
                      str(media("faces", "obama.jpg")), "--input", str(clip), "--record",
                      str(tmp_path / "o.mp4"))
    assert code == 1 and "consent" in err and err.strip().count("\n") == 0
    assert not (tmp_path / "o.mp4").exists()


def test_one_euro_still_signal_stays_still():
    rng = np.random.default_rng(7)
    f = OneEuro(min_cutoff=1.5, beta=0.8)
    raw = 10 + rng.normal(0, 0.02, 200)
    out = np.array([f(np.array([x]), i / 25)[0] for i, x in enumerate(raw)])
    assert np.std(np.diff(out[25:])) < 0.3 * np.std(np.diff(raw[25:]))


def test_one_euro_follows_a_step_within_a_few_frames():
    f = OneEuro(min_cutoff=1.5, beta=0.8)
    sig = np.r_[np.zeros(30), np.ones(30)]
    out = np.array([f(np.array([x]), i / 25)[0] for i, x in enumerate(sig)])
    assert out[29] == 0
    assert out[30 + 4] > 0.9  # within 4 frames (160 ms) of a one-unit jump


def test_a_near_face_is_swapped_at_a_capped_scale(clip, swapper, models):
    """A face wider than `max_iod` is rendered and merged at that size and laid back scaled
    up: the face still changes like a full-size swap, the frame beyond it is untouched."""
    import cv2

    from retake.video.geometry import inter_ocular
    from retake.video.live import LiveSwap

    rgb = next(iter(read_frames(clip))).rgb
    big = cv2.resize(rgb, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_CUBIC)
    outs = {}
    for cap in (None, 60.0):
        live = LiveSwap(swapper, models, label=False, max_iod=cap)
        _, lms = live.track(big, 0.0)
        assert lms is not None and inter_ocular(lms) > 60
        outs[cap], _ = live.compose(big, lms)
    full, scaled = outs[None].astype(float), outs[60.0].astype(float)
    face = (slice(int(lms[:, 1].min()), int(lms[:, 1].max())),
            slice(int(lms[:, 0].min()), int(lms[:, 0].max())))
    moved = np.abs(full[face] - big[face]).mean()
    assert moved > 8  # the swap changed the face...
    assert np.abs(scaled[face] - full[face]).mean() < 0.35 * moved  # ...and so did this one
    assert np.array_equal(outs[60.0][:40], big[:40])  # the top of the frame is untouched
