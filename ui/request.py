"""What the user asked for, resolved once for every surface (CLI, studio, scripts).

The CLI and the studio both turn "a transcript, and the new text as --to, --edits or a
dubbing script" into the same resolved request here, so the two can never disagree.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
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


@dataclass(frozen=True)
class EditRequest:
    """What the user asked for, as typed: the current transcript (text or file; None to
    draft it by recognition when `draft`), the new text as `to` (text or file) or as `edits`
    (a JSON file or a list of operations), or a dubbing `script` that may say all of it, plus
    the voice options and the language.

    `within`: None (the CLI) reads any file the user names. The studio gives its session's
    uploads folder: then the transcript and new text are the text itself (never a file
    name), and every file a script names must resolve inside that folder."""

    transcript: str | None = None
    to: str | None = None
    edits: str | os.PathLike | list | None = None
    script: str | os.PathLike | None = None
    draft: bool = False
    language: str = "en"
    voice: dict = field(default_factory=dict)
    swap: str | os.PathLike | None = None
    detector: str = "hog"
    within: str | os.PathLike | None = None


@dataclass(frozen=True)
class ResolvedEdit:
    """A request worked out: what is said now, what it should say, and the options."""

    transcript: str
    new_text: str
    language: str
    voice: dict
    swap: Path | None
    detector: str
    drafted: bool  # the transcript is the recogniser's draft


def check(request: EditRequest) -> EditRequest:
    """The request with its script folded in, checked before any heavy work."""
    from retake.ui.script import load_script
    from retake.voice.edit import EditError

    if request.script is not None:
        if request.to is not None or request.edits is not None:
            raise EditError("--script already says what to change; drop --to/--edits")
        sc = load_script(request.script, within=request.within)
        return replace(
            request, script=None, to=sc.to, edits=sc.edits,
            transcript=request.transcript if request.transcript is not None else sc.transcript,
            draft=request.draft or (request.transcript is None and sc.transcript is None),
            voice={**sc.voice, **request.voice}, swap=request.swap or sc.swap,
            detector=sc.detector, language=sc.language or request.language)
    if (request.to is None) == (request.edits is None):
        raise EditError("give the new text with --to, or operations with --edits (one of them)")
    from retake.voice.plan import check_edits

    if isinstance(request.edits, (str, os.PathLike)):
        if request.within is not None:
            raise EditError("give the edits as a list of operations, not a file name")
        request = replace(request, edits=read_edits(Path(request.edits)))
    if request.edits is not None:
        check_edits(request.edits)
    return replace(request, voice=check_voice_options(request.voice))


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


def check_voice_options(options: object) -> dict:
    """Voice options (from a script, the studio or the command line), checked against the
    same ranges the CLI shows, before any work."""
    from retake.voice.edit import EditError
    from retake.voice.records import OPTION_RANGES

    if not isinstance(options, dict):
        raise EditError("voice options must be a mapping such as {pitch: 0, speed: 1}")
    out = {}
    for key, value in options.items():
        if key not in OPTION_RANGES:
            raise EditError(f"voice option {str(key)[:30]!r} is unknown; use "
                            f"{', '.join(sorted(OPTION_RANGES))}")
        kind, lo, hi = OPTION_RANGES[key]
        ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if ok and kind in (int, float):
            import math

            ok = math.isfinite(value) and lo <= value <= hi
        if not ok:
            rng = f" between {lo} and {hi}" if kind in (int, float) else ""
            raise EditError(f"voice option {key}: {str(value)[:30]!r} must be a "
                            f"{kind.__name__}{rng}")
        out[key] = value
    return out


def read_edits(path: Path) -> list:
    """A JSON list of edit operations from a file."""
    import json

    from retake.voice.edit import EditError

    try:
        if path.stat().st_size > 10_000_000:
            raise EditError(f"{path}: too large for a list of edits")
        ops = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant)
    except (OSError, ValueError, RecursionError, UnicodeDecodeError) as exc:
        raise EditError(f"{path}: not a readable JSON list of edits "
                        f"({str(exc).splitlines()[0][:120]})") from None
    if not isinstance(ops, list):
        raise EditError(f"{path}: expected a JSON list of edit operations")
    return ops


def resolve(request: EditRequest, transcribe: Callable[[], str] | None = None) -> ResolvedEdit:
    """Work the request out. `transcribe()` drafts the transcript when none was given and
    the request allows a draft (it is called only then)."""
    from retake.align.normalize import tokenize
    from retake.voice.plan import apply_edits

    request = check(request)
    read = read_transcript if request.within is None else str  # the studio: text as typed
    if request.transcript is not None:
        text, drafted = read(request.transcript), False
    elif request.draft and transcribe is not None:
        text, drafted = transcribe(), True
    else:
        raise TranscriptError("give the recording's transcript with --transcript (or --draft "
                              "to use `retake transcribe`'s draft as it is)")
    if request.edits is not None:
        words = [t.text for t in tokenize(text, request.language)]
        new_text = apply_edits(words, list(request.edits))
    else:
        new_text = read(request.to)
    return ResolvedEdit(text, new_text, request.language, dict(request.voice),
                        Path(request.swap) if request.swap else None, request.detector,
                        drafted)
