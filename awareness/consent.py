"""Consent to edit a voice: a statement to read aloud, and a check that that voice read it.

Retake writes a fresh statement with random code words (`consent_sentence`); the speaker
records it; `check_consent_recording` then requires both that the words were said (forced
alignment: the code words all found, and most of the rest) and that the voice is the one
being edited (resemblyzer speaker similarity against the speaker's recording, the same
measure as `voice.report.EditReport.measure_similarity`). The random words stop an old
recording being replayed. This is a gate against casual misuse, not proof against a
determined impostor: a good enough voice clone reading the statement would pass.

Word thresholds, measured with espeak reading 12 random statements at three speeds and
pitches: the right code words each scored 0.23-0.98 (mean of the four 0.59-0.92); reading
other code words, at least one scored under 0.17 in every take and the mean stayed under
0.34. Hence a code word counts when it reaches 0.2, and the four must average 0.45 (on 72
further takes, 12 other statements: no false accept, no false reject).

Voice threshold, measured on the shared speech (resemblyzer cosine, 4-10 s takes against a
10-27 s reference; LJ Speech = one woman, CMU Arctic aew, the MFA corpus = one man):
same speaker, same conditions 0.82-0.98 (n=21); different speakers 0.44-0.71 (n=81, the top
from espeak against the MFA man; real people at most 0.67). The same man with a cold in a
different room scored 0.60-0.71 against his healthy recording, so such a take is refused:
record the statement in the same room and with the same microphone as the recording.

Statements are issued (`issue_statement`): each is recorded on this computer with a nonce and
an expiry, and strict consent accepts only an issued, unexpired statement that has its code
words (`require_issued`), so a public recording of the speaker reading some other sentence
cannot pass. The outcome travels as a `ConsentRecord` into the file's Content Credentials
(`awareness.provenance.sign(..., consent=record.to_dict())`), with the statement's nonce.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import re
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from retake.core.errors import AlignmentError, RetakeError

#: Speaker similarity a consent take must reach (see the module docstring).
VOICE_THRESHOLD = 0.75
#: Share of the statement's words that must be found (the code words must all be).
MIN_WORDS_FOUND = 0.85
#: Alignment confidence below which a word counts as not heard.
MIN_WORD_CONFIDENCE = 0.1
#: The code words are held to more: each at least this confidence, and on average the next.
CODE_WORD_CONFIDENCE = 0.2
CODE_MEAN_CONFIDENCE = 0.45
#: At most this much of the reference recording is used for the voice (seconds).
MAX_REFERENCE_S = 120.0
#: What a user agrees to with `--consent` instead of reading the statement.
DECLARATION = ("I confirm that I am the person whose voice or face is edited, or that they "
               "have agreed to this edit.")

_MARK = "Code words:"
# Common two-syllable nouns: easy to read, in the pronouncing dictionary, unlike each other.
_WORDS = (
    "apple river garden yellow window candle orange silver rabbit market forest pencil "
    "blanket island mountain basket button kitchen ocean pepper rocket summer winter tiger "
    "lemon copper dragon finger hammer jacket ladder monkey paper pillow planet pocket "
    "salad shadow spider sugar table tunnel valley wagon water zebra bottle butter carpet "
    "castle circle cookie doctor engine feather flower harbor honey jungle kettle magnet "
    "meadow mirror needle parrot pirate rainbow saddle sister teacher thunder turtle "
    "village violin whistle"
).split()


class ConsentError(RetakeError):
    """The speaker's consent is missing or was not confirmed."""


@dataclass(frozen=True)
class ConsentResult:
    """The outcome of checking a consent recording.

    words_found: share (0-1) of the statement's words heard; similarity: resemblyzer cosine
    of the take against the speaker's recording; reason: one line a person can act on.
    """

    ok: bool
    words_found: float
    similarity: float
    reason: str


@dataclass(frozen=True)
class ConsentRecord:
    """How consent was given, for the file's Content Credentials.

    mode: "declared" (the user affirmed `statement` with a flag) or "recording" (the speaker
    read `statement` and `result` says whether the check passed). timestamp: ISO 8601, UTC.
    """

    mode: str
    statement: str
    timestamp: str
    result: ConsentResult | None = None
    who: str = ""
    nonce: str = ""  # the issued statement's (strict mode)

    @classmethod
    def declared(cls, who: str = "", statement: str = DECLARATION) -> ConsentRecord:
        """Consent affirmed by the user (e.g. `--consent`), not checked."""
        return cls("declared", statement, _now(), None, who)

    @classmethod
    def from_check(cls, statement: str, result: ConsentResult, who: str = "",
                   nonce: str = "") -> ConsentRecord:
        """Consent read aloud by the speaker, with the check's outcome."""
        return cls("recording", statement, _now(), result, who, nonce)

    def require(self) -> None:
        """Raise ConsentError unless this record allows the edit."""
        if self.mode == "declared":
            return
        if self.result is None or not self.result.ok:
            why = self.result.reason if self.result else "the recording was not checked"
            raise ConsentError(f"consent not confirmed: {why}")

    def to_dict(self) -> dict:
        """JSON-ready dict (the `org.retake.consent` assertion)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ConsentRecord:
        """Inverse of `to_dict`."""
        result = d.get("result")
        return cls(d["mode"], d["statement"], d["timestamp"],
                   ConsentResult(**result) if result else None, d.get("who", ""),
                   d.get("nonce", ""))


def consent_sentence(rng: random.Random | np.random.Generator | None = None,
                     today: dt.date | None = None) -> str:
    """A statement for the speaker to read: agreement, today's date, two random code words
    and a number, all common words written out so the aligner can find them.

    Give a seeded `rng` for a reproducible sentence; the default draws from the OS.
    """
    rng = rng if rng is not None else secrets.SystemRandom()
    today = today or dt.date.today()
    first, second = _sample(rng, _WORDS, 2)
    number = _sample(rng, [n for n in range(21, 100) if n % 10], 1)[0]
    return (f"I, the speaker, agree that Retake can edit my voice on {today:%B} "
            f"{_spoken(today.day, ordinal=True)}. {_MARK} {first} {second} {_spoken(number)}.")


#: How long an issued statement may be used.
VALID_DAYS = 7


def _issued_dir(folder: str | os.PathLike | None) -> Path:
    from retake.core.cache import user_data_dir

    return Path(folder) if folder is not None else user_data_dir() / "consent"


def _statement_key(sentence: str) -> str:
    import hashlib

    norm = " ".join(re.findall(r"[a-z0-9']+", sentence.lower()))
    return hashlib.sha256(norm.encode()).hexdigest()[:32]


def issue_statement(folder: str | os.PathLike | None = None,
                    rng: random.Random | np.random.Generator | None = None,
                    today: dt.date | None = None, valid_days: int = VALID_DAYS) -> dict:
    """A fresh statement (`consent_sentence`), recorded on this computer as issued, with a
    nonce and an expiry: only an issued, unexpired statement is accepted as consent, so a
    recording of some other sentence (or of an old one) cannot stand in for it."""
    from retake.core.atomic import write_text

    sentence = consent_sentence(rng, today)
    now = dt.datetime.now(dt.UTC)
    record = {"format": "retake.consent-statement", "nonce": secrets.token_hex(8),
              "sentence": sentence, "code_words": _code_words(sentence),
              "issued": now.isoformat(timespec="seconds"),
              "expires": (now + dt.timedelta(days=valid_days)).isoformat(timespec="seconds")}
    folder = _issued_dir(folder)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    import json

    write_text(folder / f"{_statement_key(sentence)}.json", json.dumps(record, indent=1))
    return record


def require_issued(sentence: str, folder: str | os.PathLike | None = None,
                   now: dt.datetime | None = None) -> dict:
    """The record of an issued, unexpired statement with code words, or a ConsentError."""
    import json

    if _MARK not in sentence or not _code_words(sentence):
        raise ConsentError("the consent statement has no code words; use the sentence "
                           "`retake consent` gave, exactly as shown")
    path = _issued_dir(folder) / f"{_statement_key(sentence)}.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        expires = dt.datetime.fromisoformat(record["expires"])
        ok = record.get("format") == "retake.consent-statement"
    except (OSError, ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise ConsentError("this consent statement was not issued by `retake consent` on this "
                           "computer; run `retake consent` and have the speaker read the new "
                           "sentence")
    if (now or dt.datetime.now(dt.UTC)) > expires:
        raise ConsentError(f"this consent statement expired on {expires:%Y-%m-%d}; run "
                           "`retake consent` for a new one")
    return record


def check_consent_recording(
    recording: str | os.PathLike,
    sentence: str,
    reference,
    voice_threshold: float = VOICE_THRESHOLD,
    language: str = "en",
) -> ConsentResult:
    """Check that `recording` says `sentence` in the voice of `reference`.

    The words pass when at least 85% of them are heard and every code word (those after
    "Code words:") clearly is. `reference` is the speaker's recording being edited: a path,
    an object with `samples` and `sample_rate` (`align.Audio`, `voice.analysis.Recording`)
    or a `(samples, rate)` tuple. Both checks always run, so the result reports both
    numbers; the reason names the first that failed ("the words do not match", then "the
    voice does not match").
    """
    from retake.align.aligner import align
    from retake.align.audio import load_audio

    take = load_audio(recording)
    ref = _reference(reference)
    words_found, missing = _words_found(take, sentence, language, align)
    similarity = _similarity(take, ref, sentence)
    if missing or words_found < MIN_WORDS_FOUND:
        heard = f"{100 * words_found:.0f}% of the words heard"
        gap = f"; not heard: {', '.join(missing)}" if missing else ""
        return ConsentResult(False, words_found, similarity,
                             f"the words do not match the statement ({heard}{gap}); read the "
                             "statement exactly as shown, clearly, and record it again")
    if similarity < voice_threshold:
        return ConsentResult(False, words_found, similarity,
                             f"the voice does not match the speaker being edited (similarity "
                             f"{similarity:.2f}, needs {voice_threshold:.2f}); the speaker must "
                             "read it, in the same room and with the same microphone")
    return ConsentResult(True, words_found, similarity,
                         f"the statement was read in full by the same voice (similarity "
                         f"{similarity:.2f})")


def _words_found(take, sentence: str, language: str, align) -> tuple[float, list[str]]:
    """Share of the statement's tokens heard, and the code words that were not.

    A forced aligner places every word somewhere, so "heard" means a confidence above a
    floor; the code words must each pass a higher one and, together, a higher mean still
    (a wrong word may fit well by chance, four rarely do).
    """
    try:
        al = align(take, sentence, language=language)
    except AlignmentError:
        return 0.0, _code_words(sentence)
    if not al.words:
        return 0.0, _code_words(sentence)
    conf = [w.confidence if w.aligned else 0.0 for w in al.words]
    found = sum(c >= MIN_WORD_CONFIDENCE for c in conf) / len(conf)
    mark = sentence.find(_MARK)
    if mark < 0 or not _code_words(sentence):
        return found, ["(the statement has no code words)"]
    code_start = mark + len(_MARK)
    code = [(w.text, c) for w, c in zip(al.words, conf, strict=True) if w.char_start >= code_start]
    missing = [text for text, c in code if c < CODE_WORD_CONFIDENCE]
    if code and not missing and np.mean([c for _, c in code]) < CODE_MEAN_CONFIDENCE:
        missing = [text for text, _ in code]
    return found, missing


def _code_words(sentence: str) -> list[str]:
    mark = sentence.find(_MARK)
    return re.findall(r"[A-Za-z']+", sentence[mark + len(_MARK):]) if mark >= 0 else []


def _similarity(take, ref: tuple[np.ndarray, int], sentence: str) -> float:
    """Speaker similarity of the whole take against the reference."""
    from retake.awareness.speaker import speaker_similarity

    return speaker_similarity(take.samples, take.sample_rate, *ref)


def _reference(reference) -> tuple[np.ndarray, int]:
    from retake.align.audio import load_audio

    if isinstance(reference, (str, os.PathLike)):
        audio = load_audio(Path(reference))
        samples, rate = audio.samples, audio.sample_rate
    elif hasattr(reference, "samples") and hasattr(reference, "sample_rate"):
        samples, rate = reference.samples, reference.sample_rate
    else:
        samples, rate = reference
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim != 1 or len(samples) < int(rate):
        raise ConsentError("the speaker's reference recording must be mono and at least 1 s "
                           "long; give the recording being edited")
    return samples[:int(MAX_REFERENCE_S * rate)], int(rate)


def _sample(rng, items: list, k: int) -> list:
    if isinstance(rng, np.random.Generator):
        return [items[i] for i in rng.choice(len(items), size=k, replace=False)]
    return rng.sample(list(items), k)


def _spoken(n: int, ordinal: bool = False) -> str:
    from num2words import num2words

    return num2words(n, to="ordinal" if ordinal else "cardinal").replace("-", " ")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
