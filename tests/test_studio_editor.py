"""The transcript is the editor (issue 15): click a word to play from it, select words and
type over them, see the engine's pending edits inline, render, hear original / edited,
correct a word's boundary, undo, and reload the page without losing the project."""

from __future__ import annotations

import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
from studio_tools import browser_page, chromium_browser, spoken, studio_server

warnings.filterwarnings("ignore")

SAID = "The meeting starts on Friday morning. Please bring the report and your laptop."


def _speech(path: Path) -> Path:
    return spoken(path, SAID)


def test_boundaries_undo_and_projects_on_the_server(tmp_path: Path) -> None:
    """A dragged word edge moves the word (and its neighbour gives way); undo and redo walk
    the text's changes; a second recording is a second project and the first stays."""
    from retake.ui.studio import Studio

    studio = Studio(tmp_path / "root")
    me = SimpleNamespace(session_hash="me")
    wav = _speech(tmp_path / "memo.wav")
    studio.analyse(str(wav), None, SAID, me)
    s = studio.session(me)
    words = s.recording.alignment.words
    k = next(i for i, w in enumerate(words) if w.text == "Friday")
    old = (words[k].start, words[k].end)
    res = studio.set_bounds({"i": k, "s": old[0] - 0.05, "e": old[1] + 0.02}, me)
    assert str(k) in res["words"] and "Friday" in res["note"]
    assert words[k].start == pytest.approx(old[0] - 0.05)
    assert words[k - 1].end <= words[k].start + 1e-9  # "on" gave way
    assert words[k].phones[0].start == pytest.approx(words[k].start)
    assert words[k].phones[-1].end == pytest.approx(words[k].end)

    new = SAID.replace("Friday", "Monday")
    segs = studio.pending(new, me)
    assert [x["text"].strip() for x in segs if x["kind"] == "delete"] == ["Friday"]
    studio.pending(new.replace("laptop", "notes"), me)
    assert studio.undo(True, me)[0] == new
    assert studio.undo(True, me)[0] == SAID
    assert studio.undo(False, me)[0] == new

    studio.analyse(str(wav), None, SAID, me)
    assert [p.name for p in s.projects] == ["memo.wav", "memo.wav (2)"]
    assert s.pick_project("memo.wav").text == new


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from studio_server(tmp_path_factory)


@pytest.fixture
def page(request):
    for browser in chromium_browser():
        yield from browser_page(browser, request)


@pytest.mark.browser
def test_type_on_the_transcript_render_and_reload(server, page, tmp_path: Path) -> None:
    url, studio = server
    page.goto(url)
    page.locator("#speech-in input[type=file]").set_input_files(str(_speech(tmp_path /
                                                                         "memo.wav")))
    page.locator("#transcript textarea").fill(SAID)
    page.locator("#analyse").click()
    words = page.locator("#word-editor .rt-text .seg.keep[data-s]")
    words.first.wait_for(timeout=180000)
    assert words.count() == len(SAID.split())

    # click a word: playback starts there and the word is highlighted
    friday = page.locator("#word-editor .rt-text .seg", has_text="Friday").first
    start = float(friday.get_attribute("data-s"))
    friday.click()
    page.wait_for_function(
        "() => document.querySelector('#word-editor .seg.now') !== null", timeout=10000)
    shown = float(page.locator("#word-editor .rt-time").text_content().split()[0])
    assert start - 0.05 <= shown <= start + 1.5, (start, shown)
    page.locator("#word-editor .rt-play").click()  # pause

    # drag the end of "Friday" on the waveform: the studio's alignment follows
    page.wait_for_function("() => +document.querySelector('#word-editor .rt-editor')"
                           ".dataset.regions > 0", timeout=30000)
    handle = page.evaluate("""() => {
        const sr = document.querySelector('#word-editor .rt-wave > div').shadowRoot;
        const r = [...sr.querySelectorAll('[part~=region]')]
            .find(x => x.textContent === 'Friday');
        const b = r.querySelector('[part~=region-handle-right]').getBoundingClientRect();
        return {x: b.x + b.width / 2, y: b.y + b.height / 2}; }""")
    s = next(v for v in studio.sessions.values() if v.project and v.project.name == "memo.wav")
    k = next(i for i, w in enumerate(s.recording.alignment.words) if w.text == "Friday")
    end = s.recording.alignment.words[k].end
    page.mouse.move(handle["x"], handle["y"])
    page.mouse.down()
    page.mouse.move(handle["x"] + 30, handle["y"], steps=6)
    page.mouse.up()
    page.locator("#word-editor .rt-note").get_by_text("Friday").wait_for(timeout=10000)
    assert s.recording.alignment.words[k].end > end + 0.03
    assert float(friday.get_attribute("data-e")) == pytest.approx(
        s.recording.alignment.words[k].end, abs=2e-3)

    # select "Friday" and type over it; the pending edits come from the engine
    friday.evaluate("""s => { const r = document.createRange(); r.selectNodeContents(s);
        const sel = getSelection(); sel.removeAllRanges(); sel.addRange(r); }""")
    page.keyboard.type("Monday ")
    page.wait_for_function(
        "() => document.querySelector('#new-text textarea').value.includes('Monday')",
        timeout=10000)
    assert page.locator("#new-text textarea").input_value() == \
        SAID.replace("Friday", "Monday")
    page.locator("#word-editor .rt-pending").get_by_text("1 new word, 1 cut").wait_for(
        timeout=10000)
    page.locator("#takes").click()  # leave the text: the edits show inline
    page.locator("#word-editor .rt-text .seg.delete", has_text="Friday").wait_for(
        timeout=10000)
    assert page.locator("#word-editor .rt-text .seg.insert",
                        has_text="Monday").count() == 1
    # back into the text and out again: the struck word stays cut
    page.locator("#word-editor .rt-text .seg.keep", has_text="laptop").click()
    page.locator("#word-editor .rt-play").click()
    page.locator("#takes").click()
    page.wait_for_timeout(1500)
    assert page.locator("#new-text textarea").input_value() == \
        SAID.replace("Friday", "Monday")
    assert page.locator("#word-editor .rt-text .seg.delete", has_text="Friday").count() == 1

    # render: the edited audio comes back and the editor can play it, edits marked
    page.locator("#consent input[type=checkbox]").check()
    page.locator("#render").click()
    page.locator("#voice-result").get_by_text("edited-1.wav").wait_for(timeout=240000)
    page.locator("#word-editor .rt-ab:not([hidden])").wait_for(timeout=30000)
    # the editor now plays the edited audio, the edit marked on its waveform
    page.wait_for_function("() => { const e = document.querySelector('#word-editor "
                           ".rt-editor'); return e.dataset.view === 'edited' && "
                           "+e.dataset.regions >= 1 }", timeout=30000)
    page.locator("#word-editor .rt-ab").click()  # back to the original: a region per word
    page.wait_for_function("() => { const e = document.querySelector('#word-editor "
                           ".rt-editor'); return e.dataset.view === 'original' && "
                           f"+e.dataset.regions === {len(SAID.split())} }}", timeout=30000)
    assert page.locator("#word-editor .rt-text .seg.delete", has_text="Friday").count()

    # reload: the project is still there, with its text, render and history
    page.reload()
    page.locator("#word-editor .rt-text .seg.insert", has_text="Monday").wait_for(
        timeout=60000)
    assert page.locator("#new-text textarea").input_value() == \
        SAID.replace("Friday", "Monday")
    page.locator("#voice-result").get_by_text("edited-1.wav").wait_for(timeout=30000)
    assert "monday" in page.locator("#edits-table").inner_text().lower()
    assert page.locator("#history").get_by_text("edited-1.wav").count() or \
        "edited-1.wav" in page.locator("#history input").input_value()
    page.wait_for_function("() => document.querySelector('#project-pick input').value === "
                           "'memo.wav'", timeout=30000)

    # undo goes back to the recording's own words
    page.locator("#undo").click()
    page.wait_for_function(
        "() => document.querySelector('#new-text textarea').value.includes('Friday')",
        timeout=10000)
    assert not page.locator("#word-editor .rt-text .seg.insert").count()
    assert not page.locator(".toast-body.error").count()


@pytest.mark.browser
def test_first_minute_a_sample_in_one_click_on_a_laptop_screen(server, page) -> None:
    """At 1366x768 the three steps show without scrolling; "Try a sample" speaks the
    built-in voiceover, aligns it and opens it in the editor."""
    url, _ = server
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(url)
    for step in ("#analyse", "#try-sample", "#render"):
        box = page.locator(step).bounding_box()
        assert box and box["y"] + box["height"] <= 768, (step, box)
    page.locator("#try-sample").click()
    page.locator("#word-editor .rt-text .seg", has_text="Zurich").first.wait_for(
        timeout=240000)
    assert "built-in sample" in page.locator("#voice-status").inner_text()
    page.wait_for_function("() => document.querySelector('#project-pick input').value === "
                           "'retake-sample.wav'", timeout=30000)


DUB_SAID = ("rational answer it and really it easy for my second week of new member "
            "orientation additionally where things are how to use the titles")


@pytest.mark.browser
def test_dub_tab_edits_the_clip_with_the_same_editor(server, page) -> None:
    """The Dub tab aligns the clip's speech into the same transcript editor; typing there
    writes the dub's new text; the dub says which engine made the new words."""
    from conftest import media

    clip = media("video", "WDA_KatieHill_000.mp4")
    url, _ = server
    page.goto(url)
    page.get_by_role("tab", name="Dub").click()
    page.locator("#dub-video input[type=file]").set_input_files(str(clip))
    page.locator("#dub-transcript textarea").fill(DUB_SAID)
    page.locator("#dub-analyse").click()
    second = page.locator("#dub-editor .rt-text .seg.keep", has_text="second").first
    second.wait_for(timeout=240000)
    second.click()
    second.evaluate("""s => { const r = document.createRange(); r.selectNodeContents(s);
        const sel = getSelection(); sel.removeAllRanges(); sel.addRange(r); }""")
    page.keyboard.type("best ")
    page.wait_for_function(
        "() => document.querySelector('#dub-text textarea').value.includes('best week')",
        timeout=10000)
    assert "second" not in page.locator("#dub-text textarea").input_value()
    page.locator("#consent input[type=checkbox]").check()
    page.locator("#dub").click()
    page.locator("#dub-result").get_by_text("mouth re-rendered").wait_for(timeout=400000)
    table = page.locator("#dub-edits").inner_text().lower()
    assert "best" in table and "the speaker's own" in table, table
    assert not page.locator(".toast-body.error").count()
