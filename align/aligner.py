"""Forced alignment of a transcript to speech: the steps around the engine.

1. Normalize the transcript into the user's tokens and the words a speaker says for them.
2. Cut long audio at pauses; align piece by piece, each piece taking the leading run of the
   remaining words that its speech covers (so memory stays bounded and time stays linear).
3. Score each word (acoustic fit per frame). Where scores collapse (missing words, extra
   speech, noise, music) re-align just that stretch with a search that may skip words and
   absorb untranscribed sound, so the neighbours keep their true times.
4. Map the spoken words back to the user's tokens.

Boundary accuracy is pocketsphinx's. Tried and measured on the MFA benchmark files, none of
these brought boundaries closer to MFA's: energy-based snapping of word edges next to pauses
(worse), a per-recording monophone HMM re-trained on the first alignment (±1 ms), skip
transitions for shorter phones (worse), averaging alignments at shifted frame phases (worse:
the references share the 10 ms grid), vocal-tract-length normalisation (no change).
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from retake.align.audio import ALIGN_RATE, Audio, resample
from retake.align.chunks import FRAME, HOP, Cutter, frame_energy_db
from retake.align.normalize import Token, tokenize
from retake.align.timing import WordTiming
from retake.align.types import Alignment, Phone, Span, Word
from retake.core import cache
from retake.core.engines import build
from retake.core.errors import AlignmentError, AudioError, EngineUnavailable, TranscriptError
from retake.core.progress import Progress

log = logging.getLogger(__name__)

ALGORITHM_VERSION = 3

_ENTRY_SLACK = 12  # words a piece's text may start before or after where the last one ended
_RESYNC_SLACK = 80  # ...and how far to look when a piece's fit collapses
_BAD_RUN_WORDS = 3  # this many badly fitting words near each other trigger a robust re-align
_BAD_PAIR_MARGIN = 8.0  # ...or one fewer, if each is this far below the limit
_SKIP_PROB = 1e-8  # robust search: prior of a transcript word being absent
_GARBAGE_PROB = 1e-10  # robust search: prior per phone of untranscribed sound
_UNSCORED = -60.0  # score given to words placed by the robust search alone (no phones)
_MIN_GARBAGE = 0.25  # seconds of untranscribed sound worth reporting


@dataclass(frozen=True)
class Limits:
    """Score-per-frame thresholds for one recording.

    Scores are pocketsphinx acoustic scores relative to the best senone of each frame. How
    well a voice fits the model varies a lot (clean natural speech: median about -15;
    a cold or a noisy room: -30; synthetic speech: -40), so word thresholds are set relative
    to the recording's own typical word score (the upper quartile less 4, which a stretch of
    mismatched transcript barely moves), clamped so that a transcript that is wrong
    throughout still looks wrong. Pauses are judged against the same base, never more
    strictly than a fixed floor.
    """

    base: float = -20.0

    @classmethod
    def from_scores(cls, scores: list[float]) -> Limits:
        """Limits for a recording whose words scored `scores` in the plain alignment."""
        if not scores:
            return cls()
        return cls(float(np.clip(np.percentile(scores, 75) - 4.0, -45.0, -10.0)))

    @property
    def bad_run(self) -> float:
        """Words this bad, several together, are re-aligned robustly."""
        return self.base - 35.0

    @property
    def bad_single(self) -> float:
        """A single word this bad is re-aligned robustly."""
        return self.base - 95.0

    @property
    def bad_pause(self) -> float:
        """A pause fitting worse than this is not silence (the speech-band energy test in
        `_noisy_pauses` catches loud sound whatever the fit)."""
        return min(-40.0, self.base - 30.0)

    def garbage_prob(self, natural: float) -> float:
        """Prior per phone of untranscribed sound, made rarer for voices that fit the model
        badly: against such a voice a free phone loop beats the right words by more, so
        the loop must cost proportionally more to be chosen only for sound that is really
        not in the transcript."""
        return float(10.0 ** (math.log10(natural) * max(1.0, self.base / -22.0)))

    def confidence(self, score_per_frame: float) -> float:
        """0-1 confidence: 0.5 at 25 below the recording's median fit, logistic."""
        z = (score_per_frame - (self.base - 25.0)) / 8.0
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


class LocalLimits:
    """`Limits` that follow the recording: each is computed from the words within
    `window` seconds, so a long recording whose voice, room or speaker changes is judged
    against its own neighbourhood, not against its average."""

    def __init__(self, results: list, window: float = 15.0) -> None:
        found = [r for r in results if r is not None]
        self._t = np.array([r.start for r in found])
        self._s = np.array([r.spf for r in found])
        self._window = window
        self._cache: dict[int, Limits] = {}

    def at(self, t: float) -> Limits:
        """Limits for time `t` (seconds); computed once per 5 s bucket."""
        key = int(t // 5.0)
        if key not in self._cache:
            near = np.abs(self._t - (key * 5.0 + 2.5)) <= self._window
            self._cache[key] = Limits.from_scores(list(self._s[near]))
        return self._cache[key]


@dataclass
class _Result:
    """Where one spoken word was found (times in seconds)."""

    start: float
    end: float
    phones: list[Phone] = field(default_factory=list)
    spf: float = 0.0
    found: bool = True


@dataclass
class _Pause:
    """A pause or filler the engine placed between words, with its acoustic fit."""

    start: float
    end: float
    spf: float


def _to_results(
    timings: list[WordTiming], offset: int, index_base: int, out: list, pauses: list
) -> int:
    """Store engine timings (frames relative to a piece) as results; return next word index."""
    nxt = index_base
    for t in timings:
        if t.index < 0:
            pauses.append(_Pause((t.start + offset) * FRAME, (t.end + offset) * FRAME,
                                 t.score_per_frame))
            continue
        phones = [Phone(p.label, (p.start + offset) * FRAME, (p.end + offset) * FRAME)
                  for p in t.phones]
        out[index_base + t.index] = _Result(
            (t.start + offset) * FRAME, (t.end + offset) * FRAME, phones, t.score_per_frame
        )
        nxt = index_base + t.index + 1
    return nxt


def _align_pieces(
    engine, x: np.ndarray, words: list[str], pauses: list, progress: Progress | None,
    energy: np.ndarray, band: np.ndarray,
) -> list:
    """Align all words over the whole audio, piece by piece. Returns one _Result|None per word.

    Each piece ends at a pause about 25 s on and takes the leading run of the remaining words
    that its speech covers. The next piece starts where that run's last word starts (the
    word is aligned again, with its full context), not at the cut: speech the run did not
    cover is looked at again rather than lost. Its text may also start a few words earlier
    or later than where the previous piece stopped, so a piece that took a few words too
    many or too few does not shift every piece after it.
    """
    results: list[_Result | None] = [None] * len(words)
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
                timings = _robust_as_timings(engine, piece, words[p:])
            _to_results(timings or [], offset, p, results, pauses)
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
            _to_results(keep, offset, ws, results, pauses)
            p = ws + got[-1].index
            a_next = a + got[-1].start * HOP
        else:  # nothing usable: move on to the cut and let the repair step deal with it
            _to_results(got, offset, ws, results, pauses)
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
        timings, ws = _robust_as_timings(engine, piece, words[p:p + width]), p
    return timings, ws


def _floor(band: np.ndarray) -> float:
    """Noise floor (dB): 10th percentile of the frames that are not digital silence."""
    live = band[band > -90.0]
    return float(np.percentile(live, 10)) if len(live) else -90.0


def _loud_threshold(floor: float, level: float) -> float:
    """Speech-band energy (dB) above which a pause holds real sound: well above the noise
    floor and within 20 dB of the speech around it (digital silence does not count as the
    floor: it would make a stop's closure look loud)."""
    return max(floor + max(10.0, 0.5 * (level - floor)), level - 20.0)


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
    floor = _floor(band[offset + words[0].start:offset + words[-1].end])
    loud = _loud_threshold(floor, level)
    for k, t in enumerate(timings):
        if t.index >= 0 or t.end - t.start < 100 or t.start <= words[1].start:
            continue
        if float(np.median(band[offset + t.start:offset + t.end])) > loud:
            # keep words before the pause plus the next word as the hand-over point
            nxt = next((u for u in timings[k + 1:] if u.index >= 0), None)
            return timings[:k] + ([nxt] if nxt is not None else [])
    return timings


def _robust_as_timings(engine, piece: np.ndarray, words: list[str]) -> list[WordTiming]:
    """Fallback when the plain search fails: word times from the robust search, no phones."""
    items = engine.align_robust(piece, words, _SKIP_PROB, _GARBAGE_PROB) or []
    return [WordTiming(it.index, it.start, it.end, _UNSCORED * (it.end - it.start), [])
            for it in items if it.index is not None]


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


def _repair(
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
        items = engine.align_robust(x[a:b], words[lo:hi + 1], _SKIP_PROB,
                                    lim.garbage_prob(_GARBAGE_PROB))
        if items is None:
            continue
        off = a // HOP
        found = {it.index for it in items if it.index is not None}
        garbage = [it for it in items if it.index is None and
                   (it.end - it.start) * FRAME >= _MIN_GARBAGE]
        if len(found) == hi - lo + 1 and not garbage:
            continue  # the words are all there: the plain alignment stands
        # Rebuild the region: found words get robust times, then phones per run of words
        # that follow each other with no garbage between them.
        for k in range(lo, hi + 1):
            results[k] = None
        for it in items:
            if it.index is not None:
                results[lo + it.index] = _Result((it.start + off) * FRAME,
                                                 (it.end + off) * FRAME, spf=_UNSCORED)
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
                results[k] = _Result(0.0, 0.0, found=False)


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
                _to_results(timings, s0 // HOP, a, results, [])
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
            _to_results(timings, s0 // HOP, lo, results, [])
            kept = [g for g in kept if g not in inside]
    if found and found[-1] < hi:
        f = found[-1]
        inside = [g for g in kept if g[1] > results[f].end - 0.05]
        timings, s0 = _force(engine, x, words, results, f, hi, results[f].start, t1)
        if _fits(timings, hi - f + 1, lim, strict=bool(inside), edge="end"):
            _to_results(timings, s0 // HOP, f, results, [])
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
                    _to_results(timings, s0 // HOP, k, results, [])
                    kept.remove(g)
    return kept


def _realign_run(engine, x: np.ndarray, words: list[str], results: list, k: int, m: int):
    """Phone-level alignment for consecutive found words k..m over their own stretch of audio."""
    a = max(0, int(results[k].start * ALIGN_RATE) // HOP * HOP - 3 * HOP)
    b = min(len(x), int(results[m].end * ALIGN_RATE) + 3 * HOP)
    timings = engine.align(x[a:b], words[k:m + 1])
    if timings and sum(t.index >= 0 for t in timings) == m - k + 1:
        _to_results(timings, a // HOP, k, results, [])


def speech_band_db(x: np.ndarray) -> np.ndarray:
    """Frame energy (dB, 10 ms frames) of 16 kHz audio in the speech band, 300-3400 Hz, where
    rumble, hum and thumps of a room do not count."""
    from scipy.signal import butter, sosfiltfilt

    sos = butter(4, [300, 3400], btype="band", fs=ALIGN_RATE, output="sos")
    return frame_energy_db(sosfiltfilt(sos, x).astype(np.float32))


def _noisy_pauses(band: np.ndarray, pauses: list, results: list, spans: list[Span],
                  limits: LocalLimits) -> None:
    """Pauses that hold sound (speech, music) the transcript does not account for.

    A pause is sound when the silence model fits it badly, or when it is loud in the speech
    band: its median energy there is well above the recording's floor (pocketsphinx's noise
    removal lets steady music pass as silence, so the fit alone misses it). Pauses that
    overlap a word now are stale (the word was placed there by a later repair).
    """
    covered = [(sp.start, sp.end) for sp in spans]
    covered += [(r.start + 0.02, r.end - 0.02) for r in results if r.found]
    candidates = [p for p in pauses if p.end - p.start >= _MIN_GARBAGE
                  and not any(a < p.end and b > p.start for a, b in covered)]
    if not candidates:
        return
    found = [r for r in results if r.found]
    for p in candidates:
        # floor and speech level from the 30 s around the pause
        lo, hi = max(0, int((p.start - 30) / FRAME)), int((p.end + 30) / FRAME)
        floor = _floor(band[lo:hi])
        near = [band[int(r.start / FRAME):int(r.end / FRAME)] for r in found
                if abs(r.start - p.start) < 30]
        level = float(np.median(np.concatenate(near))) if near else floor + 20.0
        loud = _loud_threshold(floor, level)
        seg = band[int(p.start / FRAME):max(int(p.end / FRAME), int(p.start / FRAME) + 1)]
        if p.spf < limits.at(p.start).bad_pause or float(np.median(seg)) > loud:
            spans.append(Span("untranscribed", p.start, p.end,
                              note="sound in a pause that the transcript does not account for"))


def speech_seconds(x: np.ndarray, sample_rate: int = ALIGN_RATE) -> float:
    """Seconds of speech silero-vad finds in `x` (a neural voice activity detector)."""
    import torch
    from silero_vad import get_speech_timestamps, load_silero_vad

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit deprecation notice inside silero-vad
        model = load_silero_vad()
    with torch.inference_mode():
        stamps = get_speech_timestamps(torch.from_numpy(np.ascontiguousarray(x)), model,
                                       sampling_rate=sample_rate)
    return sum(s["end"] - s["start"] for s in stamps) / sample_rate


def _check_speech(x: np.ndarray, results: list, limits: LocalLimits) -> None:
    """When the alignment fits poorly, make sure there is speech at all (noise, tones and
    music can fit a few words by accident)."""
    found = [r for r in results if r.found]
    fit = np.mean([limits.at(r.start).confidence(r.spf) for r in found]) if found else 0.0
    if len(found) >= 0.8 * len(results) and fit >= 0.6:
        return
    if speech_seconds(x) < 0.3:
        raise AudioError("no speech found in the audio (only noise, tones or music); "
                         "nothing to align")


def _try_alternatives(engine, x: np.ndarray, tokens: list[Token], words: list[str],
                      results: list, spans: list[Span], limits: LocalLimits) -> dict:
    """For a token not heard as first read, try its other readings ("i.e." said "i e")
    between its neighbours. Returns {token index: (reading, results)} for readings that fit;
    the untranscribed sound they explain is dropped from `spans`."""
    chosen: dict[int, tuple[tuple[str, ...], list]] = {}
    starts, k = [], 0
    for t in tokens:
        starts.append(k)
        k += len(t.spoken)
    for ti, t in enumerate(tokens):
        rs = results[starts[ti]:starts[ti] + len(t.spoken)]
        if not t.alternatives or not rs or any(r.found for r in rs):
            continue
        before = [j for j in range(starts[ti] - 1, -1, -1) if results[j].found][:1]
        after = [j for j in range(starts[ti] + len(t.spoken), len(words)) if results[j].found][:1]
        t0 = results[before[0]].start if before else 0.0
        t1 = results[after[0]].end if after else len(x) / ALIGN_RATE
        lim = limits.at((t0 + t1) / 2)
        for alt in t.alternatives:
            seq = [words[j] for j in before] + list(alt) + [words[j] for j in after]
            s0 = int(t0 * ALIGN_RATE) // HOP * HOP
            timings = engine.align(x[s0:int(t1 * ALIGN_RATE)], seq) or []
            got = [u for u in timings if u.index >= 0]
            if len(got) != len(seq) or not all(u.score_per_frame > lim.bad_run for u in got):
                continue
            inner = got[len(before):len(got) - len(after)]
            off = s0 // HOP
            alt_results = [_Result((u.start + off) * FRAME, (u.end + off) * FRAME,
                                   [Phone(p.label, (p.start + off) * FRAME, (p.end + off) * FRAME)
                                    for p in u.phones], u.score_per_frame) for u in inner]
            chosen[ti] = (alt, alt_results)
            a, b = alt_results[0].start, alt_results[-1].end
            spans[:] = [sp for sp in spans
                        if not (sp.kind == "untranscribed" and sp.start < b and sp.end > a)]
            break
    return chosen


def _to_words(tokens: list[Token], results: list, limits: LocalLimits, chosen: dict
              ) -> tuple[list[Word], list[Span]]:
    """Map spoken-word results back onto the user's tokens; list missing tokens as spans."""
    words: list[Word] = []
    spans: list[Span] = []
    k = 0
    last_end = 0.0
    for ti, t in enumerate(tokens):
        rs = results[k:k + len(t.spoken)]
        k += len(t.spoken)
        if ti in chosen:
            t = Token(t.text, t.start, t.end, chosen[ti][0], t.alternatives)
            rs = chosen[ti][1]
        hit = [r for r in rs if r.found]
        if hit:
            conf = min(limits.at(r.start).confidence(r.spf) for r in hit) * len(hit) / len(rs)
            parts = [Phone(sw, r.start, r.end) for sw, r in zip(t.spoken, rs, strict=False)
                     if r.found]
            words.append(Word(t.text, hit[0].start, hit[-1].end, conf,
                              [p for r in hit for p in r.phones], list(t.spoken),
                              t.start, t.end, True, parts))
            last_end = hit[-1].end
        else:
            words.append(Word(t.text, last_end, last_end, 0.0, [], list(t.spoken),
                              t.start, t.end, False))
    # Group consecutive unaligned tokens (that have something to say) into "missing" spans.
    i = 0
    while i < len(words):
        if words[i].aligned or not tokens[i].spoken:
            i += 1
            continue
        j = i
        while j + 1 < len(words) and not words[j + 1].aligned:
            j += 1
        nxt = next((w.start for w in words[j + 1:] if w.aligned), None)
        start = words[i].start
        end = nxt if nxt is not None else start
        text = " ".join(w.text for w in words[i:j + 1])
        spans.append(Span("missing", start, max(start, end), list(range(i, j + 1)),
                          note=f"not heard in the audio: {text!r}"))
        i = j + 1
    return words, spans


def _tidy(results: list) -> None:
    """Make found words follow each other without overlap (pieces re-aligned separately can
    overlap by a frame or two) and keep each word's phones inside it."""
    last = 0.0
    for r in results:
        if not r.found:
            continue
        r.start = max(r.start, last)
        r.end = max(r.end, r.start + FRAME)
        for p in r.phones:
            p.start = min(max(p.start, r.start), r.end)
            p.end = min(max(p.end, p.start), r.end)
        r.phones = [p for p in r.phones if p.end > p.start]
        if r.phones:
            r.phones[0].start, r.phones[-1].end = r.start, r.end
        last = r.end


class Aligner:
    """Aligns transcripts to speech with one engine, kept loaded between calls.

    Create one and reuse it for many files (the UI and the benchmark do); the module-level
    `align` function makes a fresh one per call.
    """

    def __init__(self, engine: str = "pocketsphinx", language: str = "en",
                 cache_dir=None) -> None:
        self.engine_name = engine
        self.language = language
        self.cache_dir = cache_dir
        self._engine = None

    @property
    def engine(self):
        """The loaded engine (loaded on first use, so cache hits never load it)."""
        if self._engine is None:
            from retake.align.engines import ALIGN_ENGINES

            engine = build(ALIGN_ENGINES, self.engine_name, "alignment", language=self.language)
            if abs(engine.frame - FRAME) > 1e-9:
                raise EngineUnavailable(f"the {self.engine_name} engine times in "
                                        f"{engine.frame * 1000:g} ms frames; the aligner runs "
                                        f"on {FRAME * 1000:g} ms")
            self._engine = engine
        return self._engine

    def align(self, audio: Audio, transcript: str, progress: Progress | None = None
              ) -> Alignment:
        """Align `transcript` to `audio`: words as typed, with phones, times and confidence.

        Raises AudioError for silent, too-short or speechless audio, TranscriptError for a
        transcript with nothing to say, AlignmentError when no word can be found at all.
        """
        if not transcript or not transcript.strip():
            raise TranscriptError("the transcript is empty; give the words that are spoken")
        x = resample(audio.samples, audio.sample_rate, ALIGN_RATE)
        duration = len(x) / ALIGN_RATE
        if duration < 0.2:
            raise AudioError(f"the audio is too short to align ({duration:.2f} s)")
        energy = frame_energy_db(x)
        if np.percentile(energy, 99) < -55:
            raise AudioError("the audio is silent (no sound above -55 dBFS); nothing to align")

        key = cache.content_key(x, transcript, self.language, self.engine_name,
                                ALGORITHM_VERSION)
        hit = cache.load(self.cache_dir, "align", key, parse=Alignment.from_json)
        if hit is not None:
            return hit

        eng = self.engine
        tokens = tokenize(transcript, self.language, is_word=eng.has_word)
        words = [w for t in tokens for w in t.spoken]
        if not words:
            raise TranscriptError("the transcript holds no words that can be spoken")

        pauses: list[_Pause] = []
        band = speech_band_db(x)
        results = _align_pieces(eng, x, words, pauses, progress, energy, band)
        limits = LocalLimits(results)
        spans: list[Span] = []
        _repair(eng, x, words, results, pauses, spans, limits)
        results = [r if r is not None else _Result(0.0, 0.0, found=False) for r in results]
        if not any(r.found for r in results):
            raise AlignmentError(
                "none of the transcript's words could be found in the audio; "
                "check that the transcript matches the recording"
            )
        _check_speech(x, results, limits)
        _tidy(results)
        _noisy_pauses(band, pauses, results, spans, limits)
        chosen = _try_alternatives(eng, x, tokens, words, results, spans, limits)
        out_words, missing = _to_words(tokens, results, limits, chosen)
        spans = sorted(spans + missing, key=lambda s: (s.start, s.end))
        al = Alignment(out_words, duration, self.language, self.engine_name, transcript, spans)
        cache.store(self.cache_dir, "align", key, al.to_json())
        return al


def align(
    audio: Audio,
    transcript: str,
    language: str = "en",
    engine: str = "pocketsphinx",
    progress: Progress | None = None,
    cache_dir=None,
) -> Alignment:
    """Align `transcript` to `audio` (see `Aligner.align`)."""
    return Aligner(engine, language, cache_dir).align(audio, transcript, progress)
