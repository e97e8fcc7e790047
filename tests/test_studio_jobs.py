"""Studio jobs without a browser: cancelling, per-session folders, diff, bad input."""

from __future__ import annotations

import threading
import time
import warnings
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

warnings.filterwarnings("ignore")


def _clip(path: Path, n: int) -> Path:
    import skimage.data

    from retake.video.media import VideoWriter

    img = skimage.data.astronaut()
    with VideoWriter(path, Fraction(25), 512, 512) as w:
        for i in range(n):
            w.write(np.roll(img, i, axis=1))
    return path


def test_cancel_stops_a_swap_and_leaves_nothing(tmp_path: Path) -> None:
    import skimage.data
    from PIL import Image

    from retake.ui.studio import Cancelled, Studio

    studio = Studio(tmp_path / "root")
    me = SimpleNamespace(session_hash="abc123")
    src = tmp_path / "src.png"
    Image.fromarray(np.ascontiguousarray(skimage.data.astronaut()[:, ::-1])).save(src)
    target = _clip(tmp_path / "t.mp4", 150)
    seen: list[float] = []

    def progress(value, desc=None, unit=None):
        seen.append(time.perf_counter())

    errors: list[BaseException] = []

    def job() -> None:
        try:
            studio.run_swap(str(src), "", str(target), me, progress, agreed=True)
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            errors.append(exc)

    t = threading.Thread(target=job)
    t.start()
    while len(seen) < 5 and t.is_alive():
        time.sleep(0.05)
    studio.cancel(me)
    t.join(120)
    assert errors and isinstance(errors[0], Cancelled)
    folder = studio.session(me).folder
    assert not list(folder.glob("swapped-*.mp4"))
    assert not [p for p in folder.iterdir() if p.name.startswith(".swapped")]


def test_sessions_have_their_own_folders_and_inputs_are_checked(tmp_path: Path) -> None:
    from retake.core.errors import RetakeError
    from retake.ui.studio import Studio

    studio = Studio(tmp_path / "root")
    a = studio.session(SimpleNamespace(session_hash="aaa"))
    b = studio.session(SimpleNamespace(session_hash="../bbb"))
    assert a.folder != b.folder
    assert a.folder.parent == b.folder.parent == studio.root
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    with pytest.raises(RetakeError, match="not an audio file"):
        studio.analyse(str(bad), None, "", SimpleNamespace(session_hash="aaa"))
    with pytest.raises(RetakeError, match="analyse a recording first"):
        studio.render("new text", 1, SimpleNamespace(session_hash="ccc"))
