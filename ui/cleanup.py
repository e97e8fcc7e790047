"""The studio's clean-up policy: sessions idle for a while are forgotten, and their files go.

A browser session that has not been used for `max_idle` seconds (6 h by default) and runs no
job is dropped: its folder under the studio's root (uploads, inputs, outputs), the copies
published to its browser in Gradio's cache, and what the server holds for it in memory (the
analysed recording). Anything else under the root whose newest file is older than
`max_idle` goes too: session folders left by an earlier run of the studio on the same root
(pruned at start-up) and Gradio's own upload copies. A janitor thread does this every
`every` seconds while the studio runs.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

MAX_IDLE_S = 6 * 3600.0


def newest_mtime(path: Path) -> float:
    """The newest modification time of `path` and everything under it (links not followed)."""
    try:
        newest = os.lstat(path).st_mtime
    except FileNotFoundError:
        return 0.0
    for top, dirs, files in os.walk(path):
        for name in dirs + files:
            try:
                newest = max(newest, os.lstat(os.path.join(top, name)).st_mtime)
            except FileNotFoundError:
                continue
    return newest


def remove(path: Path) -> None:
    """Remove a file or a folder tree (never following a link out of it)."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    except OSError as exc:  # pragma: no cover - a file in use elsewhere: try next time
        log.warning("could not remove %s: %s", path.name, exc)


def prune(studio, now: float | None = None) -> list[str]:
    """Drop `studio`'s sessions idle for longer than its `max_idle` and their files, and
    any other folder under its root older than that. Returns the names removed."""
    now = time.time() if now is None else now
    limit = now - studio.max_idle
    gone: list[str] = []
    with studio.sessions_lock:
        for key, s in list(studio.sessions.items()):
            if s.jobs == 0 and s.last_used < limit:
                del studio.sessions[key]
                for folder in [s.folder, *s.published]:
                    remove(folder)
                    studio.gate.forget(folder)
                gone.append(key)
        live = {s.folder.name for s in studio.sessions.values()}
        published = {p.name for s in studio.sessions.values() for p in s.published}
    cache = Path(studio.gate.cache)
    for folder, skip in ((studio.root, live | {cache.name}), (cache, published)):
        try:
            entries = list(folder.iterdir())
        except FileNotFoundError:
            continue
        for entry in entries:
            if entry.name in skip or newest_mtime(entry) >= limit:
                continue
            remove(entry)
            studio.gate.forget(entry)
            gone.append(entry.name)
    if gone:
        log.info("studio clean-up: removed %d idle session(s) and folder(s)", len(gone))
    return gone


class Janitor(threading.Thread):
    """Prunes a studio every `every` seconds until `stop()`."""

    def __init__(self, studio, every: float) -> None:
        super().__init__(name="retake-studio-janitor", daemon=True)
        self.studio, self.every = studio, every
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.every):
            try:
                prune(self.studio)
            except Exception:  # noqa: BLE001 - the next round tries again
                log.exception("studio clean-up failed")

    def stop(self) -> None:
        self._stop_event.set()
