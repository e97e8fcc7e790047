"""Atomic outputs: write to a temporary file beside the target, then rename over it.

A crash or an error mid-write leaves the old file (or nothing), never half a file.
`atomic_group` does the same for several files that belong together.

Temporary files are named `.NAME.PID.XXXXXXXX.partSUFFIX` (hidden, beside NAME, with the
writing process's id). A process killed outright (kill -9, a power cut) cannot remove its
own, so the next write into the same folder removes the ones whose process is gone (and
those of older versions, which carry no process id, once they are an hour old). Nothing
else is ever removed: only regular files of this user that match the pattern exactly.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from retake.core.errors import RetakeError

_STALE = re.compile(r"\.(?P<name>.+?)\.(?:(?P<pid>\d{1,10})\.)?[a-z0-9_]{8}"
                    r"\.part(?P<suffix>.*)")
LEGACY_AGE_S = 3600.0  # temporary files without a process id: removed once this old
_swept: set[str] = set()
_sweep_lock = threading.Lock()


def _gone(pid: int) -> bool:
    """True when no process `pid` runs here (never guessed on Windows, where probing a
    process with os.kill would end it)."""
    if os.name == "nt" or pid <= 0:
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # EPERM: it runs, as another user
        return False
    return False


def stale_temporaries(folder: str | os.PathLike, now: float | None = None) -> list[Path]:
    """Our own temporary files in `folder` that no running process will finish: named as
    `atomic_group` names them, regular files of this user, and either made by a process
    that is gone or (no process id: an older Retake's, for a name with an extension) older
    than LEGACY_AGE_S."""
    now = time.time() if now is None else now
    found = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    uid = os.getuid() if hasattr(os, "getuid") else None
    for e in entries:
        m = _STALE.fullmatch(e.name)
        if not m or not m.group("name").endswith(m.group("suffix")):
            continue
        try:
            st = e.stat(follow_symlinks=False)
        except OSError:
            continue
        if not e.is_file(follow_symlinks=False) or (uid is not None and st.st_uid != uid):
            continue
        pid = m.group("pid")
        if (pid is not None and _gone(int(pid))) or (
                pid is None and m.group("suffix") and now - st.st_mtime > LEGACY_AGE_S):
            found.append(Path(e.path))
    return found


def sweep(folder: str | os.PathLike, force: bool = False) -> int:
    """Remove `stale_temporaries(folder)`, once per folder per process (every time with
    `force`). Returns how many were removed; errors are ignored (it is housekeeping)."""
    key = os.path.realpath(folder)
    with _sweep_lock:
        if key in _swept and not force:
            return 0
        _swept.add(key)
    n = 0
    for p in stale_temporaries(folder):
        with contextlib.suppress(OSError):
            p.unlink()
            n += 1
    return n


def check_writable(paths: Iterable[str | os.PathLike | None]) -> None:
    """Before any heavy work: raise unless every output file's folder exists and can be
    written, and no output names a folder."""
    for p in paths:
        if p is not None:
            _check_dir(Path(p))


def check_folder(folder: str | os.PathLike) -> None:
    """Before any heavy work: raise unless `folder` is a folder that can be written, or
    can be made (its nearest existing parent is a writable folder)."""
    folder = Path(folder)
    if folder.exists():
        if not folder.is_dir():
            raise RetakeError(f"{folder}: is a file; give a folder")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise RetakeError(f"{folder}: cannot write in this folder (permission denied); "
                              "give another with -o")
        return
    parent = folder.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise RetakeError(f"{folder}: cannot make this folder ({parent} is a file)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise RetakeError(f"{folder}: cannot make this folder in {parent} (permission "
                          "denied); give another with -o")


def write_failure(target: Path, exc: BaseException) -> RetakeError:
    """One line for a failed write of `target` (a full disk says so, and what to do)."""
    code = getattr(exc, "errno", None)
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return RetakeError(f"could not write {target}: the disk is full (no space left on "
                           "device); free some space and run again")
    if code == errno.EROFS:
        return RetakeError(f"could not write {target}: the disk is read-only; give an "
                           "output on another disk")
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return RetakeError(f"could not write {target}: {text}")


def _is_sound_error(exc: BaseException) -> bool:
    sf = sys.modules.get("soundfile")
    return sf is not None and isinstance(exc, getattr(sf, "SoundFileError", ()))


def _sound_failure(target: Path, exc: BaseException) -> RetakeError:
    import shutil

    try:
        full = shutil.disk_usage(target.parent if str(target.parent) else ".").free < 64e6
    except OSError:
        full = False
    if full:
        return write_failure(target, OSError(errno.ENOSPC, "No space left on device"))
    return RetakeError(f"could not write {target}: {exc} (is the disk full? free some "
                       "space and run again)")


def _check_dir(path: Path) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise RetakeError(f"{path}: the folder {parent} does not exist")
    if not parent.is_dir():
        raise RetakeError(f"{path}: {parent} is not a folder")
    if not os.access(parent, os.W_OK):
        raise RetakeError(f"{path}: cannot write in {parent} (permission denied)")
    if path.is_dir():
        raise RetakeError(f"{path}: is a folder; give a file name")


def _identity(path: Path) -> tuple[str, tuple[int, int] | None]:
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
        return real, (st.st_dev, st.st_ino)
    except OSError:
        return real, None


def refuse_inputs(outputs: Iterable[str | os.PathLike | None],
                  inputs: Iterable[str | os.PathLike | None]) -> None:
    """Raise unless every output (sidecars included) is a different file from every input,
    through symlinks and hard links: Retake never writes over what it reads."""
    seen: dict[object, Path] = {}
    for i in inputs:
        try:
            if i is None or not Path(i).exists():  # text given inline, not a file
                continue
        except (OSError, ValueError):
            continue
        real, inode = _identity(Path(i))
        seen[real] = Path(i)
        if inode is not None:
            seen[inode] = Path(i)
    for o in outputs:
        if o is None:
            continue
        real, inode = _identity(Path(o))
        hit = seen.get(real) or (seen.get(inode) if inode is not None else None)
        if hit is not None:
            raise RetakeError(f"{o}: this output would overwrite the input {hit}; Retake never "
                              "changes its inputs: choose another output name")


def _publish_mode(tmp: str) -> None:
    """Give a finished temporary file the mode a newly created file gets (umask honoured):
    mkstemp makes it 0600."""
    umask = os.umask(0)
    os.umask(umask)
    with contextlib.suppress(OSError):
        os.chmod(tmp, 0o666 & ~umask)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, private: bool = False) -> Iterator[str]:
    """Yield a temporary path beside `path`; rename it to `path` if the block succeeds."""
    with atomic_group([path], private) as (tmp,):
        yield tmp


@contextlib.contextmanager
def atomic_group(paths: list[str | os.PathLike], private: bool = False
                 ) -> Iterator[tuple[str, ...]]:
    """Yield temporary paths for several outputs; publish all of them only if the block
    succeeds. Published files get the usual mode for new files (the umask's), or 0600 when
    `private` (keys, studio sessions)."""
    targets = [Path(p) for p in paths]
    for t in targets:
        _check_dir(t)
    for folder in {t.parent if str(t.parent) else Path(".") for t in targets}:
        sweep(folder)
    tmps: list[str] = []
    try:
        for t in targets:
            fd, tmp = tempfile.mkstemp(prefix=f".{t.name}.{os.getpid()}.",
                                       suffix=".part" + t.suffix,
                                       dir=t.parent if str(t.parent) else ".")
            os.close(fd)
            tmps.append(tmp)
        yield tuple(tmps)
        for tmp, t in zip(tmps, targets, strict=True):
            if private:
                os.chmod(tmp, 0o600)
            else:
                _publish_mode(tmp)
            os.replace(tmp, t)
        tmps = []
    except OSError as exc:
        raise write_failure(targets[0], exc) from None
    except Exception as exc:
        if _is_sound_error(exc):  # libsndfile's "System error": a full disk, mostly
            raise _sound_failure(targets[0], exc) from None
        raise
    finally:
        for tmp in tmps:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def write_text(path: str | os.PathLike, text: str, fsync: bool = False) -> None:
    """Write UTF-8 text atomically (`fsync`: on disk before the rename, so a power cut
    leaves the old file or the whole new one)."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        if fsync:
            fh.flush()
            os.fsync(fh.fileno())
