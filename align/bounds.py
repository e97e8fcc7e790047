"""A person corrects where a word starts or ends (the studio's draggable word regions).

Forced alignment is right to a few tens of milliseconds on clear speech and can be off by a
syllable on a mumbled word; an editor who hears the cut in the wrong place drags the word's
edge. The word's phones (and its spoken words' intervals) stretch with it, so every later
cut, unit and lip shape follows the correction; a neighbour it now overlaps gives way, and
no word shrinks below `MIN_WORD_S`.
"""

from __future__ import annotations

from retake.align.types import Alignment, Phone, Word
from retake.core.errors import RetakeError

MIN_WORD_S = 0.03


def _stretch(items: list[Phone], old: tuple[float, float], new: tuple[float, float]
             ) -> list[Phone]:
    (a0, a1), (b0, b1) = old, new
    scale = (b1 - b0) / (a1 - a0) if a1 > a0 else 0.0

    def at(t: float) -> float:
        return b0 + (t - a0) * scale if a1 > a0 else b0

    return [Phone(p.label, at(p.start), at(p.end)) for p in items]


def _set(w: Word, start: float, end: float) -> None:
    old = (w.start, w.end)
    w.phones = _stretch(w.phones, old, (start, end))
    w.parts = _stretch(w.parts, old, (start, end))
    w.start, w.end = start, end


def move_word(al: Alignment, i: int, start: float, end: float) -> dict[int, tuple[float, float]]:
    """Give aligned word `i` the span [start, end) (clamped to the recording and its
    neighbours), in place; returns every word whose span changed, with its new span."""
    if not 0 <= i < len(al.words) or not al.words[i].aligned:
        raise RetakeError(f"word {i + 1} is not aligned; only a placed word can be moved")
    w = al.words[i]
    before = {k: (v.start, v.end) for k, v in enumerate(al.words)}
    prev = next((k for k in range(i - 1, -1, -1) if al.words[k].aligned), None)
    nxt = next((k for k in range(i + 1, len(al.words)) if al.words[k].aligned), None)
    lo = al.words[prev].start + MIN_WORD_S if prev is not None else 0.0
    hi = al.words[nxt].end - MIN_WORD_S if nxt is not None else al.duration
    start = min(max(float(start), lo), hi - MIN_WORD_S)
    end = max(min(float(end), hi), start + MIN_WORD_S)
    if prev is not None and al.words[prev].end > start:
        _set(al.words[prev], al.words[prev].start, start)
    if nxt is not None and al.words[nxt].start < end:
        _set(al.words[nxt], end, al.words[nxt].end)
    _set(w, start, end)
    return {k: (v.start, v.end) for k, v in enumerate(al.words) if (v.start, v.end) != before[k]}
