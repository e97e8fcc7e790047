"""Does the transcript say what the recording says? An independent ear before any edit.

A forced aligner places every word somewhere: a completely wrong transcript, or German speech
against an English one, still aligns with confident-looking words, and an edit then cuts the
wrong audio. So before editing, Whisper tiny.en (the transcriber, which the aligner does not
use) listens to three stretches of the recording (start, middle, end; 9 s each, cut in the
pauses between words) joined into one clip of under 30 s, which it hears in one pass (it pads
every call to 30 s, so three separate calls cost three times as much), and
the share of the transcript's sounds there that it also hears, in order, is measured: both
word sequences become phones (ARPAbet, stress dropped) and are matched. Phones, not words,
because a recogniser that mishears an odd word ("jolly yaks" as "join the axe") still hears
most of its sounds.

Measured on LJ Speech and on espeak-ng sentences full of rare words: right transcripts
0.52-1.00 (natural speech 0.88-1.00, espeak-ng's odd sentences the low end), another
utterance's transcript 0.06-0.41 (words alone: right 0.22-1.00, wrong 0.00-0.33, which
overlap). Below `REFUSE` the edit is refused; below `WARN` it goes ahead with a warning in
the report.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

import numpy as np

from retake.align.audio import ALIGN_RATE, Audio, resampled_blocks
from retake.align.normalize import tokenize
from retake.align.types import Alignment
from retake.core import cache
from retake.core.engines import build

REFUSE = 0.47
WARN = 0.7
SAMPLE_S = 28.0  # at most this much of the recording is heard (one Whisper pass)
GAP_S = 0.4  # silence between the sampled stretches
MIN_WORDS = 4  # fewer words than this in the sampled stretches: nothing to judge


@dataclass(frozen=True)
class Agreement:
    """How much of the transcript an independent recogniser heard (None: too little speech
    to judge), with what it heard and what the transcript says there."""

    share: float | None  # of the transcript's phones heard, in order
    heard: str
    expected: str

    @property
    def verdict(self) -> str:
        """"ok", "doubtful" or "mismatch"."""
        if self.share is None or self.share >= WARN:
            return "ok"
        return "doubtful" if self.share >= REFUSE else "mismatch"

    def explain(self) -> str:
        """One line for a person."""
        pct = "?" if self.share is None else f"{100 * self.share:.0f}%"
        return (f"an independent recogniser heard {pct} of the transcript's sounds (heard "
                f"{_clip(self.heard)!r} where the transcript says {_clip(self.expected)!r})")


def _clip(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _words(text: str, language: str) -> list[str]:
    return [w.lower() for t in tokenize(text, language) for w in t.spoken]


def _stretches(alignment: Alignment, duration: float) -> list[tuple[float, float]]:
    """The start, middle and end of the recording, SAMPLE_S in all, each edge moved to the
    nearest pause between aligned words (within 2 s) so no word is cut in two."""
    if duration <= SAMPLE_S:
        return [(0.0, duration)]
    words = alignment.words
    gaps = [(a.end + b.start) / 2 for a, b in zip(words, words[1:], strict=False)
            if a.aligned and b.aligned and b.start >= a.end]

    def snap(t: float) -> float:
        near = [g for g in gaps if abs(g - t) <= 2.0]
        return min(near, key=lambda g: abs(g - t)) if near else t

    n = SAMPLE_S / 3
    mid = duration / 2
    out = []
    for a, b in ((0.0, n), (mid - n / 2, mid + n / 2), (duration - n, duration)):
        a = 0.0 if a <= 0 else snap(a)
        b = duration if b >= duration else snap(b)
        if out and a < out[-1][1]:
            a = out[-1][1]
        if b > a:
            out.append((a, b))
    return out


def _phones(words: list[str], pronounce: Callable[[str], list[str]]) -> list[str]:
    out = []
    for w in words:
        try:
            out += [p.rstrip("012") for p in pronounce(w)]
        except Exception:  # noqa: BLE001 - a word with no pronunciation adds no phones
            continue
    return out


def phone_share(expected: str, heard: str, pronounce: Callable[[str], list[str]],
                language: str = "en") -> float:
    """Share of `expected`'s phones found, in order, in `heard` (0..1)."""
    want = _phones(_words(expected, language), pronounce)
    got = _phones(_words(heard, language), pronounce)
    if not want:
        return 0.0
    sm = difflib.SequenceMatcher(a=want, b=got, autojunk=False)
    return sum(m.size for m in sm.get_matching_blocks()) / len(want)


def _cut(blocks: Iterator[np.ndarray], spans: list[tuple[int, int]]) -> list[np.ndarray]:
    """The stretches [a, b) (sample indices, in order) of the signal `blocks` make up."""
    out: list[list[np.ndarray]] = [[] for _ in spans]
    if not spans:
        return []
    at = 0
    for block in blocks:
        for k, (a, b) in enumerate(spans):
            lo, hi = max(a, at), min(b, at + len(block))
            if hi > lo:
                out[k].append(block[lo - at:hi - at])
        at += len(block)
        if at >= spans[-1][1]:
            break
    return [np.concatenate(parts) if parts else np.zeros(0, np.float32) for parts in out]


def _placed_words(alignment: Alignment, duration: float) -> list[tuple[str, float]]:
    """Every transcript word with a time: its middle where aligned, else interpolated by
    position between its aligned neighbours (words the aligner gave up on count too: a
    wrong transcript shows up as many of them)."""
    words = alignment.words
    known = [(i, (w.start + w.end) / 2) for i, w in enumerate(words) if w.aligned]
    anchors = [(-1, 0.0), *known, (len(words), duration)]
    xs = np.array([i for i, _ in anchors], float)
    ts = np.array([t for _, t in anchors], float)
    return [(w.text, float(np.interp(i, xs, ts))) for i, w in enumerate(words)]


def transcript_agreement(audio: Audio, alignment: Alignment, transcriber: str = "whisper",
                         cache_dir=None, pronounce: Callable[[str], list[str]] | None = None,
                         ear: Callable[[], object] | None = None) -> Agreement:
    """Share of the aligned transcript's phones an independent recogniser hears, in order,
    over up to three stretches of the recording (cached by content). `pronounce` gives a
    word's ARPAbet phones (the aligner's dictionary; espeak-ng's rules by default); `ear()`
    returns an already loaded recogniser (only called on a cache miss)."""
    from retake.align.engines import TRANSCRIBE_ENGINES
    from retake.align.g2p import g2p

    pronounce = pronounce or (lambda w: g2p(w, alignment.language))
    # The recording at the recogniser's rate is streamed, never held whole (an hour at
    # 16 kHz is 230 MB): once for the cache key, again on a miss for the stretches heard.
    size = 0

    def counted(blocks):
        nonlocal size
        for block in blocks:
            size += len(block)
            yield block

    key = cache.blocks_key(counted(resampled_blocks(audio.samples, audio.sample_rate,
                                                    ALIGN_RATE)),
                           alignment.transcript, transcriber, "agreement-v3")
    hit = cache.load(cache_dir, "agreement", key, parse=lambda t: Agreement(**json.loads(t)))
    if hit is not None:
        return hit
    eng = ear() if ear is not None else None  # a recogniser the caller already loaded
    eng = eng or build(TRANSCRIBE_ENGINES, transcriber, "transcription",
                       language=alignment.language)
    expected, spans = [], []
    placed = _placed_words(alignment, size / ALIGN_RATE)
    for a, b in _stretches(alignment, size / ALIGN_RATE):
        words = [text for text, t in placed if a <= t < b]
        if words:
            expected += _words(" ".join(words), alignment.language)
            spans.append((int(a * ALIGN_RATE), int(b * ALIGN_RATE)))
    gap = np.zeros(int(GAP_S * ALIGN_RATE), np.float32)
    pieces = []
    for piece in _cut(resampled_blocks(audio.samples, audio.sample_rate, ALIGN_RATE), spans):
        pieces += [gap, piece] if pieces else [piece]
    heard = (_words(" ".join(w.text for w in eng.recognize(np.concatenate(pieces))),
                    alignment.language) if pieces else [])
    if len(expected) < MIN_WORDS:
        result = Agreement(None, " ".join(heard), " ".join(expected))
    else:
        want, got = _phones(expected, pronounce), _phones(heard, pronounce)
        sm = difflib.SequenceMatcher(a=want, b=got, autojunk=False)
        share = sum(m.size for m in sm.get_matching_blocks()) / max(1, len(want))
        result = Agreement(round(float(np.clip(share, 0, 1)), 3), " ".join(heard),
                           " ".join(expected))
    cache.store(cache_dir, "agreement", key, json.dumps(asdict(result)))
    return result
