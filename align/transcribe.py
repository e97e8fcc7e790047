"""A draft transcript from open recognition, for recordings that come without one.

The default engine, Whisper tiny.en, hears 88-90% of the words of natural speech and says
how sure it is of each; pocketsphinx's bundled language model is the fallback (about 6-11%
word errors on clear natural speech, poor on synthetic or noisy speech). Either way the
result is labelled a draft for the user to correct before aligning.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from retake.align.audio import ALIGN_RATE, Audio, resample
from retake.align.chunks import HOP, cut_points, frame_energy_db
from retake.align.speech_check import require_speech
from retake.core.engines import build, default
from retake.core.errors import AudioError
from retake.core.progress import Progress, stage


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


def transcribe(audio: Audio, language: str = "en", engine: str | None = None,
               progress: Progress | None = None) -> Draft:
    """Recognise speech into a draft transcript (`engine`: see `retake engines`; the
    registry's default when None)."""
    from retake.align.engines import TRANSCRIBE_ENGINES

    x = resample(audio.samples, audio.sample_rate, ALIGN_RATE)
    if len(x) < 0.2 * ALIGN_RATE:
        raise AudioError(f"the audio is too short to transcribe ({len(x) / ALIGN_RATE:.2f} s)")
    if np.percentile(frame_energy_db(x), 99) < -55:
        raise AudioError("the audio is silent (no sound above -55 dBFS); nothing to transcribe")
    require_speech(x, "transcribe")  # noise or music: fail in seconds
    name = engine or default(TRANSCRIBE_ENGINES).name
    eng = build(TRANSCRIBE_ENGINES, name, "transcription", language=language)
    return Draft(eng.recognize(x, stage(progress, "transcribing")))


class SphinxTranscriber:
    """pocketsphinx open recognition, piece by piece (pieces cut at pauses)."""

    name = "pocketsphinx"

    def __init__(self, language: str = "en") -> None:
        from retake.align.sphinx import SphinxEngine

        self._engine = SphinxEngine(language)

    def recognize(self, x: np.ndarray, progress=None) -> list[DraftWord]:
        """Draft words of `x` (mono float32 at ALIGN_RATE)."""
        frame = self._engine.frame
        bounds = [0, *cut_points(x, ALIGN_RATE, target=20.0, longest=30.0), len(x)]
        words = []
        total = len(x) / ALIGN_RATE
        for a, b in zip(bounds, bounds[1:], strict=False):
            off = a // HOP
            for word, s, e, post in self._engine.recognize(x[a:b]):
                words.append(DraftWord(word, (s + off) * frame, (e + off) * frame, post))
            if progress:
                progress(b / ALIGN_RATE, total)
        return words
