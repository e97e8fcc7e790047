"""The studio keeps voices and faces private and phones nobody.

Folders are 0700 and files 0600, owned by the user running it; a root that is a symlink, not
ours, or open to others is refused (never chmod-ed: it may not be ours, and what was in it may
already have been read). Gradio's analytics, version check and share tunnel stay off.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tempfile
import urllib.request
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from studio_tools import free_port as _free_port

warnings.filterwarnings("ignore")

ROOT = Path(__file__).resolve().parents[1]


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def _private(path: Path, mode: int) -> None:
    st = os.lstat(path)
    assert st.st_uid == os.getuid(), path
    assert stat.S_IMODE(st.st_mode) == mode, (path, oct(st.st_mode))


def test_root_and_session_folders_are_private(tmp_path: Path) -> None:
    from retake.ui.studio import Studio

    studio = Studio(tmp_path / "deep" / "root")
    _private(studio.root, 0o700)
    _private(studio.session(SimpleNamespace(session_hash="abc")).folder, 0o700)
    default = Studio()
    assert default.root.parent == Path(tempfile.gettempdir()).resolve()
    _private(default.root, 0o700)
    _private(default.session(None).folder, 0o700)


def test_default_roots_are_fresh_and_unpredictable() -> None:
    from retake.ui.studio import Studio

    a, b = Studio().root, Studio().root
    assert a != b
    for root in (a, b):
        assert root.name.startswith("retake-studio-")
        assert root.name != f"retake-studio-{os.getuid()}"  # the old, guessable name


def test_an_upload_and_an_output_are_private(tmp_path: Path) -> None:
    import skimage.data
    from PIL import Image

    from retake.ui.studio import Studio

    studio = Studio(tmp_path / "root")
    me = SimpleNamespace(session_hash="me")
    target, source = tmp_path / "target.png", tmp_path / "source.png"
    Image.fromarray(skimage.data.astronaut()).save(target)
    Image.fromarray(np.ascontiguousarray(skimage.data.astronaut()[:, ::-1])).save(source)
    target.chmod(0o644)
    old = os.umask(0o022)  # the usual umask: what a library writes would be 0644
    try:
        img, _, download, note = studio.run_swap(str(source), "", str(target), me,
                                                 agreed=True)
    finally:
        os.umask(old)
    folder = studio.session(me).folder
    _private(folder / "in-target.png", 0o600)  # the upload, copied in
    _private(Path(img), 0o600)  # the output the page offers
    assert Path(download).parent == folder and "GENERATED" in note
    for top, dirs, files in os.walk(folder):
        for d in dirs:
            _private(Path(top) / d, 0o700)
        for f in files:
            _private(Path(top) / f, 0o600)
    assert _mode(target) == 0o644  # the user's own file is left alone


def test_a_loose_root_is_refused_and_left_alone(tmp_path: Path) -> None:
    from retake.core.errors import RetakeError
    from retake.ui.studio import Studio

    loose = tmp_path / "loose"
    loose.mkdir()
    loose.chmod(0o755)
    with pytest.raises(RetakeError, match="others can open it"):
        Studio(loose)
    assert _mode(loose) == 0o755


def test_a_symlinked_root_is_refused(tmp_path: Path) -> None:
    from retake.core.errors import RetakeError
    from retake.ui.studio import Studio

    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(RetakeError, match="symlink"):
        Studio(link)


def test_a_root_of_another_user_is_refused_and_left_alone(tmp_path: Path,
                                                          monkeypatch) -> None:
    from retake.core.errors import RetakeError
    from retake.ui.studio import Studio

    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    me = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: me + 1)  # as if someone else had made it
    with pytest.raises(RetakeError, match="another user"):
        Studio(theirs)
    monkeypatch.undo()
    assert _mode(theirs) == 0o700


def test_analytics_are_off_in_the_page_and_the_served_config(tmp_path: Path) -> None:
    from retake.ui.studio import GRADIO_CACHE, Studio, launch

    page = Studio(tmp_path / "built").build()
    assert page.analytics_enabled is False
    assert page.get_config_file()["analytics_enabled"] is False
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"
    port = _free_port()
    app, studio = launch("127.0.0.1", port, root=tmp_path / "served", block=False)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/config") as resp:
            assert json.load(resp)["analytics_enabled"] is False
        cache = Path(os.environ["GRADIO_TEMP_DIR"])  # Gradio's copies of uploads
        assert cache == studio.root / GRADIO_CACHE
        _private(cache, 0o700)
    finally:
        app.close()


PROBE = """
import json, sys, time, urllib.request
from pathlib import Path
hosts = []
def hook(event, args):
    if event == "socket.getaddrinfo":
        hosts.append(str(args[0]))
    elif event == "socket.connect" and isinstance(args[1], tuple):
        hosts.append(str(args[1][0]))
sys.addaudithook(hook)
import gradio  # imported first, as another module might
from retake.ui.studio import launch
port = int(sys.argv[1])
page, studio = launch("127.0.0.1", port, root=Path(sys.argv[2]), block=False)
for path in ("/", "/config"):
    urllib.request.urlopen(f"http://127.0.0.1:{port}{path}").read()
time.sleep(2)  # time for a telemetry thread to start, if there were one
page.close()
print(json.dumps(sorted(set(hosts))))
"""


def test_launch_and_first_page_load_look_up_no_outside_host(tmp_path: Path) -> None:
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="True", GRADIO_SHARE="True")
    env.pop("HF_HUB_DISABLE_TELEMETRY", None)
    run = subprocess.run([sys.executable, "-c", PROBE, str(_free_port()), str(tmp_path / "r")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-3000:]
    hosts = json.loads(run.stdout.strip().splitlines()[-1])
    assert set(hosts) <= {"127.0.0.1", "localhost", "::1"}, hosts
