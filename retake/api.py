"""The façade: the few calls a notebook user needs, over the rooms' own APIs.

Computing functions return results (`align`, `transcribe`, `edit`, `detect`); `write_*`
functions write them. `dub`, `swap` and `lipsync` stream video frames, so they write their
output as they go and return a summary. Every call that changes a voice or a face asks for
`consent=True`: the caller affirms the person agreed, and the output's Content Credentials
record it.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path

from retake.align import Alignment, Audio, Draft, load_audio
from retake.align import align as _align
from retake.align import transcribe as _transcribe
from retake.awareness.consent import ConsentError, ConsentRecord
from retake.awareness.provenance import Provenance

PathLike = str | os.PathLike


def _audio(audio: Audio | PathLike) -> Audio:
    return audio if isinstance(audio, Audio) else load_audio(audio)


def _declared(consent: bool, ingredients: tuple[Path, ...] = ()) -> Provenance:
    if consent is not True:
        raise ConsentError("Retake edits a voice or a face only with the person's consent: "
                           "pass consent=True to affirm they agreed")
    try:
        who = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name is not an error
        who = ""
    return Provenance(consent=ConsentRecord.declared(who).to_dict(), ingredients=ingredients)


def align(audio: Audio | PathLike, transcript: str, language: str = "en",
          cache_dir: PathLike | None = None) -> Alignment:
    """Word and phone times of `transcript` in `audio` (an Audio or any file FFmpeg reads)."""
    return _align(_audio(audio), transcript, language=language,
                  cache_dir=Path(cache_dir) if cache_dir else None)


def transcribe(audio: Audio | PathLike, language: str = "en") -> Draft:
    """A draft transcript by speech recognition (check it before aligning or editing)."""
    return _transcribe(_audio(audio), language=language)


def edit(audio: Audio | PathLike, transcript: str, new_text: str, *, consent: bool = False,
         options=None, cache_dir: PathLike | None = None):
    """The recording made to say `new_text` (an `EditResult`: samples, alignment, time map,
    report); write it with `write_edit`."""
    from retake.voice import EditOptions, Editor

    sources = () if isinstance(audio, Audio) else (Path(audio),)
    provenance = _declared(consent, sources)
    sound = _audio(audio)
    editor = Editor(cache_dir=Path(cache_dir) if cache_dir else None)
    result = editor.edit(editor.load(sound, transcript), new_text, options or EditOptions())
    result.provenance = provenance
    return result


def write_edit(result, out: PathLike) -> dict[str, Path]:
    """Write an `edit` result: OUT.wav (signed), OUT.json, OUT.TextGrid, OUT.timemap.json,
    OUT.report.json. Returns the paths."""
    from retake.voice import write_result

    return write_result(result, out)


def dub(video: PathLike, new_text: str, out: PathLike, *, transcript: str | None = None,
        swap_source: PathLike | None = None, consent: bool = False,
        cache_dir: PathLike | None = None):
    """Make the speaker in `video` say `new_text`; writes OUT.mp4 and its sidecars."""
    from retake.video.dub import dub as _dub

    return _dub(video, out, new_text, transcript=transcript, swap_source=swap_source,
                cache_dir=Path(cache_dir) if cache_dir else None,
                provenance=_declared(consent))


def swap(source: PathLike, target: PathLike, out: PathLike, *, consent: bool = False):
    """Put the face in the photo `source` onto the main face of `target` (video or image)."""
    from retake.video.engines import build_swapper
    from retake.video.faces import FaceModels
    from retake.video.swap import swap as _swap

    models = FaceModels()
    swapper = build_swapper("landmark", models, source=source)
    return _swap(target, out, swapper, models,
                 provenance=_declared(consent, (Path(source),)))


def lipsync(face: PathLike, audio: PathLike, out: PathLike, *, transcript: str | None = None,
            consent: bool = False) -> dict:
    """Re-render the mouth of `face` (video or photo) to say `audio`; writes OUT.mp4."""
    from retake.video.lipsync import lipsync as _lipsync

    return _lipsync(face, audio, out, transcript=transcript, provenance=_declared(consent))


def detect(path: PathLike, transcript: str | None = None):
    """Check a file for the traces of an edit (a `DetectReport`); write it with
    `write_report`."""
    from retake.awareness.detect import detect as _detect

    return _detect(path, transcript)


def write_report(report, folder: PathLike) -> tuple[Path, Path]:
    """Write a detection report as report.json and report.html in `folder`."""
    from retake.awareness.detect import write_report as _write

    return _write(report, folder)


__all__ = ["Provenance", "align", "detect", "dub", "edit", "lipsync", "load_audio", "swap",
           "transcribe", "write_edit", "write_report"]
