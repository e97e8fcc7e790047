"""The edit report: what changed where, how it was made, and how well it fits.

Per edit: the span in edited time, the engine that produced it, whether re-aligning the
result finds the new words where they were put, and (on request) the speaker similarity of
the new span to the untouched speech. Per join: the pitch and loudness jump across it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass
class Join:
    """A splice point in the edited audio and the jumps across it."""

    time: float
    pitch_jump_semitones: float | None  # None where either side is unvoiced
    loudness_jump_db: float


WEAK_SIMILARITY = 0.7  # resemblyzer cosine of a span with context against its recording
SURE = 0.5  # re-align confidence below which a new word is not called "heard"


@dataclass
class EditSpan:
    """One edit in the edited recording's time line."""

    kind: str  # delete | insert | replace
    text: str
    start: float
    end: float
    engine: str  # cut | reuse | units | fallback | coqui:...
    found_on_realign: bool | None = None
    realign_confidence: float | None = None
    similarity: float | None = None
    substituted: list[str] | None = None  # stand-ins for phones the speaker never said
    borrowed: list[str] | None = None  # phones from the (converted) query voice
    heard: bool | None = None  # an independent recogniser heard the new words (None: not checked)
    heard_text: str | None = None  # what it heard around the span

    def weaknesses(self) -> list[str]:
        """Why a listener may notice this span, in plain words ([] when nothing is known)."""
        out = []
        if self.heard is False:
            out.append("the recogniser did not hear these words")
        if self.engine == "fallback":
            out.append("spoken by espeak-ng (the recording lacks its sounds)")
        if self.borrowed:
            out.append("phones from the query voice, converted toward the speaker: "
                       + " ".join(self.borrowed))
        if self.substituted:
            out.append("nearest stand-ins: " + " ".join(self.substituted))
        if self.similarity is not None and self.similarity < WEAK_SIMILARITY:
            out.append(f"unlike the speaker (similarity {self.similarity:.2f})")
        return out

    def heard_label(self) -> str:
        """"yes", "unsure", "no" or "not checked", for tables: "yes" only when the
        recogniser heard the words and re-aligning finds them at `SURE` confidence or more
        (a word found at 0.075 is not "heard")."""
        weak = self.realign_confidence is not None and self.realign_confidence < SURE
        if self.heard is False or self.found_on_realign is False:
            return "no"
        if self.heard is None:
            return "unsure" if weak else "not checked"
        return "unsure" if weak else "yes"


@dataclass
class EditReport:
    """Everything a user (or the detector) should know about an edit."""

    edits: list[EditSpan]
    joins: list[Join] = field(default_factory=list)
    tool: str = "Retake"
    watermark: dict | None = None  # version, edit id and spans of Retake's audio mark
    transcript: dict | None = None  # did an independent recogniser hear the transcript?

    @property
    def synthesized(self) -> list[EditSpan]:
        """Spans whose speech was made, not cut or re-used."""
        return [e for e in self.edits if e.engine not in ("cut", "reuse")]

    def verify(self, aligner, result) -> None:
        """Re-align the edited audio around the new spans to the new text; mark each new
        span found or not. Only the stretch around the edits (with 2 s of context) is
        re-aligned, so checking costs the same in a 10 s memo and a 10 min talk."""
        from retake.align.audio import Audio

        new = [e for e in self.edits if e.kind != "delete"]
        if not new:
            return
        t0 = max(0.0, min(e.start for e in new) - 2.0)
        t1 = min(result.alignment.duration, max(e.end for e in new) + 2.0)
        words = [w for w in result.alignment.words if w.aligned and w.start >= t0 - 1e-6
                 and w.end <= t1 + 1e-6]
        if not words:
            return
        t0, t1 = max(0.0, words[0].start - 0.3), min(result.alignment.duration,
                                                      words[-1].end + 0.3)
        sr = result.sample_rate
        piece = result.samples[int(t0 * sr):int(t1 * sr)]
        try:
            al = aligner.align(Audio(piece, sr), " ".join(w.text for w in words))
        except Exception:  # noqa: BLE001 - a failed check is reported, not raised
            for e in new:
                e.found_on_realign = False
            return
        for e in new:
            want = set(e.text.split())
            got = [w for w in al.words if w.aligned and set(w.spoken) & want
                   and w.start + t0 < e.end + 0.1 and w.end + t0 > e.start - 0.1]
            e.found_on_realign = bool(got)
            e.realign_confidence = float(min(w.confidence for w in got)) if got else 0.0

    def hear(self, result, language: str = "en", transcriber: str = "whisper",
             ear=None) -> None:
        """Open recognition (not forced alignment to the expected words) in a window of 1 s
        either side of each new span: `heard` is true when the recogniser's words there
        include every new word, in order. Without the recogniser installed, spans stay
        "not checked" (None). `ear`: a recogniser already loaded."""
        import difflib

        from retake.align.audio import ALIGN_RATE, resample
        from retake.align.engines import TRANSCRIBE_ENGINES
        from retake.align.normalize import tokenize
        from retake.core.engines import build
        from retake.core.errors import EngineUnavailable

        new = [e for e in self.edits if e.kind != "delete" and e.engine != "cut"]
        if not new:
            return
        eng = ear
        if eng is None:
            try:
                eng = build(TRANSCRIBE_ENGINES, transcriber, "transcription",
                            language=language)
            except EngineUnavailable:
                return

        def words(text: str) -> list[str]:
            # "speaker's" and "speakers" sound the same: the ear cannot be asked to spell
            return [w.lower().replace("'", "") for t in tokenize(text, language)
                    for w in t.spoken]

        sr = result.sample_rate
        for e in new:
            a, b = max(0.0, e.start - 1.0), e.end + 1.0
            x = resample(result.samples[int(a * sr):int(b * sr)], sr, ALIGN_RATE)
            got = " ".join(w.text for w in eng.recognize(x))
            want, have = words(e.text), words(got)
            sm = difflib.SequenceMatcher(a=want, b=have, autojunk=False)
            e.heard = bool(want) and sum(m.size for m in sm.get_matching_blocks()) == len(want)
            e.heard_text = got.strip()

    def measure_similarity(self, result, rec) -> None:
        """Speaker similarity (resemblyzer cosine) of each new span, with half a second of
        context either side so the encoder has enough speech, against the untouched speech
        of the original recording."""
        from retake.awareness.speaker import SpeakerEncoder

        new = [e for e in self.edits if e.kind != "delete" and e.engine != "cut"]
        if not new:
            return
        encoder = SpeakerEncoder()
        ref = encoder.embed(rec.samples, rec.sample_rate)
        sr = result.sample_rate
        for e in new:
            a, b = max(0, int((e.start - 0.5) * sr)), int((e.end + 0.5) * sr)
            e.similarity = float(np.dot(encoder.embed(result.samples[a:b], sr), ref))

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        d = asdict(self)
        for e, out in zip(self.edits, d["edits"], strict=True):
            out["weak_because"] = e.weaknesses()
        d["format"] = "retake.edit-report"
        d["disclosure"] = ("Edited with Retake. Synthesized spans: " + (", ".join(
            f"{e.start:.2f}-{e.end:.2f} s ({e.text!r})" for e in self.synthesized) or "none"))
        return d

    def to_json(self) -> str:
        """Pretty JSON."""
        return json.dumps(self.to_dict(), indent=1) + "\n"


def measure_joins(audio: np.ndarray, sample_rate: int, times: list[float]) -> list[Join]:
    """Pitch (semitones) and loudness (dB) jump across each join: medians of the 40 ms
    before against the 40 ms after, 5 ms away from the join."""
    import parselmouth

    if not times or len(audio) < sample_rate // 10:
        return []
    out = []
    for t in times:
        # pitch only around the join: a long recording must not cost a full pitch track
        a0 = max(0, int((t - 0.12) * sample_rate))
        snd = parselmouth.Sound(audio[a0:int((t + 0.12) * sample_rate)].astype(np.float64),
                                sample_rate)
        if snd.get_total_duration() < 0.1:
            continue
        pitch = snd.to_pitch_ac(time_step=0.005, pitch_floor=60, pitch_ceiling=500)
        f = pitch.selected_array["frequency"]
        xs = pitch.xs() + a0 / sample_rate
        before = f[(xs > t - 0.045) & (xs < t - 0.005)]
        after = f[(xs > t + 0.005) & (xs < t + 0.045)]
        before, after = before[before > 0], after[after > 0]
        jump = (abs(12 * np.log2(np.median(after) / np.median(before)))
                if len(before) and len(after) else None)
        a = audio[max(0, int((t - 0.025) * sample_rate)):int((t - 0.005) * sample_rate)]
        b = audio[int((t + 0.005) * sample_rate):int((t + 0.025) * sample_rate)]
        la = 10 * np.log10(np.mean(a.astype(np.float64) ** 2) + 1e-10) if len(a) else 0.0
        lb = 10 * np.log10(np.mean(b.astype(np.float64) ** 2) + 1e-10) if len(b) else 0.0
        out.append(Join(float(t), None if jump is None else float(jump), float(abs(la - lb))))
    return out
