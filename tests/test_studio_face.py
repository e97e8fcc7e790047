"""The Face tab's target preview: a frame slider, a look at any frame, and a face picker.

On generated media: a clip whose frames are numbered by their grey level, and two faces
(skimage's astronaut and her mirror image, a look-alike: one person to dlib) side by side,
the second smaller. Picking face 2 must swap face 2 only, in a still, in the one-frame
preview and through a video; the consent gate stays as it is. Server-side checks call the
Studio directly; one test drives the page in headless Debian Chromium.
"""

from __future__ import annotations

import warnings
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from media_tools import place_face
from studio_tools import CHROMIUM, browser_page, chromium_browser, studio_server

warnings.filterwarnings("ignore")
browser_only = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                  reason="chromium is not installed (make test installs it)")
ME = SimpleNamespace(session_hash="me")


@pytest.fixture(scope="module")
def faces():
    """The astronaut and her mirror image, with each one's face box."""
    import skimage.data

    from retake.video.faces import FaceModels

    models = FaceModels()
    a = skimage.data.astronaut()
    b = np.ascontiguousarray(a[:, ::-1])
    return [(a, models.detect(a, full=True)[0]), (b, models.detect(b, full=True)[0])]


def _two_faces(faces, shift: int = 0) -> tuple[np.ndarray, list[np.ndarray]]:
    """A 640x320 frame: face 1 130 px wide on the left, face 2 110 px on the right (both
    big enough for the tracker's fast pass); `shift` moves them toward each other."""
    canvas = np.full((320, 640, 3), 128, np.uint8)
    boxes = [place_face(canvas, *faces[0], 130, (180 + shift, 160)),
             place_face(canvas, *faces[1], 110, (474 - shift, 165))]
    return canvas, boxes


def _still(tmp_path: Path, faces) -> tuple[Path, list[np.ndarray], np.ndarray]:
    from PIL import Image

    canvas, boxes = _two_faces(faces)
    path = tmp_path / "two people.png"
    Image.fromarray(canvas).save(path)
    return path, boxes, canvas


def _clip(tmp_path: Path, faces, n: int = 6) -> tuple[Path, list[list[np.ndarray]]]:
    """The two faces drifting 3 px a frame for `n` frames at 25 fps; each frame's boxes."""
    from retake.video.media import VideoWriter

    path, boxes = tmp_path / "two people.mp4", []
    with VideoWriter(path, Fraction(25), 640, 320) as w:
        for k in range(n):
            canvas, b = _two_faces(faces, 3 * k)
            w.write(canvas)
            boxes.append(b)
    return path, boxes


def _source(tmp_path: Path) -> Path:
    """A source face unlike both (the astronaut mirrored, red and blue swapped)."""
    import skimage.data
    from PIL import Image

    path = tmp_path / "source.png"
    Image.fromarray(np.ascontiguousarray(skimage.data.astronaut()[:, ::-1, ::-1])).save(path)
    return path


def _change(before: np.ndarray, after: np.ndarray, box: np.ndarray) -> float:
    """Mean absolute change of the pixels inside a box."""
    x0, y0, x1, y1 = (int(v) for v in box)
    return float(np.abs(after[y0:y1, x0:x1].astype(int) - before[y0:y1, x0:x1]).mean())


# ------------------------------------------------------------------ server side
def test_the_frame_at_a_time_is_that_frame(tmp_path: Path) -> None:
    from PIL import Image

    from retake.ui.face_pick import frame_at, timeline
    from retake.video.media import VideoWriter

    clip = tmp_path / "grey.mp4"
    with VideoWriter(clip, Fraction(25), 64, 48) as w:
        for k in range(50):
            w.write(np.full((48, 64, 3), 5 * k, np.uint8))
    assert timeline(clip) == pytest.approx((1.96, 0.04))
    for t in (0.0, 0.4, 1.0, 1.52, 1.96):
        rgb, at = frame_at(clip, t)
        assert at == pytest.approx(t, abs=1e-6)
        assert abs(rgb.mean() - 5 * round(t * 25)) < 3, (t, rgb.mean())
    assert frame_at(clip, 9.0)[1] == pytest.approx(1.96)  # past the end: the last frame
    still = tmp_path / "still.png"
    Image.fromarray(np.full((20, 30, 3), 77, np.uint8)).save(still)
    rgb, at = frame_at(still, 3.0)
    assert rgb.shape == (20, 30, 3) and at == 0 and timeline(still) == (0, 0)


def test_two_faces_give_two_choices_and_the_picked_one_is_swapped(tmp_path: Path,
                                                                  faces) -> None:
    from PIL import Image

    from retake.awareness.consent import ConsentError
    from retake.ui.studio import Studio

    studio = Studio(tmp_path / "root")
    target, boxes, before = _still(tmp_path, faces)
    source = _source(tmp_path)
    still, length, _, labels, note = studio.look(str(target), 0.0, ME)
    assert labels == ["Face 1 (largest)", "Face 2"] and length == 0 and "2 face(s)" in note
    assert Image.open(still).size == (640, 320)
    with pytest.raises(ConsentError, match="consent box"):  # the gate, picked face or not
        studio.preview_swap(str(source), "", str(target), ME, face="Face 2")
    folder = studio.session(ME).folder
    assert not list(folder.glob("preview-*"))
    out = studio.preview_swap(str(source), "", str(target), ME, True, face="Face 2")
    after = np.asarray(Image.open(out).convert("RGB"))
    assert _change(before, after, boxes[1]) > 10, "the picked face is swapped"
    assert _change(before, after, boxes[0]) < 1, "the other face is left alone"
    img, _, _, note = studio.run_swap(str(source), "", str(target), ME, agreed=True,
                                      face="Face 2")
    after = np.asarray(Image.open(img).convert("RGB"))
    assert _change(before, after, boxes[1]) > 10 and _change(before, after, boxes[0]) < 1
    out = studio.preview_swap(str(source), "", str(target), ME, True)  # none picked: largest
    after = np.asarray(Image.open(out).convert("RGB"))
    assert _change(before, after, boxes[0]) > 10 and _change(before, after, boxes[1]) < 1


def test_the_picked_face_is_followed_through_a_video(tmp_path: Path, faces) -> None:
    from PIL import Image

    from retake.ui.studio import Studio
    from retake.video.media import read_frames

    studio = Studio(tmp_path / "root")
    clip, boxes = _clip(tmp_path, faces)
    source = _source(tmp_path)
    still, length, step, labels, note = studio.look(str(clip), 0.12, ME)
    assert (length, step) == pytest.approx((0.2, 0.04)) and len(labels) == 2
    assert "Frame at 0.12 s" in note and Image.open(still).size == (640, 320)
    out = studio.preview_swap(str(source), "", str(clip), ME, True, at=0.12, face="Face 2")
    frame3 = next(f.rgb for f in read_frames(clip) if f.index == 3)
    after = np.asarray(Image.open(out).convert("RGB"))
    assert _change(frame3, after, boxes[3][1]) > 10 and _change(frame3, after, boxes[3][0]) < 1
    _, video, _, note = studio.run_swap(str(source), "", str(clip), ME, agreed=True, at=0.12,
                                        face="Face 2")
    assert "6/6 frames swapped" in note
    pairs = zip(read_frames(clip), read_frames(video), boxes, strict=True)
    for a, b, (big, small) in pairs:
        # Face 2 in every frame; face 1, the same person to dlib, only re-encoded.
        assert _change(a.rgb, b.rgb, small) > 10, a.index
        assert _change(a.rgb, b.rgb, big) < 3, a.index


def test_a_face_with_no_track_is_said_in_plain_words(tmp_path: Path, faces) -> None:
    from retake.core.errors import FaceError
    from retake.ui.face_pick import picked_box, track_at, track_like
    from retake.video.track import FaceTrack

    with pytest.raises(FaceError, match="no face found in clip.mp4 at 1.50 s; move the"):
        picked_box([], 1, "clip.mp4", 1.5)
    with pytest.raises(FaceError, match="shows 1 face"):
        picked_box([np.array([0, 0, 9, 9])], 2, "clip.mp4", 1.5)
    me, other = np.zeros(128, np.float32), np.full(128, 0.1, np.float32)  # 1.13 apart
    here = FaceTrack(0, [0, 1], [0.0, 0.04], [np.array([0, 0, 100, 100])] * 2)
    here.embeddings[0] = me
    later = FaceTrack(1, [9], [0.36], [np.array([300, 0, 400, 100])])
    later.embeddings[9] = me
    stranger = FaceTrack(2, [9], [0.36], [np.array([300, 0, 400, 100])])
    stranger.embeddings[9] = other
    box = np.array([300.0, 0, 400, 100])
    assert track_at([here, later], 0.04, np.array([5.0, 5, 95, 95]), 0.04) is here
    assert track_at([here, later], 0.04, box, 0.04) is None  # nothing there then
    # Lost where it was picked: the same person elsewhere, never a face present there.
    assert track_like([here, later, stranger], me, 0.04, 0.04) is later
    assert track_like([here, stranger], me, 0.04, 0.04) is None


# ------------------------------------------------------------------ in the browser
@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from studio_server(tmp_path_factory)


@pytest.fixture(scope="module")
def browser():
    yield from chromium_browser()


@pytest.fixture
def page(browser, request):
    yield from browser_page(browser, request)


@pytest.mark.browser
@browser_only
def test_pick_a_frame_and_a_face_then_preview(server, page, tmp_path: Path, faces) -> None:
    from PIL import Image

    from retake.video.media import read_frames

    url, studio = server
    clip, boxes = _clip(tmp_path, faces)
    page.goto(url)
    page.get_by_role("tab", name="Face").click()
    page.locator("#target-file input[type=file]").set_input_files(str(clip))
    page.locator("#frame-note").get_by_text("Frame at 0.00 s: 2 face(s)").wait_for(
        timeout=60000)
    page.locator("#target-still img").wait_for(timeout=30000)
    slider = page.locator("#frame-slider input[type=number]")
    slider.fill("0.12")
    slider.press("Enter")
    slider.blur()
    page.locator("#frame-note").get_by_text("Frame at 0.12 s").wait_for(timeout=60000)
    page.locator("#face-pick").get_by_text("Face 2").click()
    page.locator("#source-photo input[type=file]").set_input_files(str(_source(tmp_path)))
    page.locator("#preview").click()  # no consent: refused, as before
    page.locator(".toast-body").get_by_text("consent box").wait_for(timeout=60000)
    assert page.locator("#preview-image img").count() == 0
    assert not list(studio.root.rglob("preview-out*"))
    page.locator("#consent input[type=checkbox]").check()
    page.locator("#preview").click()
    page.locator("#preview-image img").wait_for(timeout=120000)
    outs = [p for p in studio.root.rglob("preview-out.png") if "gradio-cache" not in p.parts]
    assert len(outs) == 1  # the session's own (its copy for the page is in the cache)
    shown = np.asarray(Image.open(outs[0].parent / "preview-in.png").convert("RGB"))
    frames = [f.rgb.astype(int) for f in read_frames(clip)]
    assert int(np.argmin([np.abs(f - shown).mean() for f in frames])) == 3  # the slider's
    after = np.asarray(Image.open(outs[0]).convert("RGB"))
    big, small = boxes[3]
    assert _change(shown, after, small) > 10 and _change(shown, after, big) < 1  # face 2
