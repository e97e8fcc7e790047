"""The studio's remaining honesty items of issue 15.

Alternative takes are watermarked and signed like the edited file; the edits table never
says "heard" for words the re-alignment finds only weakly, and shows the report's warnings
(fallback phones, weak similarity, not heard, a loudness jump at a join) in plain words.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
from studio_tools import browser_page, chromium_browser, spoken, studio_server

warnings.filterwarnings("ignore")

SAID = "The meeting starts on Friday morning. Please bring the report and your laptop."
NEW = "The meeting starts on Monday morning. Please bring the report and your laptop."


def _speech(path: Path) -> Path:
    return spoken(path, SAID)


def _marked(path: Path) -> list:
    import soundfile as sf

    from retake.awareness.watermark import detect

    samples, rate = sf.read(str(path), dtype="float32")
    return [d for d in detect(samples, rate) if d.payload is not None]


def test_every_take_is_watermarked_and_signed(tmp_path: Path) -> None:
    from retake.awareness.provenance import verify
    from retake.ui.studio import Studio

    studio = Studio(tmp_path / "root")
    me = SimpleNamespace(session_hash="takes")
    studio.analyse(str(_speech(tmp_path / "memo.wav")), None, SAID, me)
    out, files, rows, alts, note = studio.render(NEW, 3, me, agreed=True)
    assert alts, "three takes asked for: the other two are offered"
    main = verify(out)
    for alt in alts:
        v = verify(alt)
        assert v.state == "Trusted", v.summary()
        assert v.consent == main.consent and v.synthetic_spans, v.summary()
        found = _marked(Path(alt))
        assert found, f"{Path(alt).name} carries no watermark"
        a, b = v.synthetic_spans[0]
        assert any(d.start < b and d.end > a for d in found), (found, v.synthetic_spans)
    assert found[0].payload.version == _marked(Path(out))[0].payload.version


def _report(**span):
    from retake.voice.report import EditReport, EditSpan, Join

    base = dict(kind="replace", text="monday", start=1.0, end=1.4, engine="units")
    e = EditSpan(**{**base, **span})
    return EditReport([e], [Join(1.0, 0.5, 16.2), Join(1.4, None, 2.0)])


def test_heard_is_never_said_below_the_confidence_threshold() -> None:
    from retake.ui.edit_notes import LOW_CONFIDENCE, edit_rows, heard, summary

    weak = _report(heard=True, found_on_realign=True, realign_confidence=0.075)
    row = edit_rows(weak)[0]
    assert row[4] != "yes" and row[4] == "unsure"
    assert "0.07" in row[5] and f"{LOW_CONFIDENCE:.2f}" in row[5]
    sure = _report(heard=True, found_on_realign=True, realign_confidence=0.9)
    assert heard(sure.edits[0]) == "yes"
    assert heard(_report(heard=False).edits[0]) == "no"
    assert heard(_report(found_on_realign=False, heard=True).edits[0]) == "no"
    assert heard(_report(kind="delete", engine="cut").edits[0]) == "-"
    # The 16 dB jump at the join where the edit starts is said; the 2 dB one is not.
    assert "loudness jump at a join: 16 dB at 1.00 s" in row[5]
    assert "2 dB" not in row[5]
    assert "monday" in summary(weak) and "16 dB" in summary(weak)


def test_the_reports_warnings_in_plain_words() -> None:
    from retake.ui.edit_notes import edit_rows

    rep = _report(heard=False, heard_text="sunday morning", found_on_realign=True,
                  realign_confidence=0.8, engine="fallback", substituted=["ZH->SH"],
                  borrowed=["AE"], similarity=0.55)
    check = edit_rows(rep)[0][5]
    for words in ("not heard", "sunday morning", "robot voice", "fallback phones",
                  "ZH->SH", "borrowed phones", "weak similarity", "0.55",
                  "loudness jump"):
        assert words in check, (words, check)
    from retake.voice.report import EditReport, EditSpan

    fine = EditReport([EditSpan("replace", "monday", 1.0, 1.4, "units", True, 0.9,
                                heard=True)])
    assert edit_rows(fine)[0][4:] == ["yes", "ok"]


@pytest.mark.parametrize("conf", [0.0, 0.2, 0.49])
def test_weak_confidence_is_unsure(conf: float) -> None:
    from retake.ui.edit_notes import heard

    assert heard(_report(heard=True, found_on_realign=True,
                         realign_confidence=conf).edits[0]) == "unsure"


# ------------------------------------------------------------------ in the browser

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from studio_server(tmp_path_factory)


@pytest.fixture
def page(request):
    for browser in chromium_browser():
        yield from browser_page(browser, request)


def _errors(page) -> str:
    return " ".join(page.locator(".toast-body.error").all_inner_texts())


def test_old_errors_go_and_a_downloaded_take_verifies(server, page, tmp_path: Path) -> None:
    """An error toast stays until a later action succeeds, then goes; the takes the page
    offers carry the watermark and verify like the edited file."""
    from retake.awareness.provenance import verify

    url, _ = server
    page.goto(url)
    page.locator("#render").click()  # nothing analysed yet: an error
    page.locator(".toast-body.error").first.wait_for(timeout=60000)
    assert "analyse a recording first" in _errors(page)
    page.locator("#speech-in input[type=file]").set_input_files(str(_speech(tmp_path /
                                                                         "memo.wav")))
    page.locator("#transcript textarea").fill(SAID)
    page.locator("#analyse").click()
    page.locator("#voice-status").get_by_text("words aligned").wait_for(timeout=120000)
    page.wait_for_function("() => !document.querySelector('.toast-body.error')",
                           timeout=10000)  # the old error went with the success
    page.locator("#new-text textarea").fill(NEW)
    page.locator("#takes input[type=number]").fill("3")
    page.locator("#takes input[type=number]").press("Enter")
    page.locator("#consent input[type=checkbox]").check()
    page.locator("#render").click()
    page.locator("#voice-result").get_by_text("GENERATED").wait_for(timeout=180000)
    assert page.locator("#edits-table").get_by_text("monday").count()
    link = page.locator("#voice-takes a[href$='.wav']").first
    link.wait_for(timeout=60000)
    href = link.get_attribute("href")
    href = href if href.startswith("http") else url + "/" + href.lstrip("/")
    resp = page.request.get(href)
    assert resp.ok, (href, resp.status)
    take = tmp_path / "take.wav"
    take.write_bytes(resp.body())
    v = verify(take)
    assert v.state == "Trusted" and v.consent and v.synthetic_spans, v.summary()
    assert _marked(take), "the downloaded take carries no watermark"
    assert not _errors(page)
