"""Long recordings aligned piece by piece: cut at pauses, each piece taking the leading run
of the remaining words its speech covers (bounded memory, time linear in length)."""

from __future__ import annotations

import numpy as np

from retake.align.audio import ALIGN_RATE
from retake.align.chunks import HOP, Cutter
from retake.align.fit import Result, band_floor, loud_threshold, robust_as_timings, to_results
from retake.align.timing import WordTiming
from retake.core.progress import Progress

_ENTRY_SLACK = 12  # words a piece's text may start before or after where the last one ended
_RESYNC_SLACK = 80  # ...and how far to look when a piece's fit collapses


def align_pieces(
    engine, x: np.ndarray, words: list[str], pauses: list, progress: Progress | None,
    energy: np.ndarray, band: np.ndarray,
) -> list:
    """Align all words over the whole audio, piece by piece. Returns one Result|None per word.

    Each piece ends at a pause about 25 s on and takes the leading run of the remaining words
    that its speech covers. The next piece starts where that run's last word starts (the
    word is aligned again, with its full context), not at the cut: speech the run did not
    cover is looked at again rather than lost. Its text may also start a few words earlier
    or later than where the previous piece stopped, so a piece that took a few words too
    many or too few does not shift every piece after it.
    """
    results: list[Result | None] = [None] * len(words)
    cutter = Cutter(x, ALIGN_RATE, energy=energy)
    total = len(x) / ALIGN_RATE
    active = np.cumsum(~cutter.quiet)  # frames with sound, for words-per-second of sound
    rate = len(words) / max(float(active[-1]), 1.0)  # words per active frame
    a, p = 0, 0
    fits: list[float] = []  # median word fit of each piece so far
    typical = None
    while p < len(words) and a < len(x):
        b = cutter.next_cut(a)
        last = b is None
        piece = x[a:] if last else x[a:b]
        offset = a // HOP
        if last:
            timings = engine.align(piece, words[p:])
            if timings is None:
                # Usually more transcript than speech: take what the speech covers, and let
                # the repair step sort out the words left over.
                timings = engine.align_prefix(piece, words[p:])
            if timings is None:
                timings = robust_as_timings(engine, piece, words[p:])
            to_results(timings or [], offset, p, results, pauses)
            break
        f0, f1 = a // HOP, min(b // HOP, len(active)) - 1
        expected = max(1.0, float(active[f1] - (active[f0 - 1] if f0 else 0)) * rate)
        width = int(expected * 1.6) + 20
        timings, ws = _align_piece(engine, piece, words, p, width, expected,
                                   min(_ENTRY_SLACK, p))
        fit = _median_fit(timings)
        if p > 0 and fit is not None and typical is not None and fit < typical - 25:
            # The piece fits far worse than the recording so far: the text has probably
            # drifted from the speech. Look for where it really starts, further back or on.
            wide, wide_ws = _align_piece(engine, piece, words, p, width, expected,
                                         min(_RESYNC_SLACK, p), entry_cost=0.95)
            wide_fit = _median_fit(wide)
            if wide_fit is not None and wide_fit > fit:
                timings, ws = wide, wide_ws
        fit = _median_fit(timings)
        if fit is not None:
            fits.append(fit)
            typical = float(np.median(fits))
        timings = _cut_at_loud_pause(timings or [], band, offset)
        got = [t for t in timings if t.index >= 0]
        if len(got) >= 2:
            keep = [t for t in timings if t.index < got[-1].index and
                    (t.index >= 0 or t.end <= got[-1].start)]
            for k in range(ws + got[0].index, p):  # words this piece places anew
                results[k] = None
            to_results(keep, offset, ws, results, pauses)
            p = ws + got[-1].index
            a_next = a + got[-1].start * HOP
        else:  # nothing usable: move on to the cut and let the repair step deal with it
            to_results(got, offset, ws, results, pauses)
            p = max(p, ws + (got[-1].index + 1 if got else 0))
            a_next = b
        a = max(a_next, a + 5 * ALIGN_RATE)  # always make progress
        if progress:
            progress("aligning", a / ALIGN_RATE, total)
    if progress:
        progress("aligning", total, total)
    return results


def _median_fit(timings) -> float | None:
    scores = [t.score_per_frame for t in timings or [] if t.index >= 0]
    return float(np.median(scores)) if scores else None


def _align_piece(engine, piece, words, p: int, width: int, expected: float, slack: int,
                 entry_cost: float = 0.3):
    """Align one piece of a long recording: a run of words starting near word `p`.
    Returns (timings, index of the window's first word)."""
    ws = p - slack  # the window starts a few words back, so the entry can move
    while True:
        window = words[ws:p + width]
        timings = engine.align_prefix(piece, window, expected, slack, slack, entry_cost)
        last_word = max((t.index for t in timings or []), default=-1)
        if last_word < len(window) - 1 or p + width >= len(words):
            break
        width *= 2  # the piece may hold more words than expected: widen and retry
    if timings is None:  # the piece holds fewer words than expected: let it end anywhere
        timings = engine.align_prefix(piece, window, None, slack, slack, entry_cost)
    if timings is None:
        timings, ws = robust_as_timings(engine, piece, words[p:p + width]), p
    return timings, ws


def _cut_at_loud_pause(timings: list[WordTiming], band, offset: int) -> list[WordTiming]:
    """Keep a piece's timings only up to the first long "pause" that is loud in the speech
    band. A search that may end anywhere can swallow speech it cannot fit into silence and
    match later words to later sound; stopping before such a pause lets the next piece
    start afresh there."""
    words = [t for t in timings if t.index >= 0]
    if band is None or len(words) < 3:
        return timings
    level = float(np.median(np.concatenate(
        [band[offset + t.start:offset + t.end] for t in words])))
    floor = band_floor(band[offset + words[0].start:offset + words[-1].end])
    loud = loud_threshold(floor, level)
    for k, t in enumerate(timings):
        if t.index >= 0 or t.end - t.start < 100 or t.start <= words[1].start:
            continue
        if float(np.median(band[offset + t.start:offset + t.end])) > loud:
            # keep words before the pause plus the next word as the hand-over point
            nxt = next((u for u in timings[k + 1:] if u.index >= 0), None)
            return timings[:k] + ([nxt] if nxt is not None else [])
    return timings
