"""Interchange formats editors already use: JSON, Praat TextGrid and Audacity labels.

TextGrids have tiers `words` and `phones` (plus `unaligned` when something could not be
aligned); they are written with praatio and read back by Praat itself. Audacity label
files are tab-separated `start end label` lines, one per word.
"""

from __future__ import annotations

import os
from pathlib import Path

from retake.align.types import Alignment, Span
from retake.core.atomic import atomic_group
from retake.core.errors import RetakeError

FORMATS = {"json": ".json", "textgrid": ".TextGrid", "labels": ".labels.txt"}


def _intervals(items: list[tuple[float, float, str]], duration: float):
    """Sorted, non-overlapping, non-empty intervals inside [0, duration]."""
    out: list[tuple[float, float, str]] = []
    last = 0.0
    for start, end, label in sorted(items, key=lambda t: t[0]):
        start = max(round(start, 4), last)
        end = min(round(end, 4), round(duration, 4))
        if end - start < 1e-4:
            continue
        out.append((start, end, label))
        last = end
    return out


def _span_label(span: Span, al: Alignment) -> str:
    if span.kind == "missing":
        return "missing: " + " ".join(al.words[i].text for i in span.words)
    return span.kind


def to_textgrid(al: Alignment):
    """A praatio Textgrid with tiers words, phones (and unaligned, if any)."""
    from praatio import textgrid

    dur = max(al.duration, 1e-3)
    tg = textgrid.Textgrid(minTimestamp=0.0, maxTimestamp=dur)
    words = _intervals([(w.start, w.end, w.text) for w in al.words if w.aligned], dur)
    phones = _intervals([(p.start, p.end, p.label) for p in al.phones()], dur)
    tg.addTier(textgrid.IntervalTier("words", words, 0.0, dur))
    tg.addTier(textgrid.IntervalTier("phones", phones, 0.0, dur))
    if al.unaligned:
        spans = []
        for s in al.unaligned:
            start, end = s.start, s.end
            if end - start < 0.02:  # a missing word between two others: mark the junction
                start, end = max(0.0, start - 0.01), min(dur, end + 0.01)
            spans.append((start, end, _span_label(s, al)))
        tg.addTier(textgrid.IntervalTier("unaligned", _intervals(spans, dur), 0.0, dur))
    return tg


def to_labels(al: Alignment) -> str:
    """Audacity label track text: one `start<TAB>end<TAB>label` line per aligned word."""
    lines = [f"{w.start:.6f}\t{w.end:.6f}\t{w.text}" for w in al.words if w.aligned]
    lines += [f"{s.start:.6f}\t{s.end:.6f}\t[{_span_label(s, al)}]" for s in al.unaligned]
    return "\n".join(lines) + "\n"


def output_paths(out: str | os.PathLike, stem: str, formats=tuple(FORMATS)) -> dict[str, Path]:
    """Where each format goes for `-o OUT`: OUT.json etc.; OUT may be a folder (then the
    audio's stem names the files) or carry one of the extensions (which is dropped)."""
    out = Path(out)
    if out.is_dir() or str(out).endswith(os.sep):
        base = out / stem
    else:
        name = out.name
        for ext in (*FORMATS.values(), ".txt"):
            if name.lower().endswith(ext.lower()):
                name = name[: -len(ext)]
                break
        base = out.with_name(name)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise RetakeError(f"unknown output format(s): {', '.join(unknown)}; "
                          f"choose from {', '.join(FORMATS)}")
    return {f: base.with_name(base.name + FORMATS[f]) for f in formats}


def write_alignment(al: Alignment, paths: dict[str, Path]) -> None:
    """Write the alignment in each format; all files appear together or none do."""
    keys = list(paths)
    with atomic_group([paths[k] for k in keys]) as tmps:
        for key, tmp in zip(keys, tmps, strict=True):
            if key == "json":
                Path(tmp).write_text(al.to_json(), encoding="utf-8")
            elif key == "textgrid":
                to_textgrid(al).save(tmp, format="long_textgrid", includeBlankSpaces=True)
            elif key == "labels":
                Path(tmp).write_text(to_labels(al), encoding="utf-8")


def read_alignment(path: str | os.PathLike) -> Alignment:
    """Load an alignment written by `write_alignment` (the JSON file)."""
    try:
        return Alignment.from_json(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RetakeError(f"{path}: not a readable Retake alignment ({exc})") from None
