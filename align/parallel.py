"""`align` of a long recording, cut at long pauses into pieces aligned as parallel tasks.

The aligner already works piece by piece inside one process, but each piece there starts
from where the last one's words ended, so the pieces run one after another. Here the cuts
are chosen up front: at the middle of long pauses (frame energy against the recording's
noise floor, as `chunks.Cutter` finds them) nearest equal shares of the speech. Each
piece's words are the transcript's words in proportion to the speech before the cut,
moved to the nearest sentence or clause end nearby (pauses fall there). Pieces are
aligned independently (any `Aligner` step: repair, alternatives), their times shifted by
the cut and concatenated. A cut in silence leaves each word's acoustic context unchanged,
so times agree with the one-process run (tests: within 10 ms).

The split is checked: when a piece leaves a word unaligned or sound untranscribed (a
wrong word share), the whole recording is aligned in one process instead, so the result
is never worse than `Aligner.align`'s.
"""

from __future__ import annotations

import re
import time

import numpy as np

from retake.align.aligner import Aligner
from retake.align.audio import ALIGN_RATE, Audio, resample
from retake.align.chunks import HOP, frame_energy_db, quiet_frames
from retake.align.types import Alignment, Phone, Span, Word

_CLAUSE_END = re.compile(r"[.!?;:,]['\")\]]*$")


def pauses(x: np.ndarray, min_pause: float = 0.3) -> list[tuple[int, int]]:
    """Quiet runs of at least `min_pause` seconds, as (first, end) 10 ms frames, leaving
    out silence before the first sound and after the last."""
    quiet = quiet_frames(frame_energy_db(x))
    runs, t, n = [], 0, len(quiet)
    while t < n:
        if quiet[t]:
            u = t
            while u < n and quiet[u]:
                u += 1
            if t > 0 and u < n and (u - t) * 0.01 >= min_pause:
                runs.append((t, u))
            t = u
        else:
            t += 1
    return runs


def plan(x: np.ndarray, transcript: str, pieces: int, min_pause: float = 0.3
         ) -> list[tuple[int, int, int, int]]:
    """(first sample, end sample, first char, end char) per piece; one piece when the
    recording has no usable pause or too few words."""
    spans = [m.span() for m in re.finditer(r"\S+", transcript)]
    whole = [(0, len(x), 0, len(transcript))]
    runs = pauses(x, min_pause)
    if pieces <= 1 or not runs or len(spans) < 2 * pieces:
        return whole
    quiet = quiet_frames(frame_energy_db(x))
    active = np.cumsum(~quiet)
    total = float(active[-1])
    ends = [i + 1 for i, (_, e) in enumerate(spans) if _CLAUSE_END.search(transcript[:e])]
    cuts: list[tuple[int, int]] = []  # (sample, word index the next piece starts at)
    for k in range(1, pieces):
        goal = total * k / pieces
        t, u = min(runs, key=lambda r: (abs(float(active[r[0]]) - goal), -(r[1] - r[0])))
        frac = float(active[t]) / total
        est = frac * len(spans)
        slack = max(3.0, 0.1 * len(spans))
        near = [i for i in ends if abs(i - est) <= slack]
        w = min(near, key=lambda i: abs(i - est)) if near else int(round(est))
        sample = (t + u) // 2 * HOP
        if (not cuts or (sample > cuts[-1][0] and w > cuts[-1][1])) and 0 < w < len(spans):
            cuts.append((sample, w))
    if not cuts:
        return whole
    out = []
    bounds = [(0, 0), *cuts, (len(x), len(spans))]
    for (s0, w0), (s1, w1) in zip(bounds, bounds[1:], strict=False):
        c0 = 0 if w0 == 0 else spans[w0][0]
        c1 = len(transcript) if w1 == len(spans) else spans[w1 - 1][1]
        out.append((s0, s1, c0, c1))
    return out


def align_piece(payload: dict) -> dict:
    """Worker: align one piece of audio (16 kHz) to its text; the Alignment as a dict."""
    t0 = time.monotonic()
    al = Aligner(payload["engine"], payload["language"], payload.get("cache_dir")).align(
        Audio(payload["samples"], ALIGN_RATE), payload["text"])
    import resource

    peak = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return {"status": "done", "alignment": al.to_dict(),
            "seconds": round(time.monotonic() - t0, 3), "figures": {"peak_rss_mb": peak}}


def _shift(p: Phone, dt: float) -> Phone:
    return Phone(p.label, p.start + dt, p.end + dt)


def merge(parts: list[Alignment], offsets: list[tuple[float, int]], duration: float,
          transcript: str, language: str, engine: str) -> Alignment:
    """Concatenate piece alignments: times shifted by each piece's start (seconds),
    character positions by its text's start, span word numbers by the words before."""
    words: list[Word] = []
    spans: list[Span] = []
    for al, (dt, dc) in zip(parts, offsets, strict=True):
        n0 = len(words)
        for w in al.words:
            words.append(Word(w.text, w.start + dt, w.end + dt, w.confidence,
                              [_shift(p, dt) for p in w.phones], list(w.spoken),
                              w.char_start + dc, w.char_end + dc, w.aligned,
                              [_shift(p, dt) for p in w.parts]))
        spans += [Span(s.kind, s.start + dt, s.end + dt, [i + n0 for i in s.words], s.note)
                  for s in al.unaligned]
    return Alignment(words, duration, language, engine, transcript, spans)


def align_parallel(audio: Audio, transcript: str, workers: int = 2,
                   pieces: int | None = None, ray: str | None = None,
                   language: str = "en", engine: str = "pocketsphinx", cache_dir=None,
                   min_pause: float = 0.3, report: dict | None = None) -> Alignment:
    """`align(audio, transcript)` with the recording cut at long pauses into `pieces`
    (default `workers`) aligned in parallel: a local process pool, or Ray tasks at `ray`.

    Falls back to one process when there is no usable pause or a piece does not fit its
    words. `report`, when given, receives: pieces, cuts (s), fallback, seconds per piece
    and peak memory."""
    x = resample(audio.samples, audio.sample_rate, ALIGN_RATE).astype(np.float32)
    n = pieces or max(1, workers)
    ranges = plan(x, transcript, n, min_pause) if (workers > 1 or ray) else []
    info: dict = {"pieces": len(ranges) or 1, "fallback": False,
                  "cuts": [round(r[0] / ALIGN_RATE, 3) for r in ranges[1:]]}

    def single() -> Alignment:
        return Aligner(engine, language, cache_dir).align(Audio(x, ALIGN_RATE), transcript)

    if len(ranges) <= 1:
        if report is not None:
            report.update(info)
        return single()
    from retake.core.split import run_pieces

    payloads = [{"samples": x[s0:s1], "text": transcript[c0:c1], "engine": engine,
                 "language": language, "cache_dir": cache_dir}
                for s0, s1, c0, c1 in ranges]
    results = run_pieces(align_piece, payloads, workers=workers, ray=ray)
    parts = [Alignment.from_dict(r["alignment"]) for r in results]
    info["piece_seconds"] = [r.get("seconds") for r in results]
    info["peak_rss_mb"] = max(r["figures"]["peak_rss_mb"] for r in results)
    if any(not w.aligned for al in parts for w in al.words) or any(al.unaligned for al in parts):
        info["fallback"] = True
        if report is not None:
            report.update(info)
        return single()
    if report is not None:
        report.update(info)
    return merge(parts, [(r[0] / ALIGN_RATE, r[2]) for r in ranges], len(x) / ALIGN_RATE,
                 transcript, language, engine)
