"""The studio's security and honesty holes of issue 15, closed.

Consent gates every face edit, previews included. A dubbing script (and the model box) can
name only files among the session's own uploads, with one message for missing and outside.
A file is served only to the browser that uploaded or made it. Errors name the user's own
file and an action the page offers, never a server path, an errno or a CLI option. A
truncated upload's warning reaches the page; Cancel says "Cancelled." with no error toast.
Server-side checks call the Studio directly; the rest drive headless Debian Chromium.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
import warnings
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from studio_tools import CHROMIUM, browser_page, chromium_browser, studio_server

warnings.filterwarnings("ignore")

SECRET = "the launch codes are tangerine seven"
LEAKS = re.compile(r"retake-studio|gradio-cache|in-speech|in-target|in-dub|/tmp/|Errno|"
                   r"--[a-z]|Traceback|uploads/")
browser_only = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                  reason="chromium is not installed (make test installs it)")


def _faces(tmp_path: Path) -> tuple[Path, Path]:
    import skimage.data
    from PIL import Image

    target, source = tmp_path / "target.png", tmp_path / "source.png"
    Image.fromarray(skimage.data.astronaut()).save(target)
    Image.fromarray(np.ascontiguousarray(skimage.data.astronaut()[:, ::-1])).save(source)
    return source, target


def _clip(path: Path, n: int = 10) -> Path:
    from retake.video.media import VideoWriter

    with VideoWriter(path, Fraction(25), 64, 64) as w:
        for _ in range(n):
            w.write(np.full((64, 64, 3), 100, np.uint8))
    return path


# ------------------------------------------------------------------ server side
def test_preview_needs_consent_and_records_it(tmp_path: Path) -> None:
    from retake.awareness.consent import ConsentError
    from retake.ui.studio import Studio

    studio = Studio(tmp_path / "root")
    me = SimpleNamespace(session_hash="me")
    source, target = _faces(tmp_path)
    with pytest.raises(ConsentError, match="consent box"):
        studio.preview_swap(str(source), "", str(target), me)
    folder = studio.session(me).folder
    assert not list(folder.glob("preview-*"))  # refused before any work
    out = studio.preview_swap(str(source), "", str(target), me, agreed=True)
    from retake.awareness.provenance import verify

    v = verify(out)
    assert v.consent, "the preview's credentials record the consent"


def test_a_script_reads_only_the_sessions_uploads(tmp_path: Path) -> None:
    from retake.core.errors import RetakeError
    from retake.ui.request import EditRequest, resolve
    from retake.ui.script import load_script
    from retake.ui.studio import Studio

    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    studio = Studio(tmp_path / "root")
    s = studio.session(SimpleNamespace(session_hash="me"))
    (s.uploads / "link.txt").symlink_to(secret)  # a link out of the uploads is outside too
    (s.uploads / "words.txt").write_text("hello there")
    photo = tmp_path / "face.jpg"
    photo.write_bytes(b"not really")
    script = s.uploads / "s.yaml"
    messages = set()
    for key, value in [("transcript", str(secret)), ("transcript", "../../../secret.txt"),
                       ("transcript", "link.txt"), ("transcript", "missing.txt"),
                       ("transcript", "/etc/passwd"), ("swap", str(photo)),
                       ("swap", "../../../face.jpg"), ("swap", "missing.jpg")]:
        script.write_text(f"{key}: {value}\nto: hello you\n")
        with pytest.raises(RetakeError) as err:
            load_script(script, within=s.uploads)
        msg = str(err.value)
        assert SECRET not in msg and str(tmp_path) not in msg
        messages.add(re.sub(r"'[^']*'", "NAME", msg))
    assert len(messages) == 2, messages  # per key, missing and outside read alike
    script.write_text("transcript: words.txt\nto: hello you\n")
    assert load_script(script, within=s.uploads).transcript == "hello there"
    # Text typed in the studio is text, never a file name.
    typed = resolve(EditRequest(transcript=str(secret), to="x y", within=s.uploads))
    assert typed.transcript == str(secret)
    # The CLI keeps reading any file the user names.
    script = tmp_path / "cli.yaml"
    script.write_text(f"transcript: {secret}\nto: hello you\n")
    assert load_script(script).transcript == SECRET


def test_the_model_box_is_confined_and_tells_nothing(tmp_path: Path) -> None:
    from retake.core.errors import RetakeError
    from retake.ui.studio import Studio

    studio = Studio(tmp_path / "root")
    s = studio.session(SimpleNamespace(session_hash="me"))
    elsewhere = tmp_path / "their-model"
    elsewhere.mkdir()
    (s.uploads / "link").symlink_to(elsewhere)
    messages = []
    for box in (str(elsewhere), "../../../their-model", "link", str(tmp_path / "nothing"),
                "nothing"):
        with pytest.raises(RetakeError) as err:
            studio.model_folder(s, box)
        messages.append(re.sub(r"'[^']*'", "NAME", str(err.value)))
    assert len(set(messages)) == 1, messages
    (s.uploads / "model").mkdir()
    assert studio.model_folder(s, "model") == (s.uploads / "model").resolve()


def test_errors_name_the_users_file_not_the_server(tmp_path: Path) -> None:
    from retake.ui.studio import Studio, plain_error

    studio = Studio(tmp_path / "root")
    me = SimpleNamespace(session_hash="me")
    s = studio.session(me)
    junk = tmp_path / "upload-cache" / "memo.wav"
    junk.parent.mkdir()
    junk.write_bytes(np.random.default_rng(0).bytes(3000))
    with pytest.raises(Exception) as err:  # noqa: B017 - the message is what is checked
        studio.analyse(str(junk), None, "", me)
    shown = studio.plain(str(err.value), s, {str(junk): "memo.wav"})
    assert "memo.wav" in shown and "upload" in shown and not LEAKS.search(shown), shown
    raw = (f"[Errno 2] No such file or directory: '{studio.root}/abc/in-speech.wav'; the "
           "source photo holds 2 faces; choose one with --source-face N (0 is the largest)")
    shown = plain_error(raw, {f"{studio.root}/abc/in-speech.wav": "memo.mp3"},
                        [str(studio.root)])
    assert "memo.mp3" in shown and "upload a photo cropped to one face" in shown
    assert not LEAKS.search(shown), shown


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


def _href(page, selector: str, suffix: str) -> str:
    link = page.locator(f"{selector} a[href$='{suffix}']").first
    link.wait_for(timeout=120000)
    href = link.get_attribute("href")
    return href if href.startswith("http") else page.url.rstrip("/") + "/" + href.lstrip("/")


def _error_text(page) -> str:
    """The text of the page's error toast(s)."""
    toast = page.locator(".toast-body").first
    toast.wait_for(timeout=60000)
    return " ".join(page.locator(".toast-body").all_inner_texts())


@browser_only
def test_preview_in_the_browser_needs_consent(server, page, tmp_path: Path) -> None:
    url, studio = server
    source, target = _faces(tmp_path)
    page.goto(url)
    page.get_by_role("tab", name="Face").click()
    page.locator("#source-photo input[type=file]").set_input_files(str(source))
    page.locator("#target-file input[type=file]").set_input_files(str(target))
    page.locator("#preview").click()
    assert "consent box" in _error_text(page)
    assert page.locator("#preview-image img").count() == 0
    assert not [p for p in studio.root.rglob("preview-out*")]


@browser_only
def test_files_are_served_only_to_their_own_browser(server, browser, page,
                                                    tmp_path: Path) -> None:
    url, _ = server
    source, target = _faces(tmp_path)
    page.goto(url)
    page.get_by_role("tab", name="Face").click()
    page.locator("#source-photo input[type=file]").set_input_files(str(source))
    page.locator("#target-file input[type=file]").set_input_files(str(target))
    page.locator("#consent input[type=checkbox]").check()
    page.locator("#swap").click()
    page.locator("#swap-result").get_by_text("GENERATED").wait_for(timeout=180000)
    output = _href(page, "#swap-file", ".png")
    upload = page.locator("#source-photo img").first.get_attribute("src")
    upload = upload if upload.startswith("http") else url + "/" + upload.lstrip("/")
    for u in (output, upload):
        assert page.request.get(u).ok, u  # the browser that made them gets them
        with pytest.raises(urllib.error.HTTPError) as err:  # a plain GET does not
            urllib.request.urlopen(u)
        assert err.value.code == 404
    other = browser.new_context()
    try:
        stranger = other.new_page()
        stranger.goto(url)  # a studio cookie of its own
        for u in (output, upload):
            assert stranger.request.get(u).status == 404, u
    finally:
        other.close()


@browser_only
def test_a_script_naming_a_server_file_is_refused(server, page, tmp_path: Path) -> None:
    url, _ = server
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    script = tmp_path / "dub.yaml"
    script.write_text(f"transcript: {secret}\nto: hello you\n")
    page.goto(url)
    page.get_by_role("tab", name="Dub").click()
    page.locator("#dub-video input[type=file]").set_input_files(str(_clip(tmp_path /
                                                                          "clip.mp4")))
    page.locator("#dub-script input[type=file]").set_input_files(str(script))
    page.locator("#consent input[type=checkbox]").check()
    page.locator("#dub").click()
    shown = _error_text(page)
    assert "not among the files uploaded" in shown and "secret.txt" in shown
    assert SECRET not in page.content()
    assert not LEAKS.search(shown), shown


@browser_only
def test_a_bad_upload_names_the_users_file(server, page, tmp_path: Path) -> None:
    url, _ = server
    junk = tmp_path / "my memo.wav"
    junk.write_bytes(np.random.default_rng(0).bytes(4000))
    page.goto(url)
    page.locator("#speech-in input[type=file]").set_input_files(str(junk))
    page.locator("#analyse").click()
    shown = _error_text(page)
    assert "my memo.wav" in shown and "upload" in shown, shown
    assert not LEAKS.search(shown), shown


def _mp3(path: Path, samples: np.ndarray, rate: int) -> Path:
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("mp3", rate=rate)
        s.layout = "mono"
        for i in range(0, len(samples), 1152):
            f = av.AudioFrame.from_ndarray(samples[None, i:i + 1152].astype(np.float32),
                                           format="flt", layout="mono")
            f.sample_rate = rate
            for pkt in s.encode(f):
                c.mux(pkt)
        for pkt in s.encode(None):
            c.mux(pkt)
    return path


def test_a_truncated_upload_is_said_on_the_page(tmp_path: Path) -> None:
    from retake.align.espeak import synthesize
    from retake.ui.studio import Studio

    said = "The meeting starts on Friday morning. Please bring the report and your laptop."
    s = synthesize(said + " " + said, rate_wpm=150)
    whole = _mp3(tmp_path / "whole.mp3", s.audio, s.sample_rate).read_bytes()
    cut = tmp_path / "cache" / "memo.mp3"
    cut.parent.mkdir()
    cut.write_bytes(whole[: len(whole) // 2])  # the player still says the whole length
    studio = Studio(tmp_path / "root")
    *_, note = studio.analyse(str(cut), None, said, SimpleNamespace(session_hash="me"))
    assert "Warning" in note and "truncated" in note and "memo.mp3" in note, note
    assert not LEAKS.search(note), note


@browser_only
def test_cancel_says_cancelled_without_an_error(server, page, tmp_path: Path) -> None:
    import skimage.data

    from retake.video.media import VideoWriter

    url, _ = server
    img = skimage.data.astronaut()
    clip = tmp_path / "long.mp4"
    with VideoWriter(clip, Fraction(25), 512, 512) as w:
        for i in range(250):
            w.write(np.roll(img, i, axis=1))
    source, _ = _faces(tmp_path)
    page.goto(url)
    page.get_by_role("tab", name="Face").click()
    page.locator("#source-photo input[type=file]").set_input_files(str(source))
    page.locator("#target-file input[type=file]").set_input_files(str(clip))
    page.locator("#consent input[type=checkbox]").check()
    page.locator("#swap").click()
    page.locator(".progress-text, .eta-bar, .progress-level").first.wait_for(timeout=60000)
    page.get_by_role("button", name="Cancel").locator("visible=true").first.click()
    page.locator("#swap-result").get_by_text("Cancelled.").wait_for(timeout=60000)
    page.wait_for_timeout(2000)
    assert not "".join(page.locator(".toast-body").all_inner_texts()).strip()
