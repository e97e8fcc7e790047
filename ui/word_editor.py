"""The studio's transcript editor: one gr.HTML component running ui/web/editor.js.

The page gets a JSON document (`document`): the recording's URL, every aligned word with its
time, confidence and (for a speech-recognition draft) what a second recogniser heard there,
and the transcript as segments (`voice.pending`). The page calls back two server functions:
`pending(text)` (what the edit engine would change) and `set_bounds(i, s, e)` (a dragged word
edge). The waveform is wavesurfer.js from ui/web/node_modules (`make install` puts it there
from the npm registry); without it the editor shows a plain audio player.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable
from pathlib import Path

import gradio as gr

WEB = Path(__file__).resolve().parent / "web"
WAVESURFER = WEB / "node_modules" / "wavesurfer.js" / "dist"
SCRIPTS = ["wavesurfer.min.js", "plugins/regions.min.js", "plugins/timeline.min.js"]


def file_url(path: str | Path) -> str:
    """The URL Gradio serves a file under (relative to the page)."""
    return "gradio_api/file=" + str(path)


def head() -> str:
    """Script tags for wavesurfer.js and its plugins, served from this machine ("" without
    them)."""
    if not all((WAVESURFER / s).is_file() for s in SCRIPTS):
        return ""
    gr.set_static_paths([str(WAVESURFER)])
    return "".join(f'<script src="/{file_url(WAVESURFER / s)}"></script>' for s in SCRIPTS)


def component(pending: Callable, set_bounds: Callable, textbox: str = "new-text",
              elem_id: str = "word-editor") -> gr.HTML:
    """The editor (inside a Blocks); `pending` and `set_bounds` become its server functions;
    it writes the edited text into the textbox whose elem_id is `textbox`."""
    return gr.HTML(value="", html_template=f'<div class="rt-editor" data-textbox="{textbox}" '
                   'hidden></div>', css_template=(WEB / "editor.css").read_text(),
                   js_on_load=(WEB / "editor.js").read_text(), head=head() or None,
                   server_functions=[pending, set_bounds], elem_id=elem_id,
                   apply_default_css=False)


def _norm(word: str) -> str:
    return re.sub(r"[^a-z0-9']", "", word.lower())


def disagreements(draft: list[str], second: list[str]) -> dict[int, str]:
    """Draft words a second recogniser heard differently: index -> what it heard there
    ("" where it heard nothing)."""
    a, b = [_norm(w) for w in draft], [_norm(w) for w in second]
    out: dict[int, str] = {}
    for tag, i0, i1, j0, j1 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag != "equal":
            for i in range(i0, i1):
                out[i] = " ".join(second[j0:j1])
    return out


def word_flags(alignment, draft_words: list[str] | None, heard: dict[int, str]
               ) -> list[str | None]:
    """For each alignment word, what the second recogniser heard where it disagrees with the
    draft (None where it agrees, and everywhere for a typed transcript). Draft words and
    alignment words are matched by their characters in the draft's text (words joined by
    spaces)."""
    if not draft_words:
        return [None] * len(alignment.words)
    starts, pos = [], 0
    for w in draft_words:
        starts.append(pos)
        pos += len(w) + 1
    out = []
    for w in alignment.words:
        k = max(0, sum(1 for s in starts if s <= w.char_start) - 1)
        out.append(heard.get(k))
    return out


def document(alignment, audio_url: str, segments: list, draft: bool = False,
             heard: list[str | None] | None = None, edited: dict | None = None,
             project: str = "") -> str:
    """The editor's JSON document. `edited`: after a render, {"url", "edits": [{"s", "e",
    "label"}], "timemap": [[t_original, t_edited], ...], "text": what was rendered}.
    `project`: its name, which the page sends back with every call."""
    heard = heard or [None] * len(alignment.words)
    words = [{"t": w.text, "s": round(w.start, 3), "e": round(w.end, 3),
              "c": round(float(w.confidence), 3), "a": bool(w.aligned),
              "dis": "" if h is None else (h or "(nothing)")}
             for w, h in zip(alignment.words, heard, strict=False)]
    doc = {"audio": audio_url, "words": words, "draft": bool(draft), "project": project,
           "segments": [s.to_dict() if hasattr(s, "to_dict") else s for s in segments]}
    if edited:
        doc.update({"edited": edited["url"], "edits": edited.get("edits", []),
                    "timemap": edited.get("timemap", []), "rendered": edited.get("text", "")})
    return json.dumps(doc)
