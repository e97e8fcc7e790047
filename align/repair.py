"""Where the transcript and the sound disagree: find the stretches whose fit collapses,
re-align them with a search that may skip words and absorb untranscribed sound, and verify
every skip or garbage claim by forcing the simpler explanation back in."""

from __future__ import annotations

import logging

import numpy as np

from retake.align.audio import ALIGN_RATE
from retake.align.chunks import FRAME, HOP
from retake.align.fit import (
    GARBAGE_PROB,
    MIN_GARBAGE,
    SKIP_PROB,
    UNSCORED,
    Limits,
    LocalLimits,
    Result,
    band_floor,
    loud_threshold,
    to_results,
)
from retake.align.types import Span

log = logging.getLogger(__name__)

_BAD_RUN_WORDS = 3  # this many badly fitting words near each other trigger a robust re-align
_BAD_PAIR_MARGIN = 8.0  # ...or one fewer, if each is this far below the limit


def _bad_regions(results: list, limits: LocalLimits) -> list[tuple[int, int]]:
    """Runs of words whose scores collapsed (or that are missing), as inclusive index ranges.

    Natural speech has isolated badly scored words (fast function words); a transcript that
    does not match the audio leaves a run of them. A run counts when it has at least
    `_BAD_RUN_WORDS` bad words (or one fewer, each well below the limit), or holds a word the
    search could not place at all, or a single word scores below its local `bad_single`.
    """
    n = len(results)
    bad = [r is None or r.spf < limits.at(r.start).bad_run for r in results]
    regions: list[tuple[int, int]] = []
    i = 0
    while i < n:
        if not bad[i]:
            i += 1
            continue
        j = i
        # extend, bridging single good words between bad ones
        while j + 1 < n and (bad[j + 1] or (j + 2 < n and bad[j + 2])):
            j += 1
        while not bad[j]:
            j -= 1
        run = results[i:j + 1]
        excess = [r.spf - limits.at(r.start).bad_run for r, b in zip(run, bad[i:j + 1],
                                                                   strict=True) if b and r]
        n_bad = len(excess)
        if (n_bad >= _BAD_RUN_WORDS or any(r is None for r in run)
                or (n_bad == _BAD_RUN_WORDS - 1 and max(excess) < -_BAD_PAIR_MARGIN)
                or min(r.spf - limits.at(r.start).bad_single for r in run) < 0):
            regions.append((i, j))
        i = j + 1
    return regions


def _region_bounds(results: list, pauses: list, lo: int, hi: int, duration: float):
    """Audio span to re-align for words lo..hi: from the middle of the last pause before the
    region to the middle of the first pause after it (within 2 s), else at anchor words."""
    first = next((r for r in results[lo:hi + 1] if r is not None), None)
    last = next((r for r in reversed(results[lo:hi + 1]) if r is not None), None)
    before = results[lo - 1].end if lo > 0 and results[lo - 1] is not None else 0.0
    after = results[hi + 1].start if hi + 1 < len(results) and results[hi + 1] is not None \
        else duration
    t_first = first.start if first else before
    t_last = last.end if last else after
    t0 = 0.0 if lo == 0 else before
    t1 = duration if hi == len(results) - 1 else after
    long_pauses = [p for p in pauses if p.end - p.start >= 0.1]
    mids_before = [(p.start + p.end) / 2 for p in long_pauses
                   if p.end <= t_first + 1e-6 and p.start >= t_first - 2]
    mids_after = [(p.start + p.end) / 2 for p in long_pauses
                  if p.start >= t_last - 1e-6 and p.end <= t_last + 2]
    if lo > 0 and mids_before:
        t0 = max(mids_before)
    if hi < len(results) - 1 and mids_after:
        t1 = min(mids_after)
    return t0, t1


def repair(
    engine, x: np.ndarray, words: list[str], results: list, pauses: list, spans: list[Span],
    limits: LocalLimits,
) -> None:
    """Re-align collapsed stretches with skips and garbage; mark what is missing or extra."""
    n = len(words)
    duration = len(x) / ALIGN_RATE
    regions: list[list] = []
    for i, j in _bad_regions(results, limits):
        # Grow the region by two anchor words each side, then to the surrounding pauses.
        lo, hi = max(0, i - 2), min(n - 1, j + 2)
        t0, t1 = _region_bounds(results, pauses, lo, hi, duration)
        # Words lying wholly inside [t0, t1] join the region too.
        while lo > 0 and results[lo - 1] is not None and results[lo - 1].start >= t0 - 1e-6:
            lo -= 1
        while hi < n - 1 and results[hi + 1] is not None and results[hi + 1].end <= t1 + 1e-6:
            hi += 1
        if regions and lo <= regions[-1][1] + 1:  # overlapping regions become one
            prev = regions[-1]
            regions[-1] = [prev[0], max(prev[1], hi), min(prev[2], t0), max(prev[3], t1)]
        else:
            regions.append([lo, hi, t0, t1])
    for lo, hi, t0, t1 in regions:
        if t1 - t0 > 90 or hi - lo > 150:
            log.info("region %d-%d too long to re-align robustly; left as is", lo, hi)
            continue
        a = int(t0 * ALIGN_RATE) // HOP * HOP
        b = int(t1 * ALIGN_RATE)
        lim = limits.at((t0 + t1) / 2)
        items = engine.align_robust(x[a:b], words[lo:hi + 1], SKIP_PROB,
                                    lim.garbage_prob(GARBAGE_PROB))
        if items is None:
            continue
        off = a // HOP
        found = {it.index for it in items if it.index is not None}
        garbage = [it for it in items if it.index is None and
                   (it.end - it.start) * FRAME >= MIN_GARBAGE]
        if len(found) == hi - lo + 1 and not garbage:
            continue  # the words are all there: the plain alignment stands
        # Rebuild the region: found words get robust times, then phones per run of words
        # that follow each other with no garbage between them.
        for k in range(lo, hi + 1):
            results[k] = None
        for it in items:
            if it.index is not None:
                results[lo + it.index] = Result((it.start + off) * FRAME,
                                                 (it.end + off) * FRAME, spf=UNSCORED)
        gaps = [((g.start + off) * FRAME, (g.end + off) * FRAME) for g in garbage]
        gaps = _verify(engine, x, words, results, lo, hi, t0, t1, gaps, lim)
        for g0, g1 in gaps:
            spans.append(Span("untranscribed", g0, g1,
                              note="sound the transcript does not account for"))
        k = lo
        while k <= hi:
            if results[k] is None:
                k += 1
                continue
            m = k
            while (m + 1 <= hi and results[m + 1] is not None
                   and not _garbage_between(gaps, results[m].end, results[m + 1].start)):
                m += 1
            _realign_run(engine, x, words, results, k, m)
            k = m + 1
        for k in range(lo, hi + 1):
            if results[k] is None:
                results[k] = Result(0.0, 0.0, found=False)


def _garbage_between(gaps: list[tuple[float, float]], t0: float, t1: float) -> bool:
    return any(g0 < t1 + 0.05 and g1 > t0 - 0.05 for g0, g1 in gaps)


def _force(engine, x, words, results, a: int, b: int, t0: float, t1: float):
    """Force words a..b over [t0, t1]; return (word timings, pause timings, start sample)."""
    s0 = max(0, int(t0 * ALIGN_RATE) // HOP * HOP - 3 * HOP)
    s1 = min(len(x), int(t1 * ALIGN_RATE) + 3 * HOP)
    timings = engine.align(x[s0:s1], words[a:b + 1]) or []
    return timings, s0


def _fits(timings, n: int, lim: Limits, strict: bool, edge: str = "") -> bool:
    """Whether forced timings of n words are believable. The found word(s) at the ends are
    anchors; only the words between them (or beyond an anchor at a region edge) are judged,
    leniently when there is no extra sound to explain, strictly when there is."""
    got = [t for t in timings if t.index >= 0]
    if len(got) != n:
        return False
    if strict:
        return (all(t.score_per_frame > lim.bad_run for t in got)
                and all(t.score_per_frame > lim.bad_pause for t in timings if t.index < 0))
    judged = {"start": got[:-1], "end": got[1:]}.get(edge, got[1:-1])
    return all(t.score_per_frame > lim.bad_single for t in judged)


def _verify(engine, x, words, results, lo: int, hi: int, t0: float, t1: float, gaps: list,
            lim: Limits) -> list:
    """Check the robust search's claims by forcing the simpler explanation back in.

    Between two found words, skipped words and untranscribed sound may just be the skipped
    words spoken quickly or unclearly, or a word drawn out ("ummmm"): force the words over
    that stretch and keep the forced result if it fits. With no extra sound to explain,
    skipped words only need to fit tolerably; with extra sound, every word must fit well.
    Returns the untranscribed stretches that remain.
    """
    found = [k for k in range(lo, hi + 1) if results[k] is not None]
    kept = list(gaps)
    for i in range(len(found) - 1):
        a, b = found[i], found[i + 1]
        inside = [g for g in kept if g[0] < results[b].start + 0.05
                  and g[1] > results[a].end - 0.05]
        if b == a + 1 and not inside:
            continue
        # The robust search may misplace a short anchor word next to the skipped ones, so
        # also try with the following found word as the right anchor.
        for c in found[i + 1:i + 3]:
            inside_c = [g for g in kept if g[0] < results[c].start + 0.05
                        and g[1] > results[a].end - 0.05]
            timings, s0 = _force(engine, x, words, results, a, c, results[a].start,
                                 results[c].end)
            if _fits(timings, c - a + 1, lim, strict=bool(inside_c)):
                to_results(timings, s0 // HOP, a, results, [])
                kept = [g for g in kept if g not in inside_c]
                break
    # Words skipped at either end of the region: force them in between the region's edge
    # and the nearest found word.
    found = [k for k in range(lo, hi + 1) if results[k] is not None]
    if found and found[0] > lo:
        f = found[0]
        inside = [g for g in kept if g[0] < results[f].start + 0.05]
        timings, s0 = _force(engine, x, words, results, lo, f, t0, results[f].end)
        if _fits(timings, f - lo + 1, lim, strict=bool(inside), edge="start"):
            to_results(timings, s0 // HOP, lo, results, [])
            kept = [g for g in kept if g not in inside]
    if found and found[-1] < hi:
        f = found[-1]
        inside = [g for g in kept if g[1] > results[f].end - 0.05]
        timings, s0 = _force(engine, x, words, results, f, hi, results[f].start, t1)
        if _fits(timings, hi - f + 1, lim, strict=bool(inside), edge="end"):
            to_results(timings, s0 // HOP, f, results, [])
            kept = [g for g in kept if g not in inside]
    # Sound before the first or after the last found word: may belong to that word.
    if found:
        for k, edge in ((found[0], "before"), (found[-1], "after")):
            r = results[k]
            near = [g for g in kept if (edge == "before" and abs(g[1] - r.start) <= 0.05)
                    or (edge == "after" and abs(g[0] - r.end) <= 0.05)]
            for g in near:
                timings, s0 = _force(engine, x, words, results, k, k,
                                     min(g[0], r.start), max(g[1], r.end))
                if _fits(timings, 1, lim, strict=True):
                    to_results(timings, s0 // HOP, k, results, [])
                    kept.remove(g)
    return kept


def _realign_run(engine, x: np.ndarray, words: list[str], results: list, k: int, m: int):
    """Phone-level alignment for consecutive found words k..m over their own stretch of audio."""
    a = max(0, int(results[k].start * ALIGN_RATE) // HOP * HOP - 3 * HOP)
    b = min(len(x), int(results[m].end * ALIGN_RATE) + 3 * HOP)
    timings = engine.align(x[a:b], words[k:m + 1])
    if timings and sum(t.index >= 0 for t in timings) == m - k + 1:
        to_results(timings, a // HOP, k, results, [])


def noisy_pauses(band: np.ndarray, pauses: list, results: list, spans: list[Span],
                  limits: LocalLimits) -> None:
    """Pauses that hold sound (speech, music) the transcript does not account for.

    A pause is sound when the silence model fits it badly, or when it is loud in the speech
    band: its median energy there is well above the recording's floor (pocketsphinx's noise
    removal lets steady music pass as silence, so the fit alone misses it). Pauses that
    overlap a word now are stale (the word was placed there by a later repair).
    """
    covered = [(sp.start, sp.end) for sp in spans]
    covered += [(r.start + 0.02, r.end - 0.02) for r in results if r.found]
    candidates = [p for p in pauses if p.end - p.start >= MIN_GARBAGE
                  and not any(a < p.end and b > p.start for a, b in covered)]
    if not candidates:
        return
    found = [r for r in results if r.found]
    for p in candidates:
        # floor and speech level from the 30 s around the pause
        lo, hi = max(0, int((p.start - 30) / FRAME)), int((p.end + 30) / FRAME)
        floor = band_floor(band[lo:hi])
        near = [band[int(r.start / FRAME):int(r.end / FRAME)] for r in found
                if abs(r.start - p.start) < 30]
        level = float(np.median(np.concatenate(near))) if near else floor + 20.0
        loud = loud_threshold(floor, level)
        seg = band[int(p.start / FRAME):max(int(p.end / FRAME), int(p.start / FRAME) + 1)]
        if p.spf < limits.at(p.start).bad_pause or float(np.median(seg)) > loud:
            spans.append(Span("untranscribed", p.start, p.end,
                              note="sound in a pause that the transcript does not account for"))
