"""align: transcript <-> speech timing (forced alignment, transcription, formats).

    from retake.align import align, load_audio
    al = align(load_audio("memo.m4a"), "What I said in the memo.")
    for w in al.words: print(w.text, w.start, w.end, w.confidence)
"""

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
