"""What the user asked for, resolved once for every surface (CLI, studio, scripts).

The CLI and the studio both turn "a transcript, and the new text as --to, --edits or a
dubbing script" into the same resolved request here, so the two can never disagree.
"""

from __future__ import annotations

import os
from pathlib import Path

from retake.core.errors import TranscriptError


def read_transcript(arg: str) -> str:
    """TRANSCRIPT is a file if such a file exists, else the text itself."""
    path = Path(arg)
    looks_like_path = (" " not in arg.strip()) and (
        path.suffix.lower() in {".txt", ".lab", ".md", ".text"} or os.sep in arg
    )
    try:
        is_file = path.is_file()
    except OSError:
        is_file = False
    if is_file:
        data = path.read_bytes()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise TranscriptError(f"{path}: not a UTF-8 text file") from None
        if "\x00" in text or any(ord(c) < 32 and c not in "\t\n\r\f" for c in text):
            raise TranscriptError(f"{path}: holds control characters; is it a text file?")
        return text
    if looks_like_path:
        raise TranscriptError(f"{arg}: no such transcript file (to align literal text, quote "
                              "a sentence with spaces)")
    return arg
