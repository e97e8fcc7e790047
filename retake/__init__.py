"""Retake: edit what was said in a recording by editing its transcript, offline.

The few calls a notebook needs, importable from the top (each loads its room on first use,
so `import retake` stays fast):

    import retake
    audio = retake.load_audio("memo.wav")
    al = retake.align(audio, "Meet me at noon.")
    result = retake.edit(audio, "Meet me at noon.", "Meet me at three.", consent=True)
    retake.write_edit(result, "memo-edited.wav")

Rooms, lowest first: `retake.core` (plumbing), `retake.align`, `retake.awareness` (marks
and checks), `retake.voice`, `retake.video`, `retake.ui`.
"""

from __future__ import annotations

import importlib

from retake.core.version import __version__

_API = ("load_audio", "align", "transcribe", "edit", "write_edit", "dub", "swap", "lipsync",
        "detect", "write_report", "Provenance")

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    """Load the façade's functions lazily (PEP 562)."""
    if name in _API:
        return getattr(importlib.import_module("retake.api"), name)
    raise AttributeError(f"module 'retake' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
