"""Stand-ins for phones the speaker never said: nearest first, same kind, never a robot span
while any phone of the kind exists."""

from __future__ import annotations

from retake.voice.phones import NEAREST, stand_in, substitutions


def test_nearest_keeps_voicing_and_manner_first():
    have = {"SH", "Z", "S", "M", "AO", "IY", "D"}.__contains__
    assert stand_in("ZH", have) == "SH"  # postalveolar, as in "measure"
    assert stand_in("OY", have) == "AO"  # the vowel the diphthong starts from
    assert stand_in("N", have) == "M"
    assert stand_in("B", have) == "D"


def test_last_resorts_and_none():
    assert stand_in("UW", {"AH"}.__contains__) == "AH"
    assert stand_in("NG", {"AH"}.__contains__) is None  # no nasal at all
    assert substitutions(["M", "EH", "ZH", "ER"], {"M", "EH", "SH", "ER"}.__contains__) == \
        {"ZH": "SH"}
    assert substitutions(["NG"], {"AH"}.__contains__) is None


def test_every_phone_has_stand_ins_of_its_kind():
    from retake.voice.analysis import phone_class

    kin = {"fricative": {"fricative", "affricate"}, "affricate": {"fricative", "affricate"},
           "liquid": {"liquid", "glide", "vowel"}, "glide": {"glide", "liquid", "vowel"},
           "vowel": {"vowel", "liquid"}, "stop": {"stop"}, "nasal": {"nasal"}}
    for label, alts in NEAREST.items():
        assert alts and label not in alts
        assert phone_class(alts[0]) in kin[phone_class(label)], (label, alts[0])
