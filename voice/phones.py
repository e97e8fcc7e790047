"""Which of the speaker's phones can stand in for one they never said.

A phone missing from the recording used to send the whole new span to espeak-ng: a robot
voice for a word that lacked one /ZH/. Now each missing phone is replaced by the nearest
phone the speaker has that keeps the word intelligible: consonants keep their voicing and
manner and move the least in place of articulation (ZH → JH, Z; TH → F, S), vowels keep
their height and backness as far as possible, a missing diphthong takes the vowel it starts
from (OY → AO, OW). The lists are ordered by preference, then any phone of the same kind;
only if none is in the inventory is the span spoken by the fallback voice.
"""

from __future__ import annotations

NEAREST: dict[str, tuple[str, ...]] = {
    # stops: same voicing first, then the same place with the other voicing
    "P": ("T", "K", "B"), "B": ("D", "G", "P"), "T": ("K", "P", "D"),
    "D": ("G", "B", "T"), "K": ("T", "P", "G"), "G": ("D", "B", "K"),
    # fricatives and affricates
    "F": ("TH", "HH", "V"), "V": ("DH", "B", "F"), "TH": ("F", "S", "DH"),
    "DH": ("V", "D", "TH"), "S": ("SH", "TH", "Z"), "Z": ("ZH", "DH", "S"),
    "SH": ("S", "CH", "ZH"), "ZH": ("JH", "SH", "Z"), "HH": ("F", "TH"),
    "CH": ("SH", "T", "JH"), "JH": ("ZH", "D", "CH"),
    # nasals, liquids, glides
    "M": ("N", "B"), "N": ("M", "NG", "D"), "NG": ("N", "M", "G"),
    "L": ("R", "W", "Y"), "R": ("ER", "L", "W"), "W": ("UW", "L", "R"), "Y": ("IY", "L"),
    # vowels
    "IY": ("IH", "EY"), "IH": ("IY", "EH", "AH"), "EY": ("EH", "IY", "IH"),
    "EH": ("AE", "IH", "EY"), "AE": ("EH", "AA"), "AA": ("AO", "AH", "AE"),
    "AO": ("AA", "OW", "AH"), "OW": ("AO", "UW", "AH"), "UH": ("UW", "AH"),
    "UW": ("UH", "OW"), "AH": ("AA", "EH", "UH"), "ER": ("R", "AH"),
    "AY": ("AA", "AE", "EY"), "AW": ("AA", "OW", "AO"), "OY": ("AO", "OW", "AY"),
}


# Last resorts, after a phone's own list: any vowel is better than a robot span, and so is a
# consonant of the same manner (a short recording often lacks every close neighbour).
_VOWELS = ("AH", "AA", "EH", "IH", "AO", "UH", "AE", "IY", "UW", "ER")
_LAST = {**{v: _VOWELS for v in ("IY", "IH", "EY", "EH", "AE", "AA", "AO", "OW", "UH", "UW",
                                 "AH", "ER", "AY", "AW", "OY")},
         **{c: ("T", "D", "K", "P", "B", "G") for c in ("P", "B", "T", "D", "K", "G")},
         **{c: ("S", "F", "TH", "SH", "Z", "V", "DH") for c in
            ("F", "V", "TH", "DH", "S", "Z", "SH", "ZH", "HH", "CH", "JH")},
         **{c: ("N", "M", "NG") for c in ("M", "N", "NG")},
         **{c: ("L", "R", "W", "Y") for c in ("L", "R", "W", "Y")}}


def stand_in(label: str, has) -> str | None:
    """The first stand-in for `label` that `has(label)` accepts (its own list, then the
    last resorts of its kind), or None."""
    for alt in (*NEAREST.get(label, ()), *_LAST.get(label, ())):
        if alt != label and has(alt):
            return alt
    return None


def substitutions(labels: list[str], has) -> dict[str, str] | None:
    """For every label `has` rejects, its stand-in; None when some label has none."""
    subs: dict[str, str] = {}
    for label in labels:
        if has(label) or label in subs:
            continue
        alt = stand_in(label, has)
        if alt is None:
            return None
        subs[label] = alt
    return subs
