"""The one progress signature every long job reports through: `progress(stage, done, total)`.

`stage` names the step ("aligning", "tracking", "swapping", ...), `done` and `total` are in
the stage's own unit (seconds of audio, frames, steps); `total` may be 0 when unknown. The CLI
draws a rich bar from it, the studio a Gradio bar; the studio's callback may raise to cancel.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, float, float], None]


def stage(progress: Progress | None, name: str) -> Callable[[float, float], None] | None:
    """`progress` with the stage fixed, for loops that report `(done, total)`; None stays
    None so callers can test it cheaply."""
    if progress is None:
        return None
    return lambda done, total: progress(name, done, total)
