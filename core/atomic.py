"""Atomic outputs: write to a temporary file beside the target, then rename over it.

A crash or an error mid-write leaves the old file (or nothing), never half a file.
`atomic_group` does the same for several files that belong together.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from retake.core.errors import RetakeError


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
    tmps: list[str] = []
    try:
        for t in targets:
            fd, tmp = tempfile.mkstemp(prefix=f".{t.name}.", suffix=".part" + t.suffix,
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
        raise RetakeError(f"could not write {targets[0]}: {exc.strerror or exc}") from None
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
