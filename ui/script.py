"""Dubbing scripts: one YAML or JSON file that says everything a `retake dub` run needs.

    transcript: "what the video says now"     # or a path to a .txt file; omit to transcribe
    to: "what it should say"                  # either this ...
    edits:                                    # ... or operations on the transcript's words
      - {op: replace, from: 9, to: 9, text: third}
    swap: face.jpg                            # optional: also swap the face (landmark engine)
    voice: {engine: units, pitch: 0.0, emphasis: 0.0, speed: 1.0, takes: 1}
    faces: {detector: hog}
    language: en                              # optional: the speech's language

Relative paths are resolved against the script's folder, so a script travels with its media.
`retake dub --script` reads any file the script names; the studio passes `within` (the
session's uploads folder), and then every path must resolve there (symlinks resolved) and
text that looks like a path is refused unless it is such a file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from retake.core.errors import RetakeError

MAX_SCRIPT_BYTES = 1_000_000
TOP_KEYS = {"transcript", "to", "edits", "swap", "voice", "faces", "video", "language"}


@dataclass
class DubScript:
    """A parsed dubbing script."""

    transcript: str | None = None
    to: str | None = None
    edits: list[dict] | None = None
    swap: Path | None = None
    video: Path | None = None
    voice: dict = field(default_factory=dict)
    detector: str = "hog"
    language: str | None = None


TEXT_FILES = {".txt", ".lab"}


def _inside(path: Path, within: Path) -> bool:
    """`path` (symlinks resolved) is a file inside the folder `within`."""
    try:
        real = Path(os.path.realpath(path))
        return real.is_relative_to(os.path.realpath(within)) and real.is_file()
    except (OSError, ValueError):
        return False


def _not_uploaded(key: str, value: str) -> RetakeError:
    # One message for a file that is missing and one that is outside: it must not tell
    # whether some other file on the server exists.
    name = Path(value).name or value
    text = ", or write the text itself" if key in ("transcript", "to") else ""
    return RetakeError(f"script: `{key}` names {name[:80]!r}, which is not among the files "
                       f"uploaded with the script; upload it beside the script{text}")


def _looks_like_path(value: str) -> bool:
    v = value.strip()
    return not any(c.isspace() for c in v) and (
        Path(v).suffix.lower() in TEXT_FILES or "/" in v or "\\" in v or v.startswith("~"))


def _text(value: object, base: Path, key: str, within: Path | None = None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RetakeError(f"script: `{key}` must be text or a path to a text file")
    p = base / value
    if within is not None:
        if not _looks_like_path(value):
            return value
        if p.suffix.lower() not in TEXT_FILES or not _inside(p, within):
            raise _not_uploaded(key, value)
        try:
            return p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            raise RetakeError(f"script: `{key}`: {Path(value).name[:80]!r} is not a UTF-8 "
                              "text file; upload it again as plain text") from None
    if p.suffix.lower() in TEXT_FILES and p.is_file():
        return p.read_text(encoding="utf-8")
    return value


def load_script(path: str | os.PathLike, within: str | os.PathLike | None = None) -> DubScript:
    """Read and check a dubbing script (YAML or JSON); one clear error for any mistake.

    `within`: a folder every file the script names must resolve inside (the studio's session
    uploads); None (the CLI) reads any file the user names.
    """
    import yaml

    p = Path(path)
    within = Path(within) if within is not None else None
    if within is not None and not _inside(p, within):
        raise RetakeError(f"{p.name}: the script is not among this session's uploads; "
                          "upload it again")
    try:
        if p.stat().st_size > MAX_SCRIPT_BYTES:
            raise RetakeError(f"{p}: too large for a dubbing script")
        raw = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RetakeError(f"{p}: cannot read the script ({exc})") from None
    try:
        data = json.loads(raw) if p.suffix.lower() == ".json" else yaml.safe_load(raw)
    except RecursionError:
        raise RetakeError(f"{p}: nested too deeply to be a dubbing script") from None
    except (ValueError, yaml.YAMLError) as exc:
        raise RetakeError(f"{p}: not valid {'JSON' if p.suffix == '.json' else 'YAML'} "
                          f"({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise RetakeError(f"{p}: a script is a mapping with keys such as transcript, to, "
                          "edits, swap, voice")
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise RetakeError(f"{p}: unknown key(s) {', '.join(sorted(unknown))}; use "
                          f"{', '.join(sorted(TOP_KEYS))}")
    base = p.parent
    s = DubScript()
    if data.get("transcript") is not None:
        s.transcript = _text(data["transcript"], base, "transcript", within)
    if ("to" in data) == ("edits" in data):
        raise RetakeError(f"{p}: give either `to` (the new text) or `edits` (operations)")
    if "to" in data:
        s.to = _text(data["to"], base, "to", within)
    else:
        edits = data["edits"]
        if not isinstance(edits, list) or not all(isinstance(e, dict) for e in edits):
            raise RetakeError(f"{p}: `edits` must be a list of operations like "
                              "{op: replace, from: 3, to: 3, text: new}")
        s.edits = edits
    for key in ("swap", "video"):
        if data.get(key) is not None:
            q = base / str(data[key])
            if within is not None:
                if not _inside(q, within):
                    raise _not_uploaded(key, str(data[key]))
                q = Path(os.path.realpath(q))
            elif not q.is_file():
                raise RetakeError(f"{p}: `{key}` file {q} does not exist")
            setattr(s, key, q)
    from retake.ui.request import check_voice_options

    try:
        s.voice = check_voice_options(data.get("voice") or {})
    except RetakeError as exc:
        raise RetakeError(f"{p}: {exc}") from None
    faces = data.get("faces") or {}
    if not isinstance(faces, dict) or set(faces) - {"detector"}:
        raise RetakeError(f"{p}: `faces` takes detector (hog or cnn)")
    s.detector = str(faces.get("detector", "hog"))
    if data.get("language") is not None:
        if not isinstance(data["language"], str) or not data["language"].strip():
            raise RetakeError(f"{p}: `language` is a language code such as en")
        s.language = data["language"].strip()
    return s
