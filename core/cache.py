"""On-disk cache for heavy analysis, keyed by a hash of the input content and the settings.

A second edit of the same recording should not wait for alignment again. The cache folder
is passed in by the caller (the CLI uses `default_cache_dir()`); nothing here is global.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from retake.core.atomic import write_text


def default_cache_dir() -> Path:
    """$RETAKE_CACHE, else $XDG_CACHE_HOME/retake, else ~/.cache/retake."""
    if os.environ.get("RETAKE_CACHE"):
        return Path(os.environ["RETAKE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "retake"


def content_key(samples: np.ndarray, *settings: object) -> str:
    """A hex digest of audio samples and any JSON-serialisable settings."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(samples, dtype=np.float32).tobytes())
    h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return h.hexdigest()[:32]


def load(cache_dir: Path | None, kind: str, key: str) -> str | None:
    """The cached text for (kind, key), or None."""
    if cache_dir is None:
        return None
    path = Path(cache_dir) / kind / f"{key}.json"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def store(cache_dir: Path | None, kind: str, key: str, text: str) -> None:
    """Save text for (kind, key); a cache that cannot be written is silently skipped."""
    if cache_dir is None:
        return
    folder = Path(cache_dir) / kind
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_text(folder / f"{key}.json", text)
    except Exception:  # noqa: BLE001 - a cache must never break the job
        pass
