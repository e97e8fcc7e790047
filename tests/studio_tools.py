"""Shared pieces of the studio's server and browser tests: a free port, the studio
running on it, and headless Debian chromium driven by Playwright."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


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
