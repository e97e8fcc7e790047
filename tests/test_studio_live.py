"""The studio's Live tab (issue 16): headless Chromium's fake camera plays a talking clip,
the frames stream to the studio, swapped frames (labelled) come back with the rate shown."""

from __future__ import annotations

import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from conftest import media
from studio_tools import CHROMIUM, CHROMIUM_ARGS, studio_server

warnings.filterwarnings("ignore")


def _y4m(clip: Path, out: Path, seconds: float = 3.0) -> Path:
    """The clip's first seconds as the raw Y4M file Chromium's fake camera plays."""
    import av

    with av.open(str(clip)) as src, av.open(str(out), "w", format="yuv4mpegpipe") as dst:
        vin = src.streams.video[0]
        rate = Fraction(25)
        vout = dst.add_stream("rawvideo", rate=rate)
        vout.width, vout.height, vout.pix_fmt = 640, 480, "yuv420p"
        for k, frame in enumerate(src.decode(vin)):
            if k >= seconds * 25:
                break
            img = frame.to_ndarray(format="rgb24")
            h, w = img.shape[:2]
            side = min(h, w * 3 // 4)  # centre crop to 4:3, then scale
            y0, x0 = (h - side) // 2, (w - side * 4 // 3) // 2
            crop = np.ascontiguousarray(img[y0:y0 + side, x0:x0 + side * 4 // 3])
            f = av.VideoFrame.from_ndarray(crop, format="rgb24").reformat(640, 480, "yuv420p")
            for p in vout.encode(f):
                dst.mux(p)
        for p in vout.encode():
            dst.mux(p)
    return out


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from studio_server(tmp_path_factory)


@pytest.mark.browser
def test_live_tab_swaps_the_camera_and_shows_the_rate(server, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    clip = media("video", "WDA_KatieHill_000.mp4")
    photo = media("faces", "obama.jpg")
    cam = _y4m(clip, tmp_path / "cam.y4m")
    url, _ = server
    args = CHROMIUM_ARGS + ["--use-fake-device-for-media-stream",
                            "--use-fake-ui-for-media-stream",
                            f"--use-file-for-fake-video-capture={cam}"]
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=args)
        ctx = b.new_context(viewport={"width": 1280, "height": 1400},
                            permissions=["camera"])
        page = ctx.new_page()
        page.goto(url)
        page.get_by_role("tab", name="Live").click()
        page.locator("#live-photo input[type=file]").set_input_files(str(photo))
        page.locator("#live-photo img").first.wait_for(timeout=30000)
        # without consent nothing is swapped
        page.locator("#live-cam").get_by_text("Click to Access Webcam").click()
        page.locator("#live-cam").get_by_text("Record").first.click()
        page.locator("#live-stats").get_by_text("consent").wait_for(timeout=30000)
        page.locator("#consent input[type=checkbox]").check()
        page.locator("#live-stats").get_by_text("fps").wait_for(timeout=60000)
        page.wait_for_function(
            "() => [...document.querySelectorAll('#live-out img')].some(i => i.naturalWidth > 0)",
            timeout=30000)
        page.wait_for_timeout(4000)
        stats = page.locator("#live-stats").inner_text()
        fps = float(stats.split("fps")[0].split()[-1])
        assert fps > 0.5, stats
        assert "swapped" in stats and "GENERATED" in stats, stats
        b.close()
