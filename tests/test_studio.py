"""The studio in a real browser: headless Debian Chromium driven by Playwright.

Voice: upload a generated recording, wait for the draft transcript, correct it, align,
change a word, render, download the wav and check by re-aligning that it says the new text.
Face: swap a face on a still image. A failing test leaves a screenshot in test-artifacts/.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from studio_tools import CHROMIUM, browser_page, chromium_browser, spoken, studio_server

warnings.filterwarnings("ignore")

SAID = "The meeting starts on Friday morning. Please bring the report and your laptop."
NEW = "The meeting starts on Monday morning. Please bring the report and your laptop."

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="chromium is not installed (make test installs it)")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from studio_server(tmp_path_factory)


@pytest.fixture(scope="module")
def browser():
    yield from chromium_browser()


@pytest.fixture
def page(browser, request):
    yield from browser_page(browser, request)


def _speech(path: Path) -> Path:
    return spoken(path, SAID)


def _download(page, selector: str, suffix: str, dest: Path) -> Path:
    """Fetch a file the page offers (by its link) the way a user's download would."""
    link = page.locator(f"{selector} a[href$='{suffix}']").first
    link.wait_for(timeout=60000)
    href = link.get_attribute("href")
    url = href if href.startswith("http") else page.url.rstrip("/") + "/" + href.lstrip("/")
    resp = page.request.get(url)
    assert resp.ok, (url, resp.status)
    dest.write_bytes(resp.body())
    return dest


def test_voice_edit_in_the_browser(server, page, tmp_path: Path) -> None:
    from retake.align import align, load_audio

    url, _ = server
    page.goto(url)
    page.locator("#speech-in input[type=file]").set_input_files(str(_speech(tmp_path /
                                                                         "memo.wav")))
    page.locator("#analyse").click()
    transcript = page.locator("#transcript textarea")
    page.wait_for_function("() => document.querySelector('#transcript textarea').value "
                           "!== ''", timeout=120000)
    assert "friday" in transcript.input_value().lower()  # the recogniser's draft
    transcript.fill(SAID)  # the user corrects the draft ...
    page.locator("#analyse").click()  # ... and aligns again
    page.wait_for_function("() => document.querySelector('#new-text textarea').value === "
                           f"{SAID!r}", timeout=120000)
    page.locator("#voice-status").get_by_text("words aligned").wait_for(timeout=120000)
    page.locator("#new-text textarea").fill(NEW)
    page.locator("#render").click()  # refused: consent not confirmed yet
    page.get_by_text("consent box").first.wait_for(timeout=30000)
    page.locator("#consent input[type=checkbox]").check()
    page.locator("#render").click()
    page.locator("#voice-result").get_by_text("GENERATED").wait_for(timeout=180000)
    wav = _download(page, "#voice-files", ".wav", tmp_path / "edited.wav")
    srt = _download(page, "#voice-files", ".srt", tmp_path / "edited.srt")
    assert "Monday" in srt.read_text() or "monday" in srt.read_text().lower()
    al = align(load_audio(wav), NEW)
    word = next(w for w in al.words if w.text.lower() == "monday")
    assert word.aligned and word.confidence > 0.3
    assert not al.unaligned
    from retake.awareness.provenance import verify

    v = verify(wav)
    assert v.state == "Trusted" and v.consent and v.synthetic_spans


def test_face_swap_on_a_still_image(server, page, tmp_path: Path) -> None:
    import skimage.data
    from PIL import Image

    from retake.video.faces import FaceModels
    from retake.video.media import read_image

    url, _ = server
    target = tmp_path / "target.png"
    Image.fromarray(skimage.data.astronaut()).save(target)
    source = tmp_path / "source.png"
    src = np.ascontiguousarray(skimage.data.astronaut()[:, ::-1])
    src = np.clip(src.astype(np.float32) * [1.1, 0.9, 0.85], 0, 255).astype(np.uint8)
    Image.fromarray(src).save(source)
    page.goto(url)
    page.get_by_role("tab", name="Face").click()
    page.locator("#source-photo input[type=file]").set_input_files(str(source))
    page.locator("#target-file input[type=file]").set_input_files(str(target))
    page.locator("#consent input[type=checkbox]").check()
    page.locator("#swap").click()
    page.locator("#swap-result").get_by_text("GENERATED").wait_for(timeout=120000)
    out = _download(page, "#swap-file", ".png", tmp_path / "swapped.png")
    before, after = read_image(target), read_image(out)
    assert after.shape == before.shape
    models = FaceModels()
    lms = models.landmarks(before, models.detect(before)[0])
    x0, y0 = lms.min(0).astype(int)
    x1, y1 = lms.max(0).astype(int)
    face_change = np.abs(after[y0:y1, x0:x1].astype(int) - before[y0:y1, x0:x1]).mean()
    corner_change = np.abs(after[:60, :60].astype(int) - before[:60, :60]).mean()
    assert face_change > 3 and corner_change < 1


def test_server_serves_nothing_outside_its_folders(server) -> None:
    import urllib.error
    import urllib.request

    url, studio = server
    for path in ("/etc/passwd", str(Path(__file__).resolve()), f"{studio.root}/../x"):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{url}/gradio_api/file={path}")
        assert err.value.code in (403, 404)
