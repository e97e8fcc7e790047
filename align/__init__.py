"""align: transcript <-> speech timing (forced alignment, transcription, formats).

    from align import align, load_audio
    al = align(load_audio("memo.m4a"), "What I said in the memo.")
    for w in al.words: print(w.text, w.start, w.end, w.confidence)
"""

from .aligner import Aligner, align
from .audio import Audio, load_audio
from .errors import AlignmentError, AudioError, EngineUnavailable, RetakeError, TranscriptError
from .formats import read_alignment, write_alignment
from .transcribe import Draft, transcribe
from .types import Alignment, Phone, Span, Word

__all__ = [
    "Aligner", "Alignment", "AlignmentError", "Audio", "AudioError", "Draft", "EngineUnavailable",
    "Phone", "RetakeError", "Span", "TranscriptError", "Word", "align", "load_audio",
    "read_alignment", "transcribe", "write_alignment",
]
