"""Make the README's screenshot of the studio: a generated memo, aligned and edited by text.

Run: .venv/bin/python scripts/screenshot.py  (needs Debian's chromium; `make browser`).
Writes docs/studio.png.
"""

from __future__ import annotations

import socket
import sys
import tempfile
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore")

SAID = "The meeting starts on Friday morning. Please bring the report and your laptop."
NEW = "The meeting starts on Monday morning. Please bring the new report and your laptop."


def main() -> None:
    from playwright.sync_api import sync_playwright

    from retake.align.audio import write_wav
    from retake.align.espeak import synthesize
    from retake.ui.studio import launch

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "memo.wav"
        speech = synthesize(SAID, rate_wpm=150)
        write_wav(wav, speech.audio, speech.sample_rate)
        app, _ = launch("127.0.0.1", port, root=Path(tmp) / "studio", block=False)
        try:
            with sync_playwright() as p:
                b = p.chromium.launch(executable_path="/usr/bin/chromium",
                                      args=["--no-sandbox", "--headless", "--disable-gpu"])
                page = b.new_page(viewport={"width": 1280, "height": 1500})
                page.goto(f"http://127.0.0.1:{port}")
                page.locator("#speech-in input[type=file]").set_input_files(str(wav))
                page.locator("#transcript textarea").fill(SAID)
                page.locator("#analyse").click()
                page.locator("#voice-status").get_by_text("words aligned").wait_for(
                    timeout=120000)
                page.locator("#new-text textarea").fill(NEW)
                page.locator("#consent input[type=checkbox]").check()
                page.locator("#render").click()
                page.locator("#voice-result").get_by_text("GENERATED").wait_for(
                    timeout=180000)
                out = ROOT / "docs" / "studio.png"
                out.parent.mkdir(exist_ok=True)
                page.screenshot(path=str(out), full_page=True, clip={"x": 0, "y": 0, "width": 1280,
                                                                     "height": 1900})
                b.close()
        finally:
            app.close()
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
