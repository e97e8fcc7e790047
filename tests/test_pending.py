"""The editor's pending edits come from the engine's own tokenizer and diff."""

from __future__ import annotations

import pytest

from retake.align.types import Alignment, Phone, Word
from retake.voice.pending import pending


def _word(text: str, s: float, e: float, spoken: list[str] | None = None) -> Word:
    spoken = spoken or [text.lower().strip(".,")]
    step = (e - s) / len(spoken)
    parts = [Phone(w, s + step * i, s + step * (i + 1)) for i, w in enumerate(spoken)]
    return Word(text, s, e, 0.9, spoken=spoken, parts=parts)


ALIGNED = Alignment([_word("I", 0, .2), _word("paid", .2, .5),
                     _word("$5", .5, 1.2, ["five", "dollars"]), _word("today.", 1.2, 1.7)],
                    2.0)


@pytest.mark.parametrize("new", ["I paid five dollars today.", "I paid $6 today",
                                 "I paid $5 yesterday - really.", "  So I paid $5 today",
                                 "paid $5", ""])
def test_kept_and_inserted_text_is_the_new_text(new: str) -> None:
    segs = pending(ALIGNED, new)
    assert "".join(s.text for s in segs if s.kind != "delete") == new


def test_a_number_spelled_out_is_not_an_edit() -> None:
    """The engine says "$5" as "five dollars": typing either keeps the recording's words."""
    segs = pending(ALIGNED, "I paid five dollars today.")
    assert {s.kind for s in segs} == {"keep"}
    assert [s.word for s in segs] == [0, 1, 2, 2, 3]


def test_a_replaced_word_is_deleted_and_inserted_in_place() -> None:
    segs = pending(ALIGNED, "I paid $6 today")
    assert [(s.kind, s.text.strip()) for s in segs] == [
        ("keep", "I"), ("keep", "paid"), ("delete", "$5"), ("insert", "$6"), ("keep", "today")]
    cut = segs[2]
    assert (cut.word, cut.start, cut.end) == (2, 0.5, 1.2)


def test_a_token_is_read_as_the_speaker_read_it() -> None:
    """"i.e." and "1905" have several readings; where the aligner heard "i e" and "nineteen
    oh five", an untouched copy of them in the new text is no edit (a one-word edit in a
    10-minute talk re-made every "i.e." as "that is" before)."""
    al = Alignment([_word("black", 0, .3), _word("letter,", .3, .7),
                    _word("i.e.", .7, 1.1, ["i", "e"]), _word("in", 1.1, 1.2),
                    _word("1905.", 1.2, 2.0, ["nineteen", "oh", "five"])], 2.5)
    segs = pending(al, "black letter, i.e. in 1905.")
    assert {s.kind for s in segs} == {"keep"}
    segs = pending(al, "white letter, i.e. in 1905.")
    assert [s.kind for s in segs].count("insert") == 1
    assert [s.text.strip() for s in segs if s.kind == "insert"] == ["white"]


def test_each_token_is_read_as_that_occurrence_was() -> None:
    """The same written token read two ways in one recording keeps each reading where it
    was heard (a 60-minute talk read one "i.e." of ten as "that is")."""
    al = Alignment([_word("i.e.", 0, .4, ["i", "e"]), _word("so", .4, .6),
                    _word("i.e.", .6, 1.0, ["that", "is"]), _word("end", 1.0, 1.4)], 1.5)
    assert {s.kind for s in pending(al, "i.e. so i.e. end")} == {"keep"}


def test_repetitive_text_edits_stay_local() -> None:
    """A refrain repeated many times: one changed word is one replacement where it was
    typed, not a paragraph cut here and re-used one repeat later (difflib's
    longest-block-first search on periodic text)."""
    from retake.voice.plan import diff

    verse = "the quick brown fox jumps over the lazy dog and runs away".split()
    old = verse * 12
    new = list(old)
    new[len(verse) * 7 + 3] = "cat"
    new[len(verse) * 1 + 5] = "under"
    ops = [op for op in diff(old, new) if op.kind != "keep"]
    assert [(op.kind, op.i0, op.i1, op.words) for op in ops] == [
        ("replace", len(verse) + 5, len(verse) + 6, ["under"]),
        ("replace", len(verse) * 7 + 3, len(verse) * 7 + 4, ["cat"])]
