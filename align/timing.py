"""What an alignment engine returns, and the interface the aligner drives.

Timings are in frames of the engine's own `frame` (seconds); the aligner runs on a 10 ms grid
(`align.chunks.FRAME`) and refuses an engine on another grid rather than mis-scale it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass
class PhoneTiming:
    """One phone: ARPAbet label and [start, end) in frames."""

    label: str
    start: int
    end: int


@dataclass
class WordTiming:
    """One aligned word: index into the word list given, frames [start, end), score, phones.

    Pauses and fillers the engine placed between words come with index -1.
    """

    index: int
    start: int
    end: int
    score: float
    phones: list[PhoneTiming]

    @property
    def score_per_frame(self) -> float:
        """Mean acoustic score per frame relative to the best senone (0 is a perfect fit)."""
        return self.score / max(1, self.end - self.start)


@dataclass
class RobustItem:
    """A piece of a robust alignment: a found word (index), or garbage (index None)."""

    index: int | None
    start: int
    end: int



class AlignEngine(Protocol):
    """The searches the aligner needs (see `align.sphinx` for the reference engine)."""

    name: str
    frame: float

    def align(self, audio: np.ndarray, words: list[str]) -> list[WordTiming] | None:
        """The words in order over the whole audio."""
        ...

    def align_prefix(self, audio: np.ndarray, words: list[str], expected: float | None,
                     slack_before: int, slack_after: int, entry_cost: float
                     ) -> list[WordTiming] | None:
        """The words in order, the speech allowed to end after any of them."""
        ...

    def align_robust(self, audio: np.ndarray, words: list[str], skip: float,
                     garbage: float) -> list[RobustItem] | None:
        """Words that may be skipped, with free garbage between any two."""
        ...
