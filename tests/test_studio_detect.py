"""The Detect tab's verdict: plain words, each signal on a scale, and Content Credentials,
on a file Retake really made, the same file altered after signing, and a plain recording."""

from __future__ import annotations

import html
import shutil
import struct
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import MEDIA
from studio_tools import browser_page, chromium_browser, studio_server

warnings.filterwarnings("ignore")

SAID = "The meeting starts on Friday morning. Please bring the report and your laptop."
NEW = "The meeting starts on Monday morning. Please bring the report and your notes."
LJ = MEDIA / "speech" / "ljspeech"


def _data_middle(path: Path) -> int:
    """Byte offset of the middle of a wav's `data` chunk."""
    data, pos = path.read_bytes(), 12
    while pos + 8 <= len(data):
        tag, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if tag == b"data":
            return pos + 8 + size // 2
        pos += 8 + size + size % 2
    raise AssertionError(f"no data chunk in {path}")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """(path, transcript) of: a voice edit Retake wrote (watermarked and signed), the same
    file with a few samples changed after signing, and an unedited recording."""
    from retake.align import Audio
    from retake.align.audio import write_wav
    from retake.align.espeak import synthesize
    from retake.voice import Editor, write_result

    tmp = tmp_path_factory.mktemp("detect-tab")
    s = synthesize(SAID, rate_wpm=165)
    editor = Editor()
    result = editor.edit(editor.load(Audio(s.audio, s.sample_rate), SAID), NEW)
    edited = write_result(result, tmp / "edited.wav")["wav"]
    altered = tmp / "altered.wav"
    shutil.copy(edited, altered)
    raw = bytearray(altered.read_bytes())
    at = _data_middle(altered)
    raw[at:at + 8] = bytes(b ^ 0x55 for b in raw[at:at + 8])
    altered.write_bytes(raw)
    if (LJ / "LJ001-0010.wav").is_file():  # a real recording when the shared media is here
        rows = dict(r.split("|", 1) for r in (LJ / "transcripts.txt").read_text().splitlines())
        plain, plain_text = LJ / "LJ001-0010.wav", rows["LJ001-0010.wav"]
    else:
        plain, plain_text = tmp / "plain.wav", SAID
        write_wav(plain, s.audio, s.sample_rate)
    return {"edited": (edited, NEW), "altered": (altered, NEW), "plain": (plain, plain_text)}


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    from retake.ui.studio import Studio

    return Studio(tmp_path_factory.mktemp("root"))


def _examine(studio, files, kind: str):
    """The Detect tab's job on one file: (verdict, its HTML, the downloads)."""
    from retake.awareness.detect import detect
    from retake.ui.verdict import check_credentials, verdict

    path, text = files[kind]
    page, frame, downloads = studio.run_detect(str(path), text,
                                               SimpleNamespace(session_hash=f"d-{kind}"))
    assert "<iframe" in frame and "Limits" in html.unescape(frame)
    assert sorted(Path(p).name for p in downloads) == ["report.html", "report.json"]
    v = verdict(detect(path, transcript=text), check_credentials(path), video=False)
    return v, html.unescape(page)


def _signal(v, name: str):
    [s] = [s for s in v.signals if s.name == name]
    return s


def test_a_file_retake_made_reads_as_edited_with_retake(studio, files) -> None:
    v, page = _examine(studio, files, "edited")
    assert v.level == "edited", v.headline
    assert v.headline.startswith("Edited with Retake (signed credentials: speech synthesized "
                                 "by Retake in the speaker's voice at "), v.headline
    assert "Retake's watermark found at" in v.headline
    assert v.credentials.startswith("Content Credentials: signed by Retake (Retake local "
                                    "signer"), v.credentials
    assert "signature valid, signer trusted on this computer" in v.credentials
    assert "consent: not recorded" in v.credentials
    wm = _signal(v, "Watermark")
    assert wm.position is not None and wm.position >= 0.5 and "found at" in wm.line
    assert _signal(v, "Content Credentials").position == 1.0
    lips = _signal(v, "Lips on M/B/P")
    assert lips.position is None and lips.line == "not checked: audio only"
    # what the page shows is that same verdict, with a scale per signal
    assert v.headline in page and v.credentials in page
    assert page.count('class="retake-signal"') == 4 and page.count("retake-marker") == 3
    assert 'aria-label="Lips on M/B/P: not checked"' in page


def test_bytes_changed_after_signing_break_the_credentials(studio, files) -> None:
    v, page = _examine(studio, files, "altered")
    assert v.level == "signs", v.headline
    assert v.headline.startswith("Signs of editing: Retake's watermark found at "), v.headline
    assert "Content Credentials broken: the file was changed after it was signed" in v.headline
    assert v.credentials.startswith("Content Credentials: broken — signed by Retake"), \
        v.credentials
    assert "no longer vouches for these bytes" in v.credentials
    assert "Edited with Retake" not in page and v.headline in page


def test_a_plain_recording_shows_nothing_and_no_credentials(studio, files) -> None:
    from retake.ui.verdict import NOTHING_FOUND

    v, page = _examine(studio, files, "plain")
    assert v.level == "none" and v.headline == NOTHING_FOUND, v.headline
    assert v.credentials.startswith("Content Credentials: none — never signed"), v.credentials
    creds = _signal(v, "Content Credentials")
    assert creds.position is None and "says nothing either way" in creds.line
    joins = _signal(v, "Joins in the audio")
    assert joins.position is not None and joins.position < 0.5, joins
    assert _signal(v, "Watermark").position == 0.0
    assert "which is not proof it is authentic" in page


def test_scales_follow_the_thresholds() -> None:
    """Markers sit by strength relative to each signal's threshold; unchecked ones have none."""
    from retake.awareness.detect import SPLICE_FLAG, DetectReport, Finding
    from retake.ui.verdict import Credentials, scale_html, verdict

    words = [{"text": w, "start": i * 0.3, "end": i * 0.3 + 0.25}
             for i, w in enumerate("one two three four five six".split())]
    quiet = DetectReport("a.wav", 2.0, "", {"splice": SPLICE_FLAG / 2, "watermark": 0.0},
                         words=words)
    v = verdict(quiet, Credentials(None, "cannot carry Content Credentials"), video=True)
    assert v.level == "none"
    joins = next(s for s in v.signals if s.name == "Joins in the audio")
    assert joins.position == pytest.approx(0.25)
    assert next(s for s in v.signals if s.name == "Lips on M/B/P").line == \
        "not checked: no face found"
    assert v.credentials.startswith("Content Credentials: not checked")
    loud = DetectReport("a.wav", 2.0, "", {"splice": 3 * SPLICE_FLAG, "watermark": 0.0},
                        [Finding("splice", 0.9, 1.0, 3 * SPLICE_FLAG, "between 'two' and "
                                 "'three': the floor jumps")], words)
    v = verdict(loud, Credentials(None, "x"), video=False)
    assert v.level == "possible" and v.headline.startswith("Possible signs of editing: 1 "
                                                           "unusual join(s) in the audio")
    assert "untouched recordings sometimes show this too" in v.headline
    joins = next(s for s in v.signals if s.name == "Joins in the audio")
    assert joins.position == 1.0 and "left:calc(100.0% - 7px)" in scale_html(joins)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from studio_server(tmp_path_factory)


@pytest.fixture
def page(request):
    for browser in chromium_browser():
        yield from browser_page(browser, request)


@pytest.mark.browser
def test_detect_tab_shows_the_verdict_and_the_scales(server, page, files) -> None:
    url, _ = server
    path, text = files["edited"]
    page.goto(url)
    page.get_by_role("tab", name="Detect").click()
    page.locator("#detect-file input[type=file]").set_input_files(str(path))
    page.get_by_label("What is said (empty: transcribe)").fill(text)
    page.locator("#detect").click()
    headline = page.locator("#detect-summary .retake-headline")
    headline.wait_for(timeout=120000)
    assert headline.inner_text().startswith("Edited with Retake (signed credentials:")
    assert "signed by Retake" in page.locator("#detect-summary .retake-credentials").inner_text()
    assert page.locator("#detect-summary .retake-signal").count() == 4
    marker = page.locator("#detect-summary [aria-label^='Watermark'] .retake-marker")
    assert marker.is_visible()
    assert page.get_by_role("group", name="Lips on M/B/P: not checked").count() == 1
    assert page.locator("a[href$='report.json']").count()
    assert not page.locator(".toast-body.error").count()
