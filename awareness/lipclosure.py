"""Phoneme–viseme mismatch: lips that stay open where the sound says they must close.

After Agarwal, Farid, Fried and Agrawala, "Detecting Deep-Fake Videos from Phoneme-Viseme
Mismatches" (CVPR Workshops 2020): M, B and P are made by closing the lips, in every
speaker and every language that has them. Lip-sync generators often miss these brief
closures. For each aligned M/B/P we take the frames it spans (±1 frame, allowing for the
aligner's error), measure the smallest lip opening there from the face's landmarks, and
call it a mismatch when the lips never come near closing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from retake.video.visemes import BILABIAL

# Inner-lip gap / mouth width. Natural closures measure ~0.0-0.08 with dlib's landmarks;
# an open vowel 0.2-0.45. Above OPEN a bilabial is called open.
OPEN = 0.14
# Words the aligner could barely fit (a fast "and I'm" squeezed into 60 ms) place their
# phones by guesswork: their M/B/P are not evidence either way.
MIN_WORD_CONFIDENCE = 0.3


@dataclass
class BilabialCheck:
    """One M/B/P: when, which phone, the smallest opening seen, and the verdict."""

    phone: str
    start: float
    end: float
    frames: list[int]
    min_opening: float
    mismatch: bool
    word: str = ""


@dataclass
class MismatchReport:
    """All bilabials checked and the segments where lips stayed open."""

    checks: list[BilabialCheck] = field(default_factory=list)
    segments: list[tuple[float, float, float]] = field(default_factory=list)  # start, end, score

    @property
    def score(self) -> float:
        """Share of bilabials with open lips (0: all closed, as in natural speech)."""
        if not self.checks:
            return 0.0
        return sum(c.mismatch for c in self.checks) / len(self.checks)


def opening(landmarks: np.ndarray) -> float:
    """Inner-lip gap over mouth width (0 when the lips touch)."""
    from retake.video.visemes import lip_gap

    return lip_gap(landmarks)


def check_bilabials(alignment, frame_times: np.ndarray,
                    landmarks: dict[int, np.ndarray], slack: int = 1,
                    threshold: float = OPEN,
                    trusted: Callable[[float], bool] | None = None) -> MismatchReport:
    """Measure every aligned M/B/P against the lips in the frames that show it.

    `frame_times[i]` is frame i's time; `landmarks[i]` its face's 68 points (frames without a
    face are skipped). Open bilabials within 1 s of each other form one segment whose score
    is the share of open ones. `trusted(t)` says whether the transcript can be believed at
    time t (a recogniser's draft: only where it was sure of the word); others are skipped.
    """
    report = MismatchReport()
    times = np.asarray(frame_times, float)
    for w in alignment.aligned_words():
        if w.confidence < MIN_WORD_CONFIDENCE:
            continue
        for p in w.phones:
            base = "".join(c for c in p.label.upper() if c.isalpha())
            if base not in BILABIAL:
                continue
            if trusted is not None and not trusted((p.start + p.end) / 2):
                continue
            first = int(np.searchsorted(times, p.start, side="left"))
            last = int(np.searchsorted(times, p.end, side="right")) - 1
            span = [i for i in range(first - slack, max(first, last) + slack + 1)
                    if i in landmarks]
            if not span:
                continue
            values = [opening(landmarks[i]) for i in span]
            low = float(min(values))
            report.checks.append(BilabialCheck(base, p.start, p.end, span, low,
                                               low > threshold, w.text))
    run: list[BilabialCheck] = []
    for c in report.checks + [None]:
        if c is not None and c.mismatch and (not run or c.start - run[-1].end < 1.0):
            run.append(c)
            continue
        if run:
            near = [x for x in report.checks if run[0].start - 0.5 <= x.start <= run[-1].end + 0.5]
            share = sum(x.mismatch for x in near) / max(len(near), 1)
            report.segments.append((run[0].start, run[-1].end, round(share, 3)))
        run = [c] if c is not None and c.mismatch else []
    return report
