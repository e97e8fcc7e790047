"""The speaker's prosody, learned from the recording: speaking rate, word pitch contours,
phrase-final lengthening, and where a word's stress falls."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from retake.voice.analysis import VOWELS, Recording
from retake.voice.units import Inventory

if TYPE_CHECKING:
    from retake.voice.assembly import Assembly


def local_rate(rec: Recording, inv: Inventory) -> float:
    """How much slower (>1) or faster (<1) than its own phone averages the speaker talks."""
    ratios = [u.duration / inv.mean_duration(u.label) for u in rec.units]
    return float(np.clip(np.median(ratios), 0.6, 1.6)) if ratios else 1.0


CONTOUR_WORDS = 3000  # words looked at for the pitch contours, at most (about)


def learn_contours(asm: Assembly) -> dict[tuple[str, bool], np.ndarray]:
    """Mean pitch shape of the recording's words relative to their context line."""
    rec = asm.rec
    groups: dict[tuple[str, bool], list[np.ndarray]] = {}
    # a few thousand words, evenly spread, give the shapes as well as every word of a long
    # recording (an hour's talk has ~9000; each costs a context look-up)
    every = max(1, len(asm.old) // CONTOUR_WORDS)
    for i, o in enumerate(asm.old):
        if i % every or not o.usable or o.end - o.start < 0.1:
            continue
        word = asm._aligned_word(i, 0)
        if word is None:
            continue
        _, _, f0l, f0r, kind = asm.context(i, i + 1)
        if f0l <= 0 or f0r <= 0:
            continue
        edges = np.linspace(o.start, o.end, 6)
        dev = []
        for k in range(5):
            f = rec.f0[rec.frame(edges[k]):rec.frame(edges[k + 1]) + 1]
            f = f[f > 0]
            tau = (k + 0.5) / 5
            line = f0l * (f0r / f0l) ** tau
            dev.append(12 * np.log2(np.median(f) / line) if len(f) else np.nan)
        dev = np.array(dev)
        if np.isnan(dev).sum() > 2:
            continue
        long = sum(p.label in VOWELS for p in word.phones) > 1
        groups.setdefault((kind, long), []).append(dev)
    out = {}
    for key, rows in groups.items():
        if len(rows) >= 4:
            shape = np.nanmedian(np.array(rows), axis=0)
            out[key] = np.nan_to_num(np.clip(shape, -6, 6))
    return out


def final_lengthening(rec: Recording, inv: Inventory) -> float:
    """How much longer the speaker's phrase-final syllables are than their phone averages
    (from the last vowel of words that precede a pause)."""
    units = rec.units
    ratios = []
    for k, u in enumerate(units):
        if u.next_index is not None:
            continue  # a pause follows only the last unit of a stretch
        j = k
        while j > 0 and units[j - 1].next_index == units[j].index and \
                units[j].label not in VOWELS:
            j -= 1
        ratios += [units[m].duration / inv.mean_duration(units[m].label)
                   for m in range(j, k + 1)]
    overall = [u.duration / inv.mean_duration(u.label) for u in units]
    if len(ratios) < 5 or not overall:
        return 1.3
    return float(np.clip(np.median(ratios) / np.median(overall), 1.0, 2.0))


def stressed_vowel(word: str, phones: list[str], language: str) -> int:
    """Index in `phones` of the vowel carrying primary stress (espeak-ng's marking)."""
    from retake.align.espeak import text_to_ipa

    vowels = [k for k, p in enumerate(phones) if p in VOWELS]
    if not vowels:
        return -1
    ipa = [s for w in text_to_ipa(word, language) for s in w]
    nth = 0
    for sym in ipa:
        if any(c in sym for c in "aeiouæɑɒɔəɛɜɪʊʌɚɐᵻ"):
            if "ˈ" in sym:
                return vowels[min(nth, len(vowels) - 1)]
            nth += 1
    return vowels[0]


def semitones(a: float, b: float) -> float:
    """Interval from a to b in semitones (0 if either is unvoiced)."""
    return 12 * math.log2(b / a) if a > 0 and b > 0 else 0.0
