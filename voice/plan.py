"""From old words and new text to edit operations.

The diff runs over spoken words (normalized, lower-case), so "$5" and "five dollars" are the
same words. Each run of new words is then realised from the best source available: the
same words spoken elsewhere in the recording (re-used audio) before anything is synthesized.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field


@dataclass
class Op:
    """One step of the edit: keep old words [i0, i1), or put new words where old [i0, i1) were.

    kind: "keep" | "delete" | "insert" | "replace". For insert, i0 == i1 is the old position.
    """

    kind: str
    i0: int
    i1: int
    words: list[str] = field(default_factory=list)

    def describe(self, old: list[str]) -> str:
        """Human-readable summary for reports."""
        if self.kind == "keep":
            return f"keep {' '.join(old[self.i0:self.i1])!r}"
        if self.kind == "delete":
            return f"delete {' '.join(old[self.i0:self.i1])!r}"
        if self.kind == "insert":
            return f"insert {' '.join(self.words)!r}"
        return f"replace {' '.join(old[self.i0:self.i1])!r} with {' '.join(self.words)!r}"


@dataclass
class Source:
    """Where a run of new words comes from: old words [i0, i1) re-used, or synthesized."""

    words: list[str]
    reuse: tuple[int, int] | None = None


def diff(old: list[str], new: list[str]) -> list[Op]:
    """Edit operations turning the old word sequence into the new one (in new order).

    The words both share at the start and at the end are kept as they are before difflib
    sees the rest: on repetitive text (a refrain, a talk that quotes itself) its
    longest-block-first search can otherwise match a run to its repeat, one period off, and
    turn a one-word edit into "cut a paragraph here, re-use it there"."""
    n = min(len(old), len(new))
    head = 0
    while head < n and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < n - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    ops: list[Op] = [Op("keep", 0, head)] if head else []
    sm = difflib.SequenceMatcher(a=old[head:len(old) - tail], b=new[head:len(new) - tail],
                                 autojunk=False)
    for tag, i0, i1, j0, j1 in sm.get_opcodes():
        i0, i1, j0, j1 = i0 + head, i1 + head, j0 + head, j1 + head
        if tag == "equal":
            ops.append(Op("keep", i0, i1))
        elif tag == "delete":
            ops.append(Op("delete", i0, i1))
        elif tag == "insert":
            ops.append(Op("insert", i0, i0, new[j0:j1]))
        else:
            ops.append(Op("replace", i0, i1, new[j0:j1]))
    if tail:
        ops.append(Op("keep", len(old) - tail, len(old)))
    return _joined(ops)


def _joined(ops: list[Op]) -> list[Op]:
    """Neighbouring keeps as one (the trimmed ends meet difflib's own keeps)."""
    out: list[Op] = []
    for op in ops:
        if out and op.kind == "keep" and out[-1].kind == "keep" and out[-1].i1 == op.i0:
            out[-1] = Op("keep", out[-1].i0, op.i1)
        else:
            out.append(op)
    return out


def as_recorded(tokens: list, words: list) -> list:
    """New tokens read as the speaker read the same written token in the recording.

    A token with several readings ("i.e." as "that is" or "i e", "1905" as a year or a
    number) is tokenized with its first reading, but the aligner may have heard another;
    the diff compares spoken words, so an untouched "i.e." read "i e" in the recording
    would otherwise be re-made as "that is" by every edit. `words` are the alignment's
    words (`text`, `spoken`, `aligned`). Each new token takes the reading of the old word
    it stands for (matched by written text, in order), else the first reading heard for
    its written form anywhere, when that is one of the token's readings."""
    from dataclasses import replace

    old = [w.text.lower() for w in words]
    matched: dict[int, int] = {}
    sm = difflib.SequenceMatcher(a=old, b=[t.text.lower() for t in tokens], autojunk=False)
    for i0, j0, n in sm.get_matching_blocks():
        matched.update({j0 + k: i0 + k for k in range(n)})
    heard: dict[str, tuple[str, ...]] = {}
    for w in words:
        if w.aligned and w.spoken:
            heard.setdefault(w.text.lower(), tuple(w.spoken))
    out = []
    for j, t in enumerate(tokens):
        if t.alternatives:
            w = words[matched[j]] if j in matched else None
            reading = (tuple(w.spoken) if w is not None and w.aligned and w.spoken
                       else heard.get(t.text.lower()))
            if reading and reading != tuple(t.spoken) and reading in t.alternatives:
                others = tuple(a for a in (tuple(t.spoken), *t.alternatives) if a != reading)
                t = replace(t, spoken=reading, alternatives=others)
        out.append(t)
    return out


def sources(words: list[str], old: list[str], usable: list[bool]) -> list[Source]:
    """Split new words into runs re-used from the recording (longest first) and runs to
    synthesize. `usable[i]` says whether old word i has trustworthy audio."""
    out: list[Source] = []
    k = 0
    pending: list[str] = []
    while k < len(words):
        best = (0, -1)
        for i in range(len(old)):
            n = 0
            while (k + n < len(words) and i + n < len(old) and old[i + n] == words[k + n]
                   and usable[i + n]):
                n += 1
            if n > best[0]:
                best = (n, i)
        if best[0] == 0:
            pending.append(words[k])
            k += 1
            continue
        if pending:
            out.append(Source(pending))
            pending = []
        n, i = best
        out.append(Source(words[k:k + n], (i, i + n)))
        k += n
    if pending:
        out.append(Source(pending))
    return out


_FIELDS = {"delete": ({"from"}, {"to"}), "replace": ({"from", "text"}, {"to"}),
           "insert": ({"after", "text"}, set()), "move": ({"from", "after"}, {"to"})}
MAX_EDITS = 10_000
MAX_TEXT = 2_000


def check_edits(edits: object) -> list[dict]:
    """The edit list, checked for shape and types before any work (ranges need the
    transcript and are checked by `apply_edits`); one clear error for the first problem."""
    from retake.core.errors import TranscriptError

    example = '{"op": "replace", "from": 3, "to": 3, "text": "new"}'
    if not isinstance(edits, list):
        raise TranscriptError(f"edits must be a list of operations like [{example}]")
    if len(edits) > MAX_EDITS:
        raise TranscriptError(f"{len(edits)} edits: at most {MAX_EDITS} in one list")
    for k, e in enumerate(edits):
        where = f"edit #{k + 1}"
        if not isinstance(e, dict):
            raise TranscriptError(f"{where}: {str(e)[:60]!r} is not an operation like {example}")
        op = e.get("op")
        if op not in _FIELDS:
            raise TranscriptError(f"{where}: unknown operation {str(op)[:30]!r}; use "
                                  "delete, insert, replace or move")
        need, optional = _FIELDS[op]
        missing = sorted(need - set(e))
        if missing:
            raise TranscriptError(f"{where} ({op}): missing {', '.join(missing)}")
        extra = sorted(set(e) - need - optional - {"op"})
        if extra:
            raise TranscriptError(f"{where} ({op}): unknown field(s) {', '.join(extra)}")
        for key in ("from", "to", "after"):
            if key in e and (not isinstance(e[key], int) or isinstance(e[key], bool)):
                raise TranscriptError(f"{where} ({op}): `{key}` must be a word index (a whole "
                                      f"number), not {str(e[key])[:30]!r}")
        if "text" in e:
            text = e["text"]
            if not isinstance(text, str) or not text.strip():
                raise TranscriptError(f"{where} ({op}): `text` must be the new words, not "
                                      f"{str(text)[:30]!r}")
            if len(text) > MAX_TEXT or any(ord(c) < 32 and c not in "\t\n" for c in text):
                raise TranscriptError(f"{where} ({op}): `text` is too long or holds control "
                                      "characters")
    return edits


def apply_edits(tokens: list[str], edits: list[dict]) -> str:
    """New text from explicit operations on the transcript's tokens (0-based, inclusive):

        {"op": "delete", "from": 3, "to": 4}
        {"op": "insert", "after": 7, "text": "very"}      (after -1 = at the start)
        {"op": "replace", "from": 2, "to": 2, "text": "three"}
        {"op": "move", "from": 5, "to": 6, "after": 0}

    Indices always refer to the original tokens, so operations do not shift each other.
    """
    from retake.core.errors import TranscriptError

    check_edits(edits)
    n = len(tokens)
    slots: list[list[str]] = [[t] for t in tokens]
    before: list[str] = []  # insertions at the very start
    after: dict[int, list[str]] = {}

    def rng(e: dict) -> range:
        a, b = int(e["from"]), int(e.get("to", e["from"]))
        if not (0 <= a <= b < n):
            raise TranscriptError(f"edit {e}: token range outside 0..{n - 1}")
        return range(a, b + 1)

    for e in edits:
        op = e.get("op")
        if op == "delete":
            for i in rng(e):
                slots[i] = []
        elif op == "replace":
            r = rng(e)
            for i in r:
                slots[i] = []
            slots[r[0]] = [str(e["text"])]
        elif op in ("insert", "move"):
            where = int(e["after"])
            if not -1 <= where < n:
                raise TranscriptError(f"edit {e}: 'after' outside -1..{n - 1}")
            if op == "insert":
                text = [str(e["text"])]
            else:
                r = rng(e)
                text = [tokens[i] for i in r]
                for i in r:
                    slots[i] = []
            (before if where == -1 else after.setdefault(where, [])).extend(text)
        else:
            raise TranscriptError(f"unknown edit operation {op!r} (use delete, insert, "
                                  "replace or move)")
    out = list(before)
    for i in range(n):
        out += slots[i] + after.get(i, [])
    return " ".join(out)
