"""Shared pieces of the studio's server and browser tests: a free port, the studio
running on it, and headless Debian chromium driven by Playwright."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def spoken(path: Path, text: str) -> Path:
    """`text` spoken by espeak-ng at 150 words a minute, written to `path` (a memo to edit)."""
    from retake.align.audio import write_wav
    from retake.align.espeak import synthesize

    s = synthesize(text, rate_wpm=150)
    write_wav(path, s.audio, s.sample_rate)
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def studio_server(tmp_path_factory) -> Iterator[tuple[str, object]]:
    """Run the studio on a free port in a fresh root; yields (url, studio)."""
    from retake.ui.studio import launch

    port = free_port()
    page, studio = launch("127.0.0.1", port, root=tmp_path_factory.mktemp("studio"),
                          block=False)
    yield f"http://127.0.0.1:{port}", studio
    page.close()


def launch_chromium(playwright):
    """Headless chromium for one test module or test."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def chromium_browser() -> Iterator[object]:
    """Headless chromium under Playwright (the test is skipped when it is not installed)."""
    import pytest

    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()


def browser_page(browser, request) -> Iterator[object]:
    """A fresh 1280x1800 page; a failing test leaves a full-page screenshot in
    test-artifacts/ named after it."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 1800})
    pg = ctx.new_page()
    yield pg
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    ctx.close()
