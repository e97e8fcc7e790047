"""Atomic outputs: write to a temporary file beside the target, then rename over it.

A crash or an error mid-write leaves the old file (or nothing), never half a file.
`atomic_group` does the same for several files that belong together.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
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


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path beside `path`; rename it to `path` if the block succeeds."""
    with atomic_group([path]) as (tmp,):
        yield tmp


@contextlib.contextmanager
def atomic_group(paths: list[str | os.PathLike]) -> Iterator[tuple[str, ...]]:
    """Yield temporary paths for several outputs; publish all of them only if the block succeeds."""
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
