"""An edit report in plain words, per edit: was it heard, and what a listener may notice.

The studio's edits table shows, for each edit, whether the new words were heard and a
"check" column: a robot voice (espeak-ng fallback), stand-in or borrowed sounds, weak
similarity to the speaker, words not heard by an independent recogniser, words the
re-alignment finds only weakly, and loudness or pitch jumps at the joins around it. "yes"
(heard) is said only when the recogniser heard the words and re-aligning the result finds
them at or above the confidence the page calls low (`LOW_CONFIDENCE`).
"""

from __future__ import annotations

LOW_CONFIDENCE = 0.5  # below this a word's alignment is "low-confidence" on the page
LOUD_JUMP_DB = 10.0  # a join this much louder or quieter on one side is heard as a bump
PITCH_JUMP_ST = 4.0  # semitones: a voice jumping this much at a join is heard as a splice
JOIN_NEAR_S = 0.25  # a join this close to an edit's span belongs to that edit
PAUSE_DBFS = -50.0  # a side this quiet is a pause: a jump out of silence is not a bump


def heard(e) -> str:
    """'yes', 'unsure', 'no', 'not checked', or '-' for a cut (`EditSpan.heard_label`)."""
    if e.kind == "delete" or e.engine == "cut":
        return "-"
    return e.heard_label()


def _level(x) -> float:
    import numpy as np

    return float(10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-12)) \
        if len(x) else -120.0


def _in_pause(j, audio) -> bool:
    """Is one side of join `j` a pause (the same 20 ms windows the report measures)?
    `audio`: (samples, rate) of the edited file, or None (then no side is a pause)."""
    if audio is None:
        return False
    x, sr = audio
    t = j.time
    a = x[max(0, int((t - 0.025) * sr)):max(0, int((t - 0.005) * sr))]
    b = x[int((t + 0.005) * sr):int((t + 0.025) * sr)]
    return min(_level(a), _level(b)) < PAUSE_DBFS


def _joins_by_edit(report, audio=None) -> dict[int, list]:
    """Each join of the report given to the edit it is nearest (within JOIN_NEAR_S); joins
    into or out of a pause are left out of the loudness check (see `_in_pause`)."""
    out: dict[int, list] = {}
    for j in report.joins:
        if _in_pause(j, audio):
            j = type(j)(j.time, j.pitch_jump_semitones, 0.0)
        best, gap = None, JOIN_NEAR_S
        for i, e in enumerate(report.edits):
            d = max(e.start - j.time, j.time - e.end, 0.0)
            if d <= gap:
                best, gap = i, d
        if best is not None:
            out.setdefault(best, []).append(j)
    return out


def warnings_for(e, joins=()) -> list[str]:
    """What a listener may notice about edit `e`, in plain words ([] when nothing known)."""
    from retake.voice.report import WEAK_SIMILARITY

    out = []
    if e.heard is False:
        said = e.heard_text if len(e.heard_text or "") <= 80 else e.heard_text[:77] + "..."
        got = f' (it heard "{said}")' if said else ""
        out.append(f"not heard: a speech recogniser listening to the result did not hear "
                   f"these words{got}")
    if e.found_on_realign is False:
        out.append("not found: re-aligning the result to the new text did not find these "
                   "words")
    elif e.realign_confidence is not None and e.realign_confidence < LOW_CONFIDENCE \
            and e.kind != "delete":
        out.append(f"weakly found: re-aligning the result finds these words only with "
                   f"confidence {e.realign_confidence:.2f} (below {LOW_CONFIDENCE:.2f})")
    if e.engine == "fallback":
        out.append("robot voice: the recording lacks these sounds, so espeak-ng said them")
    if e.substituted:
        out.append("fallback phones: the speaker never said " + ", ".join(e.substituted)
                   + "; the nearest sounds stand in")
    if e.borrowed:
        out.append("borrowed phones: " + ", ".join(e.borrowed) + " come from a guide voice "
                   "made to sound like the speaker")
    if e.similarity is not None and e.similarity < WEAK_SIMILARITY:
        out.append(f"weak similarity: may not sound like the speaker (similarity "
                   f"{e.similarity:.2f}, below {WEAK_SIMILARITY:.2f})")
    for j in joins:
        if j.loudness_jump_db >= LOUD_JUMP_DB:
            out.append(f"loudness jump at a join: {j.loudness_jump_db:.0f} dB at "
                       f"{j.time:.2f} s")
        if j.pitch_jump_semitones is not None and j.pitch_jump_semitones >= PITCH_JUMP_ST:
            out.append(f"pitch jump at a join: {j.pitch_jump_semitones:.1f} semitones at "
                       f"{j.time:.2f} s")
    return out


def edit_rows(report, audio=None) -> list[list]:
    """The edits table: edit, text, at (s), made by, heard, check. `audio`: the edited
    file's (samples, rate), to tell a pause from a loudness jump at a join."""
    joins = _joins_by_edit(report, audio)
    return [[e.kind, e.text, f"{e.start:.2f}-{e.end:.2f}", e.engine, heard(e),
             "; ".join(warnings_for(e, joins.get(i, ()))) or "ok"]
            for i, e in enumerate(report.edits)]


def summary(report, audio=None) -> str:
    """Lines for the page: which edits to listen to again, and why (markdown)."""
    joins = _joins_by_edit(report, audio)
    lines = []
    for i, e in enumerate(report.edits):
        found = warnings_for(e, joins.get(i, ()))
        if found:
            lines.append(f"- **Listen to \"{e.text or e.kind}\"** at {e.start:.2f} s: "
                         + "; ".join(found))
    return "\n".join(lines)
