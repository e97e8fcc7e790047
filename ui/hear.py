"""Hear before you commit: each edit with 2 s of context, original and edited; every take.

After a render the studio writes, for each edit of the report, two short clips: the original
recording around the words it changed (`STEM-editI-original.wav`, the user's own audio) and
the edited recording around the new words (`STEM-editI-edited.wav`, cut from the watermarked
output, so it keeps the output's mark, with disclosure metadata and signed Content
Credentials of its own). An edit with several takes also lists them; "use this take"
re-renders the whole edit with that take placed (`EditOptions.use_takes`), through the same
path as every render.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retake.ui.takes import CONTEXT_S

TAKE_NAME = re.compile(r"-span(\d+)-take(\d+)\.wav$")


@dataclass
class Heard:
    """One edit as the page lets it be heard."""

    label: str  # "1: replace “monday” at 1.20 s"
    text: str  # its words
    original: str  # clip of the original around it
    edited: str  # clip of the edited recording around it
    span: int | None = None  # its index among the synthesized spans (and result.takes)
    takes: dict[int, str] = field(default_factory=dict)  # take (1 = best) -> clip; placed: ""
    placed: int = 1  # the take in the edited file


@dataclass
class Rendered:
    """The last render of a session: what "use this take" re-renders."""

    text: str
    takes: int
    picks: list[int]  # per synthesized span, the take placed (0 = best)
    edits: list[Heard]


def original_span(result, start: float, end: float) -> tuple[float, float]:
    """The stretch of the original recording an edit at [start, end] (edited s) replaced:
    the knots of the time map on its edges (a cut is a horizontal step there)."""
    eps = 1e-6
    o = [k[0] for k in result.timemap.knots if start - eps <= k[1] <= end + eps]
    if not o:
        a = float(result.timemap.to_original(start))
        return a, max(a, float(result.timemap.to_original(end)))
    return min(o), max(o)


def _crop(x: np.ndarray, sr: int, a: float, b: float) -> tuple[np.ndarray, float]:
    s0 = max(0, int(round((a - CONTEXT_S) * sr)))
    s1 = min(len(x), int(round((b + CONTEXT_S) * sr)))
    return np.asarray(x[s0:max(s0, s1)], np.float32), s0 / sr


def _plain(path: Path, clip: np.ndarray, sr: int) -> str:
    import soundfile as sf

    from retake.core.atomic import atomic_path

    with atomic_path(path, private=True) as tmp:
        sf.write(str(tmp), clip, sr, subtype="PCM_16", format="WAV")
    os.chmod(path, 0o600)
    return str(path)


def _edited(path: Path, clip: np.ndarray, sr: int, spans, provenance) -> str:
    from retake.core.atomic import atomic_path
    from retake.voice.io import write_wav_with_metadata
    made = ", ".join(f"{a:.2f}-{b:.2f}s" for a, b in spans) or "none (a cut)"
    with atomic_path(path, private=True) as tmp:
        write_wav_with_metadata(tmp, clip, sr, f"Edited with Retake; synthesized speech at: "
                                f"{made}")
        provenance.sign_file(tmp, [], [], synthetic_spans=list(spans), title=path.name)
    os.chmod(path, 0o600)
    return str(path)


def hear_edits(result, original: np.ndarray, original_sr: int, stem: Path, provenance,
               takes: list[str], placed=()) -> list[Heard]:
    """The context clips of every edit of `result` and the take clips (`takes`, as
    `write_takes` named them) that belong to each."""
    from retake.align.audio import resample

    sr = result.sample_rate
    if original_sr != sr:
        original = resample(np.asarray(original, np.float32), original_sr, sr)
    by_span: dict[int, dict[int, str]] = {}
    for p in takes:
        m = TAKE_NAME.search(p)
        if m:
            by_span.setdefault(int(m.group(1)) - 1, {})[int(m.group(2))] = p
    synth = [id(e) for e in result.report.synthesized]
    out: list[Heard] = []
    for i, e in enumerate(result.report.edits):
        a, b = original_span(result, e.start, e.end)
        before, _ = _crop(original, sr, a, b)
        after, t0 = _crop(result.samples, sr, e.start, e.end)
        spans = [] if e.engine in ("cut", "reuse") else \
            [(max(0.0, e.start - t0), max(0.0, e.end - t0))]
        name = f"{stem.name}-edit{i + 1}"
        h = Heard(f"{i + 1}: {e.kind} “{e.text}” at {e.start:.2f} s", e.text,
                  _plain(stem.with_name(name + "-original.wav"), before, sr),
                  _edited(stem.with_name(name + "-edited.wav"), after, sr, spans, provenance))
        if id(e) in synth:
            h.span = synth.index(id(e))
            n = len(result.takes[h.span]) if h.span < len(result.takes) else 1
            h.placed = 1 + (placed[h.span] if h.span < len(placed) else 0)
            h.placed = min(max(1, h.placed), n)
            h.takes = {k: by_span.get(h.span, {}).get(k, "") for k in range(1, n + 1)}
        out.append(h)
    return out


def take_choices(h: Heard) -> list[str]:
    """The takes of one edit as the page lists them."""
    return [f"take {k}" + (" (in the output)" if k == h.placed else "") for k in h.takes]


def take_number(choice: str | None) -> int | None:
    """The take a choice of `take_choices` names."""
    m = re.match(r"take (\d+)", choice or "")
    return int(m.group(1)) if m else None


def takes_used(r: Rendered) -> str:
    """A line for the report: which take each edit with takes uses."""
    parts = [f"edit {i + 1} “{h.text}”: take {h.placed} of {len(h.takes)}"
             for i, h in enumerate(r.edits) if len(h.takes) > 1]
    return ("Takes used: " + "; ".join(parts)) if parts else ""
