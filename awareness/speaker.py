"""Speaker similarity: how alike two stretches of speech sound, as one number.

Resemblyzer's speaker encoder (inside its wheel; see `retake engines`) embeds each stretch
resampled to 16 kHz; the cosine of the two embeddings is ~0.92-0.95 for the same voice and
~0.5-0.75 for different people. The edit report uses it on new spans, the consent check on
the consent take against the recording being edited.
"""

from __future__ import annotations

import warnings

import numpy as np

from retake.align.audio import resample
from retake.core.engines import EngineSpec, WeightFile, module_missing

SIMILARITY_RATE = 16000

SPEAKER_ENGINES: tuple[EngineSpec, ...] = (
    EngineSpec("speaker", "resemblyzer", "speaker embeddings: similarity of new words and of "
               "consent takes to the speaker", "nothing beyond the pip install",
               "GE2E speaker encoder (pretrained.pt) inside the resemblyzer wheel",
               "Apache-2.0", True, lambda: module_missing("resemblyzer"),
               lambda name, **_: SpeakerEncoder(), "resemblyzer",
               (WeightFile("resemblyzer", "pretrained.pt",
                           "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"),)),
)


class SpeakerEncoder:
    """Resemblyzer's encoder, loaded once; `embed` and `similarity` over mono float32 audio."""

    def __init__(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from resemblyzer import VoiceEncoder, preprocess_wav

            self._encoder = VoiceEncoder(device="cpu", verbose=False)
        self._preprocess = preprocess_wav

    def embed(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        """A unit-length speaker embedding of `samples` (any rate)."""
        x = resample(np.asarray(samples, np.float32), sample_rate, SIMILARITY_RATE)
        return self._encoder.embed_utterance(self._preprocess(x, source_sr=SIMILARITY_RATE))

    def similarity(self, a: np.ndarray, rate_a: int, b: np.ndarray, rate_b: int) -> float:
        """Cosine similarity of the two voices (1: the same embedding)."""
        return float(np.dot(self.embed(a, rate_a), self.embed(b, rate_b)))


def speaker_similarity(a: np.ndarray, rate_a: int, b: np.ndarray, rate_b: int) -> float:
    """Cosine similarity of two stretches of speech (loads the encoder: prefer a
    `SpeakerEncoder` for many comparisons)."""
    return SpeakerEncoder().similarity(a, rate_a, b, rate_b)
