"""What an edit will change, word by word, as the edit engine sees it (for an editor to show).

The engine diffs spoken words, not typed ones: "$5" and "five dollars" are the same words, so
typing one over the other changes nothing, and a page that diffed the typed text would
promise an edit that never happens. `pending` runs the engine's own tokenizer and diff
(`voice.plan.diff`) and maps the result back to the tokens a person typed: each kept or
inserted segment carries the new text exactly as typed (with the punctuation and spaces after
it), each deleted one the old token, so kept + inserted segments joined give the new text
back, character for character.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from retake.align.normalize import Token, tokenize
from retake.align.types import Alignment
from retake.voice.plan import as_recorded, diff


@dataclass(frozen=True)
class Segment:
    """One piece of the edited transcript.

    kind: "keep" (said in the recording; `start`/`end` its time there), "insert" (new words
    to be spoken) or "delete" (old words cut; `start`/`end` where they were). `text`: for keep
    and insert, the new text's characters (token and what follows it up to the next spoken
    token); for delete, the old token. `word`: the old word's index in the alignment (None
    for inserted text, and for leading text that is not spoken)."""

    kind: str
    text: str
    word: int | None = None
    start: float | None = None
    end: float | None = None

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return asdict(self)


def _old_spoken(al: Alignment) -> list[tuple[str, int, float, float]]:
    """The alignment's spoken words in the order the edit engine indexes them
    (`voice.assembly.old_words`), each with its token's index and its time."""
    out = []
    for k, w in enumerate(al.words):
        if w.aligned and w.parts:
            out += [(p.label, k, p.start, p.end) for p in w.parts]
        else:
            out += [(s, k, w.start, w.start) for s in w.spoken]
    return out


def _typed(text: str, tokens: list[Token], k: int) -> str:
    """Token k as typed, with everything after it up to the next token that is spoken (a
    token that is not, a lone dash, travels with the word before it)."""
    end = next((t.start for t in tokens[k + 1:] if t.spoken), len(text))
    return text[tokens[k].start:end]


def pending(al: Alignment, new_text: str, language: str = "en",
            is_word: Callable[[str], bool] = lambda w: False) -> list[Segment]:
    """The segments turning the aligned transcript into `new_text`, in reading order."""
    tokens = as_recorded(tokenize(new_text, language, is_word=is_word), al.words)
    new = [(w, j) for j, t in enumerate(tokens) for w in t.spoken]
    old = _old_spoken(al)
    out: list[Segment] = []
    lead = new_text[:next((t.start for t in tokens if t.spoken), len(new_text))]
    if lead:
        out.append(Segment("keep", lead))  # nothing spoken: kept as typed
    shown_old: set[int] = set()
    shown_new: set[int] = set()
    cursor = 0  # new spoken words used so far (the diff's ops come in new order)
    for op in diff([o[0] for o in old], [n[0] for n in new]):
        if op.kind == "keep":
            for d in range(op.i1 - op.i0):
                _, k, s, e = old[op.i0 + d]
                shown_old.add(k)
                j = new[cursor + d][1]
                if j in shown_new:  # one typed token for several spoken words: widen it
                    last = out[-1]
                    if last.kind == "keep" and last.word is not None:
                        out[-1] = Segment("keep", last.text, last.word, last.start, e)
                    continue
                shown_new.add(j)
                out.append(Segment("keep", _typed(new_text, tokens, j), k, s, e))
            cursor += op.i1 - op.i0
            continue
        for i in range(op.i0, op.i1):
            k = old[i][1]
            if k not in shown_old:
                shown_old.add(k)
                w = al.words[k]
                out.append(Segment("delete", w.text, k, w.start, w.end))
        for d in range(len(op.words)):
            j = new[cursor + d][1]
            if j not in shown_new:
                shown_new.add(j)
                out.append(Segment("insert", _typed(new_text, tokens, j)))
        cursor += len(op.words)
    return out
