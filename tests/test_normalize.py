"""Text normalization keeps a mapping back to the user's own tokens."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retake.align.normalize import tokenize
from retake.core.errors import TranscriptError


def spoken(text: str, **kw) -> list[tuple[str, tuple[str, ...]]]:
    return [(t.text, t.spoken) for t in tokenize(text, **kw)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$3.50", ("three", "dollars", "and", "fifty", "cents")),
        ("$20", ("twenty", "dollars")),
        ("£1", ("one", "pound")),
        ("21st", ("twenty", "first")),
        ("1999", ("nineteen", "ninety", "nine")),
        ("1990s", ("nineteen", "nineties")),
        ("42", ("forty", "two")),
        ("1,000,000", ("one", "million")),
        ("3.14", ("three", "point", "one", "four")),
        ("50%", ("fifty", "percent")),
        ("3:30pm", ("three", "thirty", "p", "m")),
        ("7:05", ("seven", "oh", "five")),
        ("Dr.", ("doctor",)),
        ("well-known", ("well", "known")),
        ("U.S.A.", ("u", "s", "a")),
        ("&", ("and",)),
        ("mp3", ("m", "p", "three")),
        ("HELLO", ("hello",)),
        ("Don't", ("don't",)),
    ],
)
def test_token_is_spoken_as_a_speaker_would(text, expected):
    toks = tokenize(text, is_word=lambda w: w in {"hello", "nasa"})
    assert len(toks) == 1
    assert toks[0].spoken == expected


def test_tokens_show_what_the_user_typed():
    text = 'He said: "Pay Dr. Lee $3.50 by the 21st!" (It\'s well-known.)'
    toks = tokenize(text)
    assert [t.text for t in toks] == [
        "He", "said", "Pay", "Dr.", "Lee", "$3.50", "by", "the", "21st", "It's", "well-known"]
    for t in toks:
        assert text[t.start:t.end] == t.text


def test_acronyms_spelled_only_when_not_words():
    toks = tokenize("NASA and the FBI", is_word=lambda w: w == "nasa")
    assert [t.spoken for t in toks] == [("nasa",), ("and",), ("the",), ("f", "b", "i")]


def test_no_and_co_stay_words_without_period():
    assert [t.spoken for t in tokenize("no co")] == [("no",), ("co",)]
    assert tokenize("No. 5")[0].spoken == ("number",)


def test_punctuation_only_tokens_disappear():
    assert tokenize("-- ... !!") == []


def test_control_characters_are_refused():
    with pytest.raises(TranscriptError):
        tokenize("hello\x00world")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=80))
def test_round_trip_spans_always_match_the_text(text):
    toks = tokenize(text)
    last = 0
    for t in toks:
        assert t.start >= last
        assert text[t.start:t.end] == t.text
        assert t.text.strip() == t.text and t.text
        assert all(w == w.lower() and " " not in w for w in t.spoken)
        last = t.end
