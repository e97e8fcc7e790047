"""The studio's clean-up policy (issue 15): sessions idle too long are forgotten and their
folders and published outputs removed, at start-up and while it runs; a session with a job
running, or used recently, is kept."""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import SimpleNamespace


def _session_with_output(studio, name: str):
    s = studio.session(SimpleNamespace(session_hash=name))
    out = s.folder / "edited-1.wav"
    out.write_bytes(b"RIFF....")
    copy = Path(studio._publish(str(out), s, f"visitor-{name}"))
    assert studio.gate.allowed(copy, f"visitor-{name}")
    s.recording = object()  # what the server holds in memory for it
    return s, copy


def test_idle_sessions_go_with_their_files(tmp_path: Path) -> None:
    from retake.ui.studio import Studio

    studio = Studio(tmp_path / "root", max_idle=60)
    old, old_copy = _session_with_output(studio, "old")
    busy, busy_copy = _session_with_output(studio, "busy")
    fresh, fresh_copy = _session_with_output(studio, "fresh")
    now = time.time()
    old.last_used = busy.last_used = now - 61
    busy.jobs = 1  # a job still running
    gone = studio.prune(now)
    assert "old" in gone and set(studio.sessions) == {"busy", "fresh"}
    assert not old.folder.exists() and not old_copy.exists()
    assert not old_copy.parent.exists()
    assert not studio.gate.allowed(old_copy, "visitor-old")  # its owner entry forgotten
    for s, copy in ((busy, busy_copy), (fresh, fresh_copy)):
        assert s.folder.is_dir() and copy.is_file()
    # Back after the clean-up: a fresh, empty session with the same name.
    again = studio.session(SimpleNamespace(session_hash="old"))
    assert again is not old and again.recording is None


def test_what_an_earlier_run_left_is_pruned_at_start_up(tmp_path: Path) -> None:
    from retake.ui.studio import GRADIO_CACHE, Studio

    root = tmp_path / "root"
    first = Studio(root, max_idle=3600)
    _session_with_output(first, "yesterday")
    _session_with_output(first, "today")
    upload = root / GRADIO_CACHE / "abc123" / "memo.wav"
    upload.parent.mkdir()
    upload.write_bytes(b"x")
    long_ago = time.time() - 7200
    for top, dirs, files in os.walk(root / "yesterday"):
        for name in dirs + files + ["."]:
            os.utime(os.path.join(top, name), (long_ago, long_ago))
    for path in (upload, upload.parent):
        os.utime(path, (long_ago, long_ago))
    Studio(root, max_idle=3600)  # a new run on the same root
    assert not (root / "yesterday").exists() and not upload.parent.exists()
    assert (root / "today" / "edited-1.wav").is_file()
    assert (root / GRADIO_CACHE).is_dir()


def test_the_janitor_prunes_while_the_studio_runs(tmp_path: Path) -> None:
    from retake.ui.cleanup import Janitor
    from retake.ui.studio import Studio

    studio = Studio(tmp_path / "root", max_idle=0.5)
    s, copy = _session_with_output(studio, "brief")
    janitor = Janitor(studio, every=0.1)
    janitor.start()
    try:
        deadline = time.monotonic() + 10
        while studio.sessions and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        janitor.stop()
        janitor.join(5)
    assert not studio.sessions
    assert not s.folder.exists() and not copy.exists()
