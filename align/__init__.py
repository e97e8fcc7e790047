"""align: transcript <-> speech timing (forced alignment, transcription, formats).

    from retake.align import align, load_audio
    al = align(load_audio("memo.m4a"), "What I said in the memo.")
    for w in al.words: print(w.text, w.start, w.end, w.confidence)
"""

import sys as _sys
import types as _types

from retake.align.aligner import Aligner, align
from retake.align.audio import Audio, load_audio
from retake.align.formats import read_alignment, write_alignment
from retake.align.transcribe import Draft, transcribe
from retake.align.types import Alignment, Phone, Span, Word
from retake.core.errors import (
    AlignmentError,
    AudioError,
    EngineUnavailable,
    RetakeError,
    TranscriptError,
)

__all__ = [
    "Aligner", "Alignment", "AlignmentError", "Audio", "AudioError", "Draft", "EngineUnavailable",
    "Phone", "RetakeError", "Span", "TranscriptError", "Word", "align", "load_audio",
    "read_alignment", "transcribe", "write_alignment",
]


class _CallableRoom(_types.ModuleType):
    """`retake.align(audio, transcript)` is the façade's call and `retake.align` this room:
    the room is callable so the two names never fight over one attribute."""

    def __call__(self, audio, transcript: str, language: str = "en", cache_dir=None,
                 engine: str = "pocketsphinx") -> Alignment:
        """Word and phone times of `transcript` in `audio` (an Audio or a file path)."""
        sound = audio if isinstance(audio, Audio) else load_audio(audio)
        return align(sound, transcript, language=language, engine=engine,
                     cache_dir=cache_dir)


_sys.modules[__name__].__class__ = _CallableRoom
