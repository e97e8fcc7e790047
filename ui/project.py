"""A studio project: one recording being edited, kept on the server so a reload keeps it.

A browser (known by the studio's cookie) may have several projects, one per analysed
recording, named after the file the user gave. Each keeps what the page shows: the
transcript, the text being edited with its undo and redo, and every render, so any earlier
render can be heard and picked up again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_UNDO = 200


@dataclass
class Render:
    """One render of a project: its file name, the text it says, what the page showed."""

    name: str
    text: str
    outputs: tuple  # the render handler's values, before publishing
    view: dict | None = None  # the editor's view of it (url, edits, time map)
    rendered: object | None = None  # its takes and context clips (ui/hear.py)


@dataclass
class Project:
    """One recording and the work on it."""

    name: str  # the user's own file name
    recording: object | None = None
    transcript: str = ""  # what it says (as aligned)
    text: str = ""  # what it should say (the editor's text)
    draft: bool = False  # the transcript is a speech-recognition draft
    heard: list | None = None  # per word: what a second recogniser heard instead (or None)
    audio_url: str = ""  # the recording as the page's player fetches it
    view: dict | None = None  # the last render as the editor shows it
    rendered: object | None = None  # the last render, to hear and re-render (ui/hear.py)
    analysed: tuple = ()  # (word table, note) after analysing
    renders: list[Render] = field(default_factory=list)
    undo: list[str] = field(default_factory=list)
    redo: list[str] = field(default_factory=list)

    def note_text(self, text: str) -> None:
        """The editor's text changed: remember the old one for Undo."""
        if text == self.text:
            return
        self.undo = (self.undo + [self.text])[-MAX_UNDO:]
        self.redo.clear()
        self.text = text

    def step(self, back: bool) -> str:
        """Undo (back) or redo one text change; returns the text now."""
        src, dst = (self.undo, self.redo) if back else (self.redo, self.undo)
        if src:
            dst.append(self.text)
            self.text = src.pop()
        return self.text

    def render_label(self, r: Render) -> str:
        """How the history list names a render."""
        words = " ".join(r.text.split())
        return f"{r.name}: {words[:60]}{'…' if len(words) > 60 else ''}"
