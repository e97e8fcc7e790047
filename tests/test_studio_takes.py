"""Hear before you commit (issue 15): each edit with 2 s of context, original and edited,
and "use this take", which re-renders the edit with the chosen take (in the browser)."""

from __future__ import annotations

import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from studio_tools import browser_page, chromium_browser, spoken, studio_server

warnings.filterwarnings("ignore")

SAID = "The meeting starts on Friday morning. Please bring the report and your laptop."
NEW = "The meeting starts on Monday morning. Please bring the report and your laptop."

def test_take_choices_and_the_original_span() -> None:
    from retake.ui.hear import (
        Heard,
        Rendered,
        original_span,
        take_choices,
        take_number,
        takes_used,
    )
    from retake.voice.timemap import TimeMap

    h = Heard("1: replace “monday” at 1.00 s", "monday", "o.wav", "e.wav", 0,
              {1: "", 2: "t2.wav", 3: "t3.wav"}, placed=2)
    assert take_choices(h) == ["take 1", "take 2 (in the output)", "take 3"]
    assert take_number("take 2 (in the output)") == 2 and take_number(None) is None
    assert takes_used(Rendered("x", 3, [1], [h])) == "Takes used: edit 1 “monday”: take 2 of 3"
    # "friday" (1.0-1.5 s of the original) became 0.4 s of new words at 1.0-1.4 s; a cut
    # of 2.0-2.5 s (original) at 1.9 s (edited)
    tm = TimeMap([(0, 0), (1.0, 1.0), (1.5, 1.4), (2.0, 1.9), (2.5, 1.9), (4.0, 3.4)])
    result = SimpleNamespace(timemap=tm)
    assert original_span(result, 1.0, 1.4) == (1.0, 1.5)
    assert original_span(result, 1.9, 1.9) == (2.0, 2.5)


def _speech(path: Path) -> Path:
    return spoken(path, SAID)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from studio_server(tmp_path_factory)


@pytest.fixture
def page(request):
    for browser in chromium_browser():
        yield from browser_page(browser, request)


def _fetch(page, url: str, link, dest: Path) -> Path:
    href = link.get_attribute("href")
    href = href if href.startswith("http") else url + "/" + href.lstrip("/")
    resp = page.request.get(href)
    assert resp.ok, (href, resp.status)
    dest.write_bytes(resp.body())
    return dest


def _edited_wav(page, url: str, dest: Path, name: str) -> Path:
    """The edited wav the export list offers (`name`, e.g. edited-2.wav)."""
    link = page.locator(f"#voice-files a[href$='/{name}']").first
    link.wait_for(timeout=60000)
    return _fetch(page, url, link, dest)


def test_use_this_take_and_context_clips(server, page, tmp_path: Path) -> None:
    """Every edit can be heard with 2 s of context, original and edited; choosing take 2
    re-renders: the output changes, its report says take 2, and it is signed and marked."""
    import soundfile as sf

    from retake.awareness.provenance import verify
    from retake.awareness.watermark import detect

    url, _ = server
    page.goto(url)
    page.locator("#speech-in input[type=file]").set_input_files(str(_speech(tmp_path /
                                                                         "memo.wav")))
    page.locator("#transcript textarea").fill(SAID)
    page.locator("#analyse").click()
    page.locator("#voice-status").get_by_text("words aligned").wait_for(timeout=180000)
    page.locator("#new-text textarea").fill(NEW)
    page.locator("#takes input[type=number]").fill("3")
    page.locator("#takes input[type=number]").press("Enter")
    page.locator("#consent input[type=checkbox]").check()
    page.locator("#render").click()
    page.locator("#voice-result").get_by_text("take 1 of 3").wait_for(timeout=240000)
    before = _edited_wav(page, url, tmp_path / "before.wav", "edited-1.wav")

    # the context clips: an original and an edited one for each edit of the table
    n_edits = page.locator("#edits-table tbody tr").count()
    assert n_edits >= 1
    clips = page.locator("#voice-context a[href$='.wav']")
    clips.nth(2 * n_edits - 1).wait_for(timeout=60000)
    names = [a.get_attribute("href").rsplit("/", 1)[-1] for a in clips.all()]
    for i in range(1, n_edits + 1):
        assert f"edited-1-edit{i}-original.wav" in names, names
        assert f"edited-1-edit{i}-edited.wav" in names, names
    assert page.locator("#ctx-original audio").count() or \
        page.locator("#ctx-original").get_by_text("±2 s").count()
    ctx = _fetch(page, url, page.locator("#voice-context a[href$='-edited.wav']").first,
                 tmp_path / "ctx.wav")
    v = verify(ctx)
    assert v.state == "Trusted" and v.consent and v.synthetic_spans, v.summary()
    x, sr = sf.read(str(ctx), dtype="float32")
    assert len(x) / sr <= 4.0 + 1.0 + 1e-3  # the new words and 2 s either side
    assert [d for d in detect(x, sr) if d.payload is not None], "the clip lost the mark"

    # choose take 2 and use it
    page.locator("#take-pick label", has_text="take 2").first.click()
    page.locator("#use-take").click()
    page.locator("#voice-result").get_by_text("take 2 of 3").wait_for(timeout=240000)
    after = _edited_wav(page, url, tmp_path / "after.wav", "edited-2.wav")
    a, _ = sf.read(str(before), dtype="float32")
    b, _ = sf.read(str(after), dtype="float32")
    n = min(len(a), len(b))
    assert len(a) != len(b) or float(np.abs(a[:n] - b[:n]).max()) > 1e-3, \
        "the output with take 2 sounds the same as with take 1"
    v = verify(after)
    assert v.state == "Trusted" and v.consent and v.synthetic_spans, v.summary()
    assert [d for d in detect(b, sr) if d.payload is not None]
    report = page.locator("#voice-files a[href$='edited-2.report.json']")
    assert report.count(), "the re-rendered output has its report"
    assert page.locator("#take-pick label", has_text="take 2 (in the output)").count()
    assert not page.locator(".toast-body.error").count()
