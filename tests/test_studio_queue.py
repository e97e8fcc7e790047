"""One user's job no longer blocks every other user with no word (issue 15).

Models are held by stage (voice, face): an alignment runs while another session's face swap
runs; a second job of a busy stage waits in line and says how many jobs are ahead of it and
about how long. Measured with the stage locks alone, with the Studio, and with two browser
contexts at once.
"""

from __future__ import annotations

import contextlib
import threading
import time
import warnings
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from studio_tools import ARTIFACTS, chromium_browser, spoken, studio_server

warnings.filterwarnings("ignore")

SAID = "The meeting starts on Friday morning. Please bring the report and your laptop."


def test_stages_run_apart_and_a_waiting_job_knows_its_place() -> None:
    from retake.ui.stages import Stages

    stages = Stages()
    face_started, release = threading.Event(), threading.Event()
    said: list[str] = []
    order: list[str] = []

    def swap() -> None:
        with stages.hold(("face",), "swap"):
            face_started.set()
            stages.locks["face"].progress(0.5)
            release.wait(10)
            order.append("swap")

    def second_swap() -> None:
        with stages.hold(("face",), "swap", said.append):
            order.append("second swap")

    a = threading.Thread(target=swap)
    a.start()
    assert face_started.wait(5)
    t0 = time.monotonic()
    with stages.hold(("voice",), "analyse"):  # not behind the swap
        order.append("analyse")
    assert time.monotonic() - t0 < 0.5
    b = threading.Thread(target=second_swap)
    b.start()
    deadline = time.monotonic() + 5
    while not said and time.monotonic() < deadline:
        time.sleep(0.05)
    assert said and "1 job ahead of you" in said[0] and "face models" in said[0], said
    assert "about" in said[0] and " s" in said[0]
    release.set()
    a.join(5)
    b.join(5)
    assert order == ["analyse", "swap", "second swap"]


def test_cancel_takes_a_waiting_job_out_of_the_line() -> None:
    from retake.ui.stages import Stages

    stages = Stages()
    release, holding = threading.Event(), threading.Event()
    cancel = threading.Event()

    def first() -> None:
        with stages.hold(("voice",), "analyse"):
            holding.set()
            release.wait(10)

    t = threading.Thread(target=first)
    t.start()
    assert holding.wait(5)
    cancel.set()
    with pytest.raises(InterruptedError), stages.hold(("voice", "face"), "dub",
                                                      cancelled=cancel.is_set):
        pass
    assert not stages.locks["voice"].line  # left the line
    assert stages.locks["face"].running is None  # a dub takes voice first, face after
    release.set()
    t.join(5)
    with stages.hold(("voice", "face"), "dub"):
        assert stages.locks["voice"].running and stages.locks["face"].running


def _speech(path: Path) -> Path:
    return spoken(path, SAID)


def _clip(path: Path, n: int) -> Path:
    import skimage.data

    from retake.video.media import VideoWriter

    img = skimage.data.astronaut()
    with VideoWriter(path, Fraction(25), 512, 512) as w:
        for i in range(n):
            w.write(np.roll(img, i, axis=1))
    return path


def _source(tmp_path: Path) -> Path:
    import skimage.data
    from PIL import Image

    src = tmp_path / "src.png"
    Image.fromarray(np.ascontiguousarray(skimage.data.astronaut()[:, ::-1])).save(src)
    return src


def test_an_alignment_does_not_wait_for_another_sessions_swap(tmp_path: Path) -> None:
    from retake.ui.studio import Cancelled, Studio

    studio = Studio(tmp_path / "root")
    them, me = SimpleNamespace(session_hash="them"), SimpleNamespace(session_hash="me")
    ticks: list[float] = []
    errors: list[BaseException] = []

    def swap() -> None:
        try:
            studio.run_swap(str(_source(tmp_path)), "", str(_clip(tmp_path / "t.mp4", 400)),
                            them, lambda *a, **k: ticks.append(time.monotonic()),
                            agreed=True)
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            errors.append(exc)

    t = threading.Thread(target=swap)
    t.start()
    while len(ticks) < 3 and t.is_alive():
        time.sleep(0.05)
    assert t.is_alive(), errors
    said: list[str] = []
    studio.analyse(str(_speech(tmp_path / "memo.wav")), None, SAID, me,
                   lambda *a, desc=None, **k: said.append(desc or ""))
    swap_still_running = t.is_alive()
    studio.cancel(them)
    t.join(120)
    assert swap_still_running, "the alignment finished only after the swap"
    assert not [d for d in said if "In line" in d], said
    assert not errors or isinstance(errors[0], Cancelled)


# ------------------------------------------------------------------ two browsers at once
@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from studio_server(tmp_path_factory)


@pytest.fixture(scope="module")
def browser():
    yield from chromium_browser()


def _start_swap(browser, url: str, source: Path, clip: Path):
    ctx = browser.new_context(viewport={"width": 1280, "height": 1800})
    page = ctx.new_page()
    page.goto(url)
    page.get_by_role("tab", name="Face").click()
    page.locator("#source-photo input[type=file]").set_input_files(str(source))
    page.locator("#target-file input[type=file]").set_input_files(str(clip))
    page.locator("#consent input[type=checkbox]").check()
    page.locator("#swap").click()
    return ctx, page


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_two_browsers_at_once(server, browser, tmp_path: Path) -> None:
    """A swap runs in one browser; a second browser's swap waits in line and shows its place
    and an estimate; a third browser's alignment starts and ends while the first swap runs."""
    url, _ = server
    source, clip = _source(tmp_path), _clip(tmp_path / "long.mp4", 600)
    first, page_a = _start_swap(browser, url, source, clip)
    contexts = [first]
    try:
        page_a.locator(".progress-text, .eta-bar, .progress-level").first.wait_for(
            timeout=60000)
        second, page_b = _start_swap(browser, url, source, clip)
        contexts.append(second)
        line = page_b.get_by_text("ahead of you").first
        line.wait_for(timeout=60000)
        words = line.inner_text()
        _shot(page_b, "queue-position")
        assert "1 job ahead of you" in words and "about" in words, words
        third = browser.new_context(viewport={"width": 1280, "height": 1800})
        contexts.append(third)
        page_c = third.new_page()
        page_c.goto(url)
        page_c.locator("#speech-in input[type=file]").set_input_files(
            str(_speech(tmp_path / "memo.wav")))
        page_c.locator("#transcript textarea").fill(SAID)
        t0 = time.monotonic()
        page_c.locator("#analyse").click()
        page_c.locator("#voice-status").get_by_text("words aligned").wait_for(timeout=120000)
        aligned_in = time.monotonic() - t0
        assert "GENERATED" not in page_a.locator("#swap-result").inner_text(), \
            "the alignment waited for the other browser's swap"
        assert page_b.get_by_text("ahead of you").count(), "the queued swap started early"
        print(f"alignment beside a running swap: {aligned_in:.1f} s; queue: {words}")
    finally:  # stop both swaps: nothing keeps running after the test
        for ctx in contexts:
            for pg in ctx.pages:
                with contextlib.suppress(Exception):
                    pg.get_by_role("button", name="Cancel").locator("visible=true").first \
                        .click(timeout=5000)
        for ctx in contexts:
            ctx.close()
