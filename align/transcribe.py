"""A draft transcript from open recognition, for recordings that come without one.

pocketsphinx's bundled language model makes a usable draft of clear natural speech (about
6-11% word errors) and a poor one of synthetic or noisy speech, so the result is always
labelled a draft for the user to correct before aligning.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from retake.align.aligner import Progress
from retake.align.audio import ALIGN_RATE, Audio, resample
from retake.align.chunks import HOP, cut_points, frame_energy_db
from retake.align.sphinx import FRAME, SphinxEngine
from retake.core.engines import TRANSCRIBE_ENGINES
from retake.core.errors import AudioError, EngineUnavailable


@dataclass
class DraftWord:
    """A recognised word, its time span in seconds and the recogniser's posterior (0-1)."""

    text: str
    start: float
    end: float
    confidence: float


@dataclass
class Draft:
    """A draft transcript: recognised words in order."""

    words: list[DraftWord] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The words joined by spaces."""
        return " ".join(w.text for w in self.words)


def transcribe(
    audio: Audio, language: str = "en", engine: str = "pocketsphinx",
    progress: Progress | None = None,
) -> Draft:
    """Recognise speech into a draft transcript, piece by piece (pieces cut at pauses)."""
    if engine not in {e.name for e in TRANSCRIBE_ENGINES}:
        raise EngineUnavailable(f"no transcription engine {engine!r}; choose pocketsphinx")
    x = resample(audio.samples, audio.sample_rate, ALIGN_RATE)
    if len(x) < 0.2 * ALIGN_RATE:
        raise AudioError(f"the audio is too short to transcribe ({len(x) / ALIGN_RATE:.2f} s)")
    import numpy as np

    if np.percentile(frame_energy_db(x), 99) < -55:
        raise AudioError("the audio is silent (no sound above -55 dBFS); nothing to transcribe")
    eng = SphinxEngine(language)
    bounds = [0, *cut_points(x, ALIGN_RATE, target=20.0, longest=30.0), len(x)]
    draft = Draft()
    total = len(x) / ALIGN_RATE
    for a, b in zip(bounds, bounds[1:], strict=False):
        off = a // HOP
        for word, s, e, post in eng.recognize(x[a:b]):
            draft.words.append(DraftWord(word, (s + off) * FRAME, (e + off) * FRAME, post))
        if progress:
            progress(b / ALIGN_RATE, total)
    return draft
