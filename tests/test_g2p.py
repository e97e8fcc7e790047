"""Pronunciations for words the dictionary lacks come from espeak-ng, mapped to ARPAbet."""

from __future__ import annotations

import difflib
import random

import pytest

from retake.align.g2p import ARPABET, g2p, ipa_to_arpabet
from retake.align.sphinx import SphinxEngine


def test_ipa_symbols_map_to_arpabet():
    assert ipa_to_arpabet(["h", "ə", "l", "ˈoʊ"]) == ["HH", "AH", "L", "OW"]
    assert ipa_to_arpabet(["f", "ˈɔːɹ", "ɾ", "i"]) == ["F", "AO", "R", "T", "IY"]
    assert ipa_to_arpabet(["dʒ", "ˈaɪɚ"]) == ["JH", "AY", "ER"]


def test_made_up_words_get_plausible_pronunciations():
    assert g2p("zyxel")[0] == "Z"
    assert g2p("blorptastic")[:3] == ["B", "L", "AO"]
    for word in ("zyxel", "qwrtz", "xkcd", "ñandú", "42nd"):
        phones = g2p(word)
        assert phones and all(p in ARPABET for p in phones), (word, phones)


def test_agrees_with_the_dictionary_on_most_phones():
    engine = SphinxEngine()
    with open(engine._ps.get_model_path("en-us/cmudict-en-us.dict"), encoding="utf-8") as fh:
        entries = [line.split() for line in fh if line.strip()]
    words = sorted({e[0] for e in entries if "(" not in e[0] and e[0].isalpha()})
    sample = random.Random(3).sample(words, 300)
    errors = total = 0
    for w in sample:
        ref = engine.pronunciation(w)
        hyp = g2p(w)
        sm = difflib.SequenceMatcher(a=ref, b=hyp, autojunk=False)
        same = sum(b.size for b in sm.get_matching_blocks())
        errors += max(len(ref), len(hyp)) - same
        total += len(ref)
    assert errors / total < 0.25  # random dictionary entries, many of them names


@pytest.mark.parametrize("language", ["de", "es", "fr"])
def test_language_is_a_parameter(language):
    assert g2p("hallo" if language == "de" else "hola", language)
