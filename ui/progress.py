"""Progress bars for long jobs: a rich bar with the processing rate, fed by a callback.

Library functions report `progress(stage, done, total)` (core.progress); this turns that into
a bar on stderr whose label follows the stage. The studio draws the same calls in Gradio.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)


@contextlib.contextmanager
def progress_bar(label: str, unit: str = "s of audio", enabled: bool = True) -> Iterator:
    """Yield a `progress(stage, done, total)` callback drawing a bar with `unit` per second
    (None when disabled)."""
    if not enabled:
        yield None
        return
    console = Console(stderr=True)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(label, total=None, rate="")

        def update(stage: str, done: float, total: float) -> None:
            elapsed = bar.tasks[0].elapsed or 0.0
            rate = f"{done / elapsed:.1f} {unit}/s" if elapsed > 0 else ""
            bar.update(task, description=stage or label, completed=done, total=total or None,
                       rate=rate)

        yield update
