"""The Detect tab's reading of a report: a verdict in plain words, each signal on a scale.

Pure functions of what the detector (`awareness/detect.py`) and the Content Credentials
check (`awareness/provenance.verify`, as `retake verify` runs it) found, so they can be
tested without a browser. The verdict is never stronger than the evidence: signed
credentials and Retake's watermark say "edited" outright; broken credentials and open lips
on M/B/P are signs; a splice flag alone is only a possible sign (untouched recordings trip
it too); nothing found is not proof of authenticity.

Each signal sits on a scale from untouched (left) to edited (right), its marker placed by
the signal's strength relative to the detector's own threshold, which sits in the middle:
a value at the threshold is at 50 %, twice the threshold or more at the edited end.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retake.awareness.detect import DetectReport
    from retake.awareness.provenance import Verification

#: The verdict's strength, weakest claim last.
EDITED, SIGNS, POSSIBLE, NONE = "edited", "signs", "possible", "none"
NOTHING_FOUND = "No signs of editing found — which is not proof it is authentic"


@dataclass(frozen=True)
class Signal:
    """One signal on the untouched-to-edited scale.

    `position` runs 0 (untouched) to 1 (edited), 0.5 being the signal's threshold; None when
    the signal was not checked or points neither way (no credentials). `line` says what was
    measured and why it points where it points; `graded` is False for a yes/no signal, which
    sits at one end or the other and has no threshold.
    """

    name: str
    position: float | None
    line: str
    checked: bool = True
    graded: bool = True  # False: a yes/no signal (credentials), no threshold to mark


@dataclass(frozen=True)
class Credentials:
    """The Content Credentials check of a file: the verification, or why there is none."""

    verification: Verification | None
    problem: str = ""  # set when the check could not run on this kind of file

    @property
    def state(self) -> str:
        """"Trusted", "Valid", "Invalid", "None", or "" when not checked."""
        return self.verification.state if self.verification is not None else ""


@dataclass(frozen=True)
class Verdict:
    """The headline, the credentials in words, and every signal on its scale."""

    level: str  # EDITED | SIGNS | POSSIBLE | NONE
    headline: str
    credentials: str
    signals: list[Signal] = field(default_factory=list)


def check_credentials(path: str | os.PathLike) -> Credentials:
    """Run the same check as `retake verify` (this computer's Retake root trusted)."""
    from retake.awareness.provenance import ProvenanceError, verify

    try:
        return Credentials(verify(path, trust_local=True))
    except ProvenanceError as exc:
        return Credentials(None, str(exc).split(": ", 1)[-1])


# ---- words --------------------------------------------------------------------------


def _spans(spans: list[tuple[float, float]]) -> str:
    return ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in spans)


def _edits_claimed(v: Verification) -> list[dict]:
    """The claim's edits: `c2pa.edited` actions, and any other made with a trained model
    (not the opening or creating action that every Retake claim starts with)."""
    return [a for a in v.actions if a.get("action") == "c2pa.edited"
            or (a.get("action") not in ("c2pa.opened", "c2pa.created")
                and "trainedalgorithmicmedia" in str(a.get("digitalSourceType", "")).lower())]


def _by_retake(v: Verification) -> bool:
    agents = [str((a.get("softwareAgent") or {}).get("name", "")) for a in v.actions]
    return "Retake" in agents or "Retake" in v.signer


def _action_spans(act: dict) -> list[tuple[float, float]]:
    spans = []
    for change in act.get("changes", []):
        for rng in change.get("region", []):
            t = rng.get("time") or {}
            try:
                spans.append((float(t["start"]), float(t["end"])))
            except (KeyError, TypeError, ValueError):
                continue
    return spans


def _claim(v: Verification) -> str:
    """What the signed claim says was done: each edit, where and when (if recorded)."""
    parts = []
    for act in _edits_claimed(v):
        desc = str(act.get("description") or act.get("action")).removeprefix("c2pa.")
        spans, when = _action_spans(act), str(act.get("when", ""))[:10]
        parts.append(desc + (f" at {_spans(spans)}" if spans else "")
                     + (f" on {when}" if when else ""))
    return "; ".join(parts) or "no edits recorded"


def _consent(v: Verification) -> str:
    """The consent record as `retake verify` words it."""
    for line in v.summary().splitlines():
        if line.strip().startswith("consent:"):
            return line.strip()
    return "consent: not recorded"


def credentials_line(c: Credentials) -> str:
    """The Content Credentials result in words (signer, signature, the claim's edits)."""
    v = c.verification
    if v is None:
        return f"Content Credentials: not checked ({c.problem})"
    if v.state == "None":
        return ("Content Credentials: none — never signed, or they were stripped; this says "
                "nothing either way about how it was made")
    who = "Retake" if _by_retake(v) else "an unknown signer"
    signer = f" ({v.signer})" if v.signer else ""
    if v.state == "Invalid":
        codes = ", ".join(f for f in v.failures if f) or "the signature does not match"
        return (f"Content Credentials: broken — signed by {who}{signer}, but the file was "
                f"changed after it was signed, or its manifest is damaged ({codes}); what the "
                f"claim said ({_claim(v)}; {_consent(v)}) no longer vouches for these bytes")
    trust = ("signature valid, signer trusted on this computer" if v.state == "Trusted" else
             "signature valid, but the signer is not trusted on this computer")
    return (f"Content Credentials: signed by {who}{signer}; {trust}. The claim: {_claim(v)}; "
            f"{_consent(v)}")


# ---- signals ------------------------------------------------------------------------


def _position(value: float, threshold: float) -> float:
    return max(0.0, min(1.0, 0.5 * value / threshold))


def _watermark(report: DetectReport) -> Signal:
    from retake.awareness.watermark import DEFAULT

    if "watermark" not in report.signals:
        return Signal("Watermark", None, "not checked", checked=False)
    hits = [f for f in report.findings if f.kind == "watermark"]
    score, thr = report.signals["watermark"], DEFAULT.threshold
    if not hits:
        return Signal("Watermark", _position(score, thr),
                      "no Retake watermark found; it marks only speech Retake synthesized and "
                      "can be removed, so its absence proves nothing")
    return Signal("Watermark", max(0.5, _position(score, thr)),
                  f"Retake's watermark found at {_spans([(h.start, h.end) for h in hits])} "
                  f"(match strength {score:.1f}; a mark is reported from {thr:.1f}, unmarked "
                  "audio stays near 0): Retake synthesized speech within those spans")


def _splice(report: DetectReport) -> Signal:
    from retake.awareness.detect import SPLICE_FLAG

    if "splice" not in report.signals:
        return Signal("Joins in the audio", None, "not checked", checked=False)
    if len(report.words) < 5:
        return Signal("Joins in the audio", None, "not checked: too few words to compare their "
                      "joins with each other", checked=False)
    score = report.signals["splice"]
    flagged = [f for f in report.findings if f.kind == "splice"]
    if not flagged:
        return Signal("Joins in the audio", _position(score, SPLICE_FLAG),
                      f"the most unusual word join jumps {score:.1f} times this recording's "
                      f"typical join (flagged from {SPLICE_FLAG:.0f}): within what natural "
                      "speech shows; a careful edit can pass this too")
    first = max(flagged, key=lambda f: f.score)
    return Signal("Joins in the audio", _position(score, SPLICE_FLAG),
                  f"{len(flagged)} unusual join(s), the strongest at "
                  f"{(first.start + first.end) / 2:.2f} s {first.summary} (flagged from "
                  f"{SPLICE_FLAG:.0f}); untouched recordings sometimes do this too")


def _lips(report: DetectReport, video: bool) -> Signal:
    from retake.awareness.lipclosure import OPEN

    name = "Lips on M/B/P"
    if not video:
        return Signal(name, None, "not checked: audio only", checked=False)
    if "lip_closure" not in report.signals:
        return Signal(name, None, "not checked: no face found", checked=False)
    checked = int(report.signals.get("bilabials_checked", 0))
    if checked == 0:
        return Signal(name, None, "not checked: no M/B/P spoken where the face was seen "
                      "(and the words were sure)", checked=False)
    share = report.signals["lip_closure"]
    open_ = sum(f.kind == "lip-closure" for f in report.findings)
    if open_ == 0:
        return Signal(name, 0.0, f"all {checked} M/B/P sounds checked were made with closed "
                      f"lips (open means a gap over {OPEN:.2f} of the mouth's width), as in "
                      "natural speech")
    return Signal(name, 0.5 + 0.5 * share,
                  f"{open_} of {checked} M/B/P sounds were spoken with open lips (a gap over "
                  f"{OPEN:.2f} of the mouth's width); real mouths close for them, lip-sync "
                  "generators often miss it")


def _credentials(c: Credentials) -> Signal:
    v, name = c.verification, "Content Credentials"
    if v is None:
        return Signal(name, None, f"not checked: {c.problem}", checked=False)
    if v.state == "None":
        return Signal(name, None, "none in this file: says nothing either way", graded=False)
    if v.state == "Invalid":
        return Signal(name, 1.0, "broken: the bytes changed after signing (by what, the "
                      "credentials cannot say)", graded=False)
    if _edits_claimed(v):
        return Signal(name, 1.0, "the signed claim records edits made with a trained model",
                      graded=False)
    return Signal(name, 0.0, "signed and intact, and the claim records no edits", graded=False)


def signals(report: DetectReport, creds: Credentials, video: bool) -> list[Signal]:
    """Every signal, in the order shown: watermark, joins, lips, credentials."""
    return [_watermark(report), _splice(report), _lips(report, video), _credentials(creds)]


# ---- the verdict --------------------------------------------------------------------


def verdict(report: DetectReport, creds: Credentials, video: bool) -> Verdict:
    """The headline in plain words, derived from the signals and never stronger than them."""
    v = creds.verification
    marks = [f for f in report.findings if f.kind == "watermark"]
    lips = [f for f in report.findings if f.kind == "lip-closure"]
    joins = [f for f in report.findings if f.kind == "splice"]
    mark_words = (f"Retake's watermark found at {_spans([(f.start, f.end) for f in marks])}"
                  if marks else "")
    lip_words = (f"lips open on M/B/P in {len(lips)} place(s), first at {lips[0].start:.1f} s"
                 if lips else "")
    join_words = (f"{len(joins)} unusual join(s) in the audio, first at "
                  f"{(joins[0].start + joins[0].end) / 2:.1f} s" if joins else "")
    sigs = signals(report, creds, video)
    line = credentials_line(creds)
    if v is not None and v.intact and _edits_claimed(v):
        who = "Edited with Retake" if _by_retake(v) else "Edited"
        trust = "signed credentials" if v.state == "Trusted" else \
            "signed credentials, signer not trusted on this computer"
        what = [f"{trust}: {_claim(v)}"]
        what += [w for w in (mark_words, lip_words, join_words) if w]
        return Verdict(EDITED, f"{who} ({'; '.join(what)})", line, sigs)
    broken = ("Content Credentials broken: the file was changed after it was signed"
              if v is not None and v.state == "Invalid" else "")
    strong = [w for w in (mark_words, broken, lip_words) if w]
    if strong:
        return Verdict(SIGNS, "Signs of editing: " + "; ".join(strong + [join_words] * bool(
            join_words)), line, sigs)
    if joins:
        return Verdict(POSSIBLE, f"Possible signs of editing: {join_words} — untouched "
                       "recordings sometimes show this too", line, sigs)
    return Verdict(NONE, NOTHING_FOUND, line, sigs)


# ---- HTML ---------------------------------------------------------------------------

_BAR = ("position:relative;height:14px;border-radius:7px;margin:4px 0 2px;"
        "background:linear-gradient(90deg,#cfe8cf,#f3f0d0 50%,#f2c4c4)")
_OFF = "position:relative;height:14px;border-radius:7px;margin:4px 0 2px;background:#e6e6e6"
_COLOURS = {EDITED: "#f6d5d5", SIGNS: "#fbe6c8", POSSIBLE: "#fbf1c8", NONE: "#e2efe2"}


def scale_html(signal: Signal) -> str:
    """One signal: its name, a bar from untouched to edited with the threshold in the middle
    (graded signals) and a marker at its position (none when not checked), and its line."""
    name, line = html.escape(signal.name), html.escape(signal.line)
    tick = signal.graded and signal.position is not None
    if signal.position is None:
        bar = f'<div style="{_OFF}"></div>'
        where = "not checked" if not signal.checked else "points neither way"
    else:
        pct = 100 * signal.position
        where = f"{pct:.0f}% of the way to edited"
        bar = (f'<div style="{_BAR}">'
               + ('<div title="threshold" style="position:absolute;left:50%;top:-3px;'
                  'width:2px;height:20px;background:#777"></div>' if tick else "")
               + f'<div class="retake-marker" style="position:absolute;left:calc({pct:.1f}% - '
               '7px);top:-2px;width:14px;height:14px;border-radius:50%;background:#222;'
               'border:2px solid #fff"></div></div>')
    return (f'<div class="retake-signal" role="group" aria-label="{name}: {where}" '
            'style="margin:10px 0">'
            f'<b>{name}</b>{bar}<div style="display:flex;justify-content:space-between;'
            'font-size:11px;color:#666"><span>untouched</span>'
            f'<span>{"threshold" if tick else ""}</span><span>edited</span></div>'
            f'<div style="font-size:13px">{line}</div></div>')


def verdict_html(v: Verdict) -> str:
    """The verdict, the credentials line, and every signal's scale, as one HTML block."""
    return (f'<div id="retake-verdict" data-level="{v.level}">'
            f'<p class="retake-headline" style="font-size:1.25em;font-weight:600;'
            f'padding:10px 14px;border-radius:6px;background:{_COLOURS[v.level]}">'
            f'{html.escape(v.headline)}</p>'
            f'<p class="retake-credentials">{html.escape(v.credentials)}</p>'
            + "".join(scale_html(s) for s in v.signals) + "</div>")
