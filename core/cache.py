"""On-disk cache for heavy analysis, keyed by a hash of the input content and the settings.

A second edit of the same recording should not wait for alignment again. The cache folder
is passed in by the caller (the CLI uses `default_cache_dir()`); nothing here is global.

Entries are `<cache>/<kind>/<key>.json`, written atomically with fsync, so a crash leaves the
old entry or none. An entry that does not parse is deleted and rebuilt, never fatal. The
folder is kept under a size cap (`$RETAKE_CACHE_MAX`, default 2G) by evicting the least
recently used entries; a hit marks an entry used. Only entries Retake wrote are ever removed.
User data (voice profiles) lives elsewhere: `user_data_dir()`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import numpy as np

from retake.core.atomic import atomic_path

T = TypeVar("T")
DEFAULT_MAX = 2 * 1024**3
_ENTRY = re.compile(r"^[0-9a-f]{32}\.(json|npz)$")
_KIND = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def default_cache_dir() -> Path:
    """$RETAKE_CACHE, else $XDG_CACHE_HOME/retake, else ~/.cache/retake."""
    if os.environ.get("RETAKE_CACHE"):
        return Path(os.environ["RETAKE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "retake"


def user_data_dir() -> Path:
    """Where the user's own Retake data lives (voice profiles): $RETAKE_DATA, else the
    platform's user data folder (e.g. ~/.local/share/retake)."""
    if os.environ.get("RETAKE_DATA"):
        return Path(os.environ["RETAKE_DATA"])
    import platformdirs

    return Path(platformdirs.user_data_dir("retake", appauthor=False))


def max_bytes() -> int:
    """The cache's size cap: $RETAKE_CACHE_MAX ("500M", "2G", bytes), default 2 GiB."""
    raw = os.environ.get("RETAKE_CACHE_MAX", "").strip().upper().removesuffix("B")
    if not raw:
        return DEFAULT_MAX
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGT]?)I?", raw)
    if not m:
        return DEFAULT_MAX
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def content_key(samples: np.ndarray, *settings: object) -> str:
    """A hex digest of audio samples and any JSON-serialisable settings."""
    flat = np.asarray(samples, dtype=np.float32).reshape(-1)
    # block by block: a long recording is not copied
    return blocks_key((flat[a:a + (1 << 20)] for a in range(0, len(flat), 1 << 20)),
                      *settings)


def blocks_key(blocks: Iterable[np.ndarray], *settings: object) -> str:
    """`content_key` of the samples that `blocks` give one after another (a signal that is
    never held whole has the key it would have whole)."""
    h = hashlib.sha256()
    for block in blocks:
        h.update(np.ascontiguousarray(block, dtype=np.float32))
    h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return h.hexdigest()[:32]


def _path(cache_dir: Path, kind: str, key: str, suffix: str = ".json") -> Path:
    if not _KIND.match(kind) or not _ENTRY.match(f"{key}{suffix}"):
        raise ValueError(f"bad cache entry name {kind}/{key}")
    return Path(cache_dir) / kind / f"{key}{suffix}"


def _read(path: Path, read: Callable[[Path], T]) -> T | None:
    """`read(path)`, or None when the entry is absent; a damaged entry (anything `read`
    raises) is deleted so it is rebuilt, never fatal; a hit marks the entry recently used."""
    try:
        value = read(path)
    except FileNotFoundError:
        return None
    except Exception:  # noqa: BLE001 - a damaged entry is rebuilt, never fatal
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    with contextlib.suppress(OSError):
        os.utime(path)
    return value


def _write(cache_dir: Path, path: Path, write: Callable[[object], None]) -> None:
    """Write an entry atomically with fsync, then keep the folder under its cap; a cache
    that cannot be written is silently skipped."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        prune(cache_dir, max_bytes())
    except Exception:  # noqa: BLE001 - a cache must never break the job
        pass


def load(cache_dir: Path | None, kind: str, key: str,
         parse: Callable[[str], T] = str) -> T | None:
    """The cached entry for (kind, key) run through `parse`, or None (see `_read`)."""
    if cache_dir is None:
        return None
    return _read(_path(cache_dir, kind, key),
                 lambda path: parse(path.read_text(encoding="utf-8")))


def store(cache_dir: Path | None, kind: str, key: str, text: str) -> None:
    """Save text for (kind, key) (see `_write`)."""
    if cache_dir is not None:
        _write(cache_dir, _path(cache_dir, kind, key), lambda fh: fh.write(text.encode()))


def load_arrays(cache_dir: Path | None, kind: str, key: str) -> dict[str, np.ndarray] | None:
    """Cached numpy arrays for (kind, key) (an .npz written by `store_arrays`), or None.
    Arrays only: never pickles."""
    if cache_dir is None:
        return None

    def read(path: Path) -> dict[str, np.ndarray]:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}

    return _read(_path(cache_dir, kind, key, ".npz"), read)


def store_arrays(cache_dir: Path | None, kind: str, key: str, **arrays: np.ndarray) -> None:
    """Save numpy arrays for (kind, key) (see `_write`)."""
    if cache_dir is not None:
        _write(cache_dir, _path(cache_dir, kind, key, ".npz"),
               lambda fh: np.savez(fh, **arrays))


def entries(cache_dir: Path) -> list[Path]:
    """Every entry Retake wrote in the cache folder (never other files)."""
    root = Path(cache_dir)
    if not root.is_dir():
        return []
    found = []
    for kind in root.iterdir():
        if kind.is_dir() and not kind.is_symlink() and _KIND.match(kind.name):
            found += [p for p in kind.iterdir()
                      if _ENTRY.match(p.name) and p.is_file() and not p.is_symlink()]
    return found


def prune(cache_dir: Path, limit: int) -> int:
    """Delete least recently used entries until the cache holds at most `limit` bytes;
    returns how many were deleted."""
    stats = []
    for p in entries(cache_dir):
        with contextlib.suppress(OSError):
            st = p.stat()
            stats.append((st.st_mtime, st.st_size, p))
    total = sum(s for _, s, _ in stats)
    deleted = 0
    for _, size, p in sorted(stats):
        if total <= limit:
            break
        with contextlib.suppress(OSError):
            p.unlink()
            total -= size
            deleted += 1
    return deleted


def info(cache_dir: Path) -> dict:
    """Entries and bytes per kind, the total, and the cap."""
    kinds: dict[str, dict[str, int]] = {}
    for p in entries(cache_dir):
        with contextlib.suppress(OSError):
            k = kinds.setdefault(p.parent.name, {"entries": 0, "bytes": 0})
            k["entries"] += 1
            k["bytes"] += p.stat().st_size
    return {"folder": str(cache_dir), "kinds": kinds,
            "entries": sum(k["entries"] for k in kinds.values()),
            "bytes": sum(k["bytes"] for k in kinds.values()), "max_bytes": max_bytes()}


def clear(cache_dir: Path, kind: str | None = None) -> int:
    """Delete the entries (of one kind, or all); returns how many."""
    n = 0
    for p in entries(cache_dir):
        if kind is None or p.parent.name == kind:
            with contextlib.suppress(OSError):
                p.unlink()
                n += 1
    return n
