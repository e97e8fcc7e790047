"""Consent gate shared by every command that edits a voice or a face.

`--consent` affirms the person agreed (recorded as "declared" in the output's Content
Credentials); `--consent-recording TAKE --consent-statement TEXT` is the strict mode: the
speaker read a sentence from `retake consent`, and the words must align and the voice must
match the recording being edited. Without either, nothing is edited.
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer

from retake.awareness.consent import DECLARATION, ConsentError, ConsentRecord
from retake.awareness.provenance import Provenance

ConsentOpt = Annotated[bool, typer.Option("--consent", help=f"Affirm: {DECLARATION}")]
ConsentTakeOpt = Annotated[Path | None, typer.Option(
    "--consent-recording", help="Strict mode: a recording of the speaker reading the "
    "sentence from `retake consent`.")]
ConsentTextOpt = Annotated[str | None, typer.Option(
    "--consent-statement", help="The sentence the consent recording reads (text or file).")]


def _who() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name is not an error
        return ""


def require_consent(consent: bool, take: Path | None, statement: str | None,
                    reference, ingredients: list[Path | None] = (), *,
                    who: str | None = None, ask: str | None = None) -> Provenance:
    """What the output's credentials record (consent, ingredients), or a ConsentError saying
    what to do.

    `reference` is the speaker's voice to compare the take with (a path, an Audio/Recording
    or (samples, rate)); None when there is no voice (a silent video). `ingredients` are
    the inputs used besides the edited file; the consent take joins them. `who` names the
    person who declared consent (default: the logged-in user); `ask` is what to tell a user
    who has not (default: the CLI's options; the studio names its consent box).
    """
    record = _record(consent, take, statement, reference, who, ask)
    extra = [Path(p) for p in ingredients if p] + ([take] if take is not None else [])
    return Provenance(consent=record.to_dict(), ingredients=tuple(extra))


def _record(consent: bool, take: Path | None, statement: str | None,
            reference, who: str | None = None, ask: str | None = None) -> ConsentRecord:
    if take is not None:
        from retake.awareness.consent import check_consent_recording
        from retake.ui.request import read_transcript

        if not statement:
            raise ConsentError("--consent-recording needs --consent-statement: the sentence "
                               "`retake consent` gave the speaker to read")
        if reference is None:
            raise ConsentError("the consent recording cannot be checked: the edited file has "
                               "no voice to compare it with; use --consent")
        from retake.awareness.consent import require_issued

        text = read_transcript(statement)
        issued = require_issued(text)  # before the (slower) recording check
        record = ConsentRecord.from_check(text, check_consent_recording(take, text, reference),
                                          _who(), issued["nonce"])
        record.require()
        return record
    if consent:
        return ConsentRecord.declared(_who() if who is None else who)
    raise ConsentError(ask or "Retake edits a voice or a face only with the person's consent: add "
                       "--consent to affirm they agreed, or --consent-recording TAKE "
                       "--consent-statement TEXT (get a sentence from `retake consent`)")
