"""Grapheme-to-phoneme for words the pronouncing dictionary lacks: espeak-ng IPA mapped to ARPAbet.

The acoustic model speaks ARPAbet (39 phones, no stress). espeak-ng gives IPA with stress and
length marks and some merged symbols (`ɑːɹ`, `aɪɚ`, `əl`); we strip the marks and split merged
symbols by longest match against the table below.
"""

from __future__ import annotations

import re

from retake.align.espeak import text_to_ipa

ARPABET = [
    "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH",
    "IH", "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH",
    "UH", "UW", "V", "W", "Y", "Z", "ZH",
]

# IPA symbol (marks stripped) -> ARPAbet phones. Longest symbols are tried first.
_IPA_TO_ARPA: dict[str, tuple[str, ...]] = {
    # consonants
    "p": ("P",), "b": ("B",), "t": ("T",), "d": ("D",), "k": ("K",), "ɡ": ("G",), "g": ("G",),
    "f": ("F",), "v": ("V",), "θ": ("TH",), "ð": ("DH",), "s": ("S",), "z": ("Z",),
    "ʃ": ("SH",), "ʒ": ("ZH",), "h": ("HH",), "m": ("M",), "n": ("N",), "ŋ": ("NG",),
    "l": ("L",), "ɹ": ("R",), "r": ("R",), "ɾ": ("T",), "w": ("W",), "j": ("Y",),
    "tʃ": ("CH",), "dʒ": ("JH",), "ʔ": ("T",), "x": ("K",), "ç": ("HH",), "ɬ": ("L",),
    "ʍ": ("W",), "ɫ": ("L",), "ɲ": ("N", "Y"),
    # vowels and diphthongs
    "ɑ": ("AA",), "ɒ": ("AA",), "a": ("AE",), "æ": ("AE",), "ʌ": ("AH",), "ɐ": ("AH",),
    "ə": ("AH",), "ɚ": ("ER",), "ɜ": ("ER",), "ɝ": ("ER",), "ɪ": ("IH",), "ᵻ": ("IH",),
    "i": ("IY",), "ɛ": ("EH",), "e": ("EH",), "eɪ": ("EY",), "aɪ": ("AY",), "aʊ": ("AW",),
    "oʊ": ("OW",), "əʊ": ("OW",), "o": ("OW",), "ɔ": ("AO",), "ɔɪ": ("OY",), "ʊ": ("UH",),
    "u": ("UW",), "ɨ": ("IH",), "y": ("UW",), "ø": ("ER",), "œ": ("ER",),
    # r-coloured and syllabic combinations espeak emits as one phoneme
    "iə": ("IY", "AH"), "ɪɹ": ("IH", "R"), "ɛɹ": ("EH", "R"), "ʊɹ": ("UH", "R"),
    "ɑɹ": ("AA", "R"), "ɔɹ": ("AO", "R"), "aɪɚ": ("AY", "ER"), "aɪə": ("AY", "ER"),
    "aʊɚ": ("AW", "ER"), "əl": ("AH", "L"),
}
_MARKS = re.compile("[ˈˌːˑ\u0329\u0361\u032f\u0303\u02de-]")
_KEYS = sorted(_IPA_TO_ARPA, key=len, reverse=True)


def ipa_to_arpabet(symbols: list[str]) -> list[str]:
    """Map espeak-ng IPA phonemes of one word to ARPAbet; unknown symbols are skipped."""
    out: list[str] = []
    for sym in symbols:
        s = _MARKS.sub("", sym)
        while s:
            for key in _KEYS:
                if s.startswith(key):
                    out.extend(_IPA_TO_ARPA[key])
                    s = s[len(key):]
                    break
            else:
                s = s[1:]  # a symbol we have no mapping for: drop it rather than guess
    return out


def g2p(word: str, language: str = "en") -> list[str]:
    """ARPAbet pronunciation of one written word, from espeak-ng's letter-to-sound rules.

    Never returns an empty list for a word with letters or digits: if espeak-ng yields nothing
    usable, the word is spelled out letter by letter.
    """
    phones: list[str] = []
    for ipa in text_to_ipa(word, language):
        phones.extend(ipa_to_arpabet(ipa))
    if not phones:
        for ch in word:
            if ch.isalnum():
                for ipa in text_to_ipa(ch, language):
                    phones.extend(ipa_to_arpabet(ipa))
    return phones
