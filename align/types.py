"""The Alignment: what was said when, word by word and phone by phone.

Times are seconds (float) from the start of the audio. Every token of the transcript appears
in `words`, in order; a token that could not be found in the audio has `aligned=False`
(its start and end both mark where it would have been), so nothing is silently dropped.
Stretches of audio the transcript does not account for, and transcript words the audio does
not contain, are listed in `unaligned`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

FORMAT_VERSION = 1


@dataclass
class Phone:
    """One phone (ARPAbet for English) and its interval in seconds."""

    label: str
    start: float
    end: float


@dataclass
class Word:
    """One token of the transcript as the user typed it, and where it was spoken."""

    text: str
    start: float
    end: float
    confidence: float
    phones: list[Phone] = field(default_factory=list)
    spoken: list[str] = field(default_factory=list)
    char_start: int = 0
    char_end: int = 0
    aligned: bool = True
    parts: list[Phone] = field(default_factory=list)  # each spoken word's interval (label=word)


@dataclass
class Span:
    """A stretch that could not be aligned.

    kind: "untranscribed" (sound the transcript does not account for), "missing" (transcript
    words the audio does not contain; `words` lists their indices) or "uncertain" (aligned,
    but with confidence too low to trust).
    """

    kind: str
    start: float
    end: float
    words: list[int] = field(default_factory=list)
    note: str = ""


@dataclass
class Alignment:
    """Words with phones and times, plus what could not be aligned."""

    words: list[Word]
    duration: float
    language: str = "en"
    engine: str = "pocketsphinx"
    transcript: str = ""
    unaligned: list[Span] = field(default_factory=list)

    def aligned_words(self) -> list[Word]:
        """The words that were found in the audio."""
        return [w for w in self.words if w.aligned]

    def phones(self) -> list[Phone]:
        """All phones of aligned words, in time order."""
        return [p for w in self.words if w.aligned for p in w.phones]

    def text(self) -> str:
        """The transcript's tokens joined by spaces."""
        return " ".join(w.text for w in self.words)

    def to_dict(self) -> dict:
        """A JSON-ready dict (see `from_dict`)."""
        d = asdict(self)
        d["format"] = "retake.alignment"
        d["version"] = FORMAT_VERSION
        return d

    def to_json(self) -> str:
        """Pretty JSON with times rounded to the millisecond."""
        return json.dumps(_round(self.to_dict()), indent=1, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, d: dict) -> Alignment:
        """Inverse of `to_dict`."""
        if d.get("format") != "retake.alignment":
            raise ValueError("not a Retake alignment (missing format: retake.alignment)")
        words = [
            Word(**{**w, "phones": [Phone(**p) for p in w.get("phones", [])],
                    "parts": [Phone(**p) for p in w.get("parts", [])]})
            for w in d["words"]
        ]
        spans = [Span(**s) for s in d.get("unaligned", [])]
        return cls(words, d["duration"], d.get("language", "en"), d.get("engine", ""),
                   d.get("transcript", ""), spans)

    @classmethod
    def from_json(cls, text: str) -> Alignment:
        """Parse the output of `to_json`."""
        return cls.from_dict(json.loads(text))


def _round(obj):
    if isinstance(obj, float):
        return round(obj, 4)
    if isinstance(obj, dict):
        return {k: _round(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_round(v) for v in obj]
    return obj
