"""Text normalization that remembers where every spoken word came from.

The aligner needs spoken words ("three dollars fifty cents"); the user wants to see what they
typed ("$3.50"). `tokenize` splits a transcript into the user's tokens, each with its character
span and the list of words a speaker says for it. Alignment results are reported per token.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from num2words import num2words

from retake.core.errors import TranscriptError


@dataclass(frozen=True)
class Token:
    """One token of the user's transcript and the words a speaker says for it.

    `text` is exactly `transcript[start:end]`: the token as typed, without the sentence
    punctuation around it. `spoken` is lower-case words; it may be empty for a token that is
    not said (a lone dash, an emoji). `alternatives` are other ways a speaker may read the
    token ("i.e." as "that is" or "i e"; "1905" as a year or a number); the aligner tries
    them where the first reading is not heard.
    """

    text: str
    start: int
    end: int
    spoken: tuple[str, ...] = field(default_factory=tuple)
    alternatives: tuple[tuple[str, ...], ...] = field(default_factory=tuple)


# Abbreviations that are read as words. Keys are lower-case without the trailing period.
_ABBREVIATIONS = {
    "mr": "mister", "mrs": "missus", "ms": "miz", "dr": "doctor", "prof": "professor",
    "st": "saint", "jr": "junior", "sr": "senior", "vs": "versus", "etc": "et cetera",
    "e.g": "for example", "i.e": "that is", "approx": "approximately", "dept": "department",
    "gov": "governor", "sen": "senator", "rep": "representative", "gen": "general",
    "capt": "captain", "lt": "lieutenant", "col": "colonel", "sgt": "sergeant",
    "inc": "incorporated", "ltd": "limited", "corp": "corporation", "co": "company",
    "mt": "mount", "ave": "avenue", "blvd": "boulevard", "rd": "road", "no": "number",
    "vol": "volume", "fig": "figure", "min": "minutes", "hr": "hour", "hrs": "hours",
    "km": "kilometers", "kg": "kilograms", "cm": "centimeters", "mm": "millimeters",
    "lb": "pounds", "lbs": "pounds", "oz": "ounces", "ft": "feet", "sq": "square",
}
# Abbreviations only expanded when written with their period (so "no" and "co" stay words).
_NEEDS_PERIOD = {"no", "co", "st", "min", "col", "gen", "sen", "rep", "fig", "vol", "sq"}
_SYMBOLS = {"&": "and", "+": "plus", "=": "equals", "@": "at", "%": "percent", "#": "number"}
_CURRENCY = {
    "$": ("dollar", "dollars", "cent", "cents"), "£": ("pound", "pounds", "penny", "pence"),
    "€": ("euro", "euros", "cent", "cents"), "¥": ("yen", "yen", "sen", "sen"),
}
_SCALES = {"k": "thousand", "m": "million", "bn": "billion", "b": "billion", "t": "trillion"}

# Punctuation that surrounds tokens without being part of them.
_OUTER = "\"'“”‘’«»()[]{}<>,;:!?…—–-*_/\\|~`"
_TOKEN_RE = re.compile(r"\S+")
_WORD_SPLIT = re.compile(r"[^\w']+", re.UNICODE)


def _words(text: str) -> list[str]:
    return [w for w in _WORD_SPLIT.split(text.lower()) if w and w != "'"]


def _cardinal(digits: str, language: str) -> list[str]:
    digits = digits.replace(",", "")
    if "." in digits:
        whole, frac = digits.split(".", 1)
        words = _words(num2words(int(whole or 0), lang=language)) if whole else ["zero"]
        point = {"en": "point"}.get(language)
        if point is None:
            return _words(num2words(float(digits), lang=language))
        return words + [point] + [w for d in frac for w in _words(num2words(int(d), lang=language))]
    return _words(num2words(int(digits), lang=language))


def _number_words(core: str, language: str) -> list[str] | None:
    """Spoken words for a numeric token (currency, percent, ordinal, year, time), or None."""
    m = re.fullmatch(r"([$£€¥])(\d[\d,]*(?:\.\d+)?)(k|m|bn|b|t)?", core, re.I)
    if m:
        sym, num, scale = m.groups()
        one, many, sub_one, sub_many = _CURRENCY[sym]
        whole, _, cents = num.replace(",", "").partition(".")
        if scale:
            return _cardinal(num, language) + [_SCALES[scale.lower()], many]
        words = _cardinal(whole, language) + [one if int(whole) == 1 else many]
        if cents and int(cents):
            c = int(cents.ljust(2, "0")[:2])
            words += ["and"] + _cardinal(str(c), language) + [sub_one if c == 1 else sub_many]
        return words
    m = re.fullmatch(r"(\d[\d,]*(?:\.\d+)?)%", core)
    if m:
        return _cardinal(m.group(1), language) + ["percent"]
    m = re.fullmatch(r"(\d+)(st|nd|rd|th)", core, re.I)
    if m:
        return _words(num2words(int(m.group(1)), lang=language, to="ordinal"))
    m = re.fullmatch(r"(\d{1,2}):(\d{2})(am|pm|a\.m\.|p\.m\.)?", core, re.I)
    if m:
        hour, minute, ampm = int(m.group(1)), int(m.group(2)), m.group(3)
        words = _cardinal(str(hour), language)
        if minute == 0:
            words += [] if ampm else ["o'clock"]
        elif minute < 10:
            words += ["oh"] + _cardinal(str(minute), language)
        else:
            words += _cardinal(str(minute), language)
        if ampm:
            words += ["a", "m"] if ampm.lower().startswith("a") else ["p", "m"]
        return words
    m = re.fullmatch(r"(\d{4})(s|'s)?", core)
    if m and language == "en" and 1100 <= int(m.group(1)) <= 2099:
        words = _words(num2words(int(m.group(1)), lang=language, to="year"))
        if m.group(2):  # the 1990s -> nineteen nineties
            last = words[-1]
            words[-1] = (last[:-1] + "ies") if last.endswith("y") else last + "s"
        return words
    if re.fullmatch(r"\d[\d,]*(?:\.\d+)?", core) and not core.endswith(","):
        return _cardinal(core, language)
    m = re.fullmatch(r"(\d[\d,]*(?:\.\d+)?)(k|m|bn)", core, re.I)
    if m:
        return _cardinal(m.group(1), language) + [_SCALES[m.group(2).lower()]]
    return None


def _strip_outer(token: str, offset: int) -> tuple[str, int]:
    """Remove sentence punctuation around a token; keep a trailing period for now."""
    start, end = 0, len(token)
    while start < end and token[start] in _OUTER:
        start += 1
    while end > start and token[end - 1] in _OUTER:
        end -= 1
    return token[start:end], offset + start


def _spoken(core: str, language: str, is_word: callable) -> list[str]:
    """Words a speaker says for one cleaned token."""
    if not core:
        return []
    nums = _number_words(core, language)
    if nums is None and core.endswith("."):
        nums = _number_words(core.rstrip("."), language)
    if nums is not None:
        return nums
    low = core.lower()
    if low.rstrip(".") in _ABBREVIATIONS and language == "en":
        key = low.rstrip(".")
        if key not in _NEEDS_PERIOD or low.endswith("."):
            return _ABBREVIATIONS[key].split()
    if low in _SYMBOLS:
        return [_SYMBOLS[low]]
    # Hyphens, slashes and other joiners: say the parts.
    parts = [p for p in re.split(r"[-–—/\\]+", core) if p]
    if len(parts) > 1:
        return [w for p in parts for w in _spoken(p.strip(_OUTER + "."), language, is_word)]
    # Letter/digit mixtures such as "mp3" or "3d": say the runs separately.
    runs = re.findall(r"\d[\d,.]*\d|\d|[^\W\d_]+(?:'[^\W\d_]+)*", core)
    if len(runs) > 1:
        return [w for r in runs for w in _spoken(r, language, is_word)]
    word = low.strip(".'")
    if not word:
        return []
    # Dotted initialisms (U.S.A.) and unknown all-capital acronyms are spelled out.
    if re.fullmatch(r"(?:[^\W\d_]\.){2,}[^\W\d_]?\.?", low):
        return [c for c in low if c.isalpha()]
    if core.isupper() and 2 <= len(word) <= 5 and not is_word(word):
        return list(word)
    if word.isalpha() and len(word) <= 4 and not re.search("[aeiouy]", word) and not is_word(word):
        return list(word)  # "mp", "pdf": no vowel, so it is read letter by letter
    if not any(c.isalnum() for c in word):
        return [_SYMBOLS[c] for c in word if c in _SYMBOLS]
    return [w for w in _WORD_SPLIT.split(word) if w and w != "'"]


_ALTERNATIVES = {
    "i.e": [("i", "e")], "e.g": [("e", "g")], "etc": [("etcetera",)], "st": [("street",)],
    "dr": [("drive",)], "vs": [("vs",), ("v", "s")], "no": [("no",)], "mt": [("mountain",)],
}


def _alternatives(core: str, spoken: list[str], language: str) -> list[tuple[str, ...]]:
    """Other readings of a token, besides `spoken`."""
    alts: list[tuple[str, ...]] = []
    key = core.lower().rstrip(".")
    if language == "en" and key in _ABBREVIATIONS:
        alts += _ALTERNATIVES.get(key, [])
    plain = core.rstrip(".")
    if re.fullmatch(r"\d{4}", plain) and language == "en":
        alts.append(tuple(_cardinal(plain, language)))  # "1905" read as a number
        if plain.startswith("20") and int(plain[2:]):  # "2010" as "two thousand ten"
            alts.append(("two", "thousand", *_cardinal(plain[2:], language)))
    m = re.fullmatch(r"[$£€]([\d,]+)\.(\d\d)", plain)
    if m and int(m.group(2)):  # "$3.50" read as "three fifty"
        alts.append(tuple(_cardinal(m.group(1), language) + _cardinal(m.group(2), language)))
    return [a for a in alts if a and a != tuple(spoken)]


def tokenize(
    transcript: str, language: str = "en", is_word: callable = lambda w: False
) -> list[Token]:
    """Split a transcript into the user's tokens and the spoken words for each.

    `is_word(w)` tells whether a lower-case word is in the pronouncing dictionary; it only
    decides whether an all-capital token is read as a word ("NASA") or spelled ("FBI").
    """
    if any(unicodedata.category(c) == "Cc" and not c.isspace() for c in transcript):
        raise TranscriptError("the transcript holds control characters; is it a text file?")
    tokens: list[Token] = []
    for m in _TOKEN_RE.finditer(transcript):
        core, start = _strip_outer(m.group(0), m.start())
        spoken = _spoken(core, language, is_word)
        # A sentence-final period is punctuation, not part of what the user typed as the word,
        # unless the token is an abbreviation or initialism that keeps it.
        if core.endswith(".") and not (
            core.lower().rstrip(".") in _ABBREVIATIONS or re.fullmatch(r"(?:\w\.){2,}", core)
        ):
            core = core.rstrip(".")
        if not core:
            continue
        alts = tuple(_alternatives(core, spoken, language)) if spoken else ()
        tokens.append(Token(core, start, start + len(core), tuple(spoken), alts))
    return tokens


def spoken_words(tokens: list[Token]) -> list[str]:
    """All spoken words of the tokens, in order."""
    return [w for t in tokens for w in t.spoken]
