"""Make the README's screenshots of the studio, on the built-in sample ("Try a sample").

Run: .venv/bin/python scripts/screenshot.py  (needs Debian's chromium; `make browser`).
Writes docs/studio.png (the page at 1366x768 after the sample is analysed),
docs/studio-editor.png (the transcript editor: waveform with word regions, an edit shown
inline), docs/studio-takes.png (after rendering three takes: the edited waveform with the
edit marked, the takes to audition).
"""

from __future__ import annotations

import socket
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore")


def _select(page, word: str) -> None:
    page.locator("#word-editor .rt-text .seg.keep", has_text=word).first.evaluate(
        """s => { s.closest('[contenteditable=true]').focus();
        const r = document.createRange(); r.selectNodeContents(s);
        const sel = getSelection(); sel.removeAllRanges(); sel.addRange(r); }""")


def main() -> None:
    from playwright.sync_api import sync_playwright

    from retake.ui.studio import launch

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    docs = ROOT / "docs"
    docs.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        app, _ = launch("127.0.0.1", port, root=Path(tmp) / "studio", block=False)
        try:
            with sync_playwright() as p:
                b = p.chromium.launch(executable_path="/usr/bin/chromium",
                                      args=["--no-sandbox", "--headless", "--disable-gpu"])
                page = b.new_page(viewport={"width": 1366, "height": 768})
                page.goto(f"http://127.0.0.1:{port}")
                t0 = time.time()
                page.locator("#try-sample").click()
                page.locator("#word-editor .rt-text .seg", has_text="Zurich").first.wait_for(
                    timeout=300000)
                print(f"sample ready in the editor after {time.time() - t0:.1f} s")
                page.wait_for_function("() => document.querySelector('#project-pick input')"
                                       ".value === 'retake-sample.wav'", timeout=30000)
                time.sleep(1.5)
                page.screenshot(path=str(docs / "studio.png"))
                _select(page, "Zurich")
                page.keyboard.type("Geneva. ")
                _select(page, "short")
                page.keyboard.press("Delete")
                time.sleep(0.5)
                page.locator("#takes").click()
                page.locator("#word-editor .seg.insert").first.wait_for(timeout=30000)
                page.locator("#word-editor input[type=range]").fill("160")
                time.sleep(1.0)
                page.locator("#word-editor").screenshot(path=str(docs / "studio-editor.png"))
                page.set_viewport_size({"width": 1366, "height": 1500})
                page.locator("#takes input[type=number]").fill("3")
                page.locator("#takes input[type=number]").press("Enter")
                page.locator("#consent input[type=checkbox]").check()
                t0 = time.time()
                page.locator("#render").click()
                page.locator("#voice-result").get_by_text("take 1 of 3").wait_for(
                    timeout=300000)
                print(f"rendered with 3 takes in {time.time() - t0:.1f} s")
                page.locator("#word-editor .rt-ab:not([hidden])").wait_for(timeout=30000)
                time.sleep(2)
                top = page.locator("#word-editor").bounding_box()["y"] - 10
                bottom = page.locator("#use-take").bounding_box()
                page.screenshot(path=str(docs / "studio-takes.png"), full_page=True,
                                clip={"x": 0, "y": top, "width": 1366,
                                      "height": bottom["y"] + bottom["height"] + 10 - top})
                b.close()
        finally:
            app.close()
    print("wrote docs/studio.png, docs/studio-editor.png, docs/studio-takes.png")


if __name__ == "__main__":
    main()
