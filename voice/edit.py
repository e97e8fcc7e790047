"""Edit a recording by editing its transcript.

    editor = Editor()
    rec = editor.load(load_audio("memo.wav"), "I will meet you at noon.")
    result = editor.edit(rec, "I will meet you at three.")
    write_result(result, "memo-edited.wav")

The old and new word sequences are diffed; kept stretches of the original are cut at quiet
points near word boundaries (in the middle of pauses where there are pauses) and joined
with short equal-power crossfades; new words come from the recording itself where it already
says them, otherwise from unit selection over the speaker's phones, shaped to the local
speaking rate and pitch and matched in loudness. The result carries the new Alignment, the
TimeMap from original to edited time, and a report on every edit.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field

import numpy as np

from retake.align.aligner import Aligner
from retake.align.audio import Audio
from retake.align.normalize import tokenize
from retake.align.types import Alignment, Phone, Word
from retake.awareness.provenance import Provenance
from retake.core.errors import RetakeError, TranscriptError
from retake.core.version import __version__
from retake.voice.analysis import VOWELS, Recording, analyse
from retake.voice.plan import Op, diff, sources
from retake.voice.render import (
    XFADE_S,
    Rendered,
    concatenate,
    render_external,
    render_fallback,
    render_units,
)
from retake.voice.report import EditReport, EditSpan, measure_joins
from retake.voice.timemap import Inserted, TimeMap
from retake.voice.units import Inventory, Target, Weights, select

log = logging.getLogger(__name__)

MIN_RECORDING_S = 3.0
MIN_MARK_S = 1.6  # s of audio marked around each synthesized span (see _watermark)
PAUSE_S = 0.06


class EditError(RetakeError):
    """The edit cannot be made (empty, unsupported text, recording too short)."""


@dataclass(frozen=True)
class EditOptions:
    """How to render new words."""

    engine: str = "units"
    takes: int = 1
    pitch: float = 0.0  # semitones added to inserted words
    emphasis: float = 0.0  # 0..1: extra pitch accent and length on the stressed vowel
    speed: float = 1.0  # >1 speaks inserted words faster
    reuse: bool = True  # take words the recording already says from the recording
    exclude: tuple[tuple[float, float], ...] = ()  # original spans unit selection must skip
    verify: bool = True  # re-align the result to check the new words are heard
    similarity: bool = False  # speaker similarity of each new span (loads resemblyzer)
    transfer_prosody: bool = True  # new words replacing old ones take the old words' melody
    watermark: bool = True  # mark every synthesized span (voice/watermark.py)


@dataclass
class Take:
    """One rendering of an inserted span, with its quality score (lower is better)."""

    samples: np.ndarray
    score: float


@dataclass
class EditResult:
    """The edited recording and everything that describes it."""

    samples: np.ndarray
    sample_rate: int
    alignment: Alignment
    timemap: TimeMap
    report: EditReport
    takes: list[list[Take]] = field(default_factory=list)  # per inserted span, best first
    provenance: Provenance | None = None  # consent and inputs, for the written file's credentials


@dataclass
class _OldWord:
    text: str
    start: float
    end: float
    usable: bool


class Editor:
    """Loads recordings (aligned and analysed, cached) and edits them by text."""

    def __init__(self, aligner: Aligner | None = None, language: str = "en",
                 cache_dir=None) -> None:
        self.aligner = aligner or Aligner(language=language, cache_dir=cache_dir)
        self.language = language
        self._coqui: dict[str, object] = {}

    def coqui(self, spec: str):
        """The coqui-tts model `spec`, loaded once (see voice.coqui)."""
        if spec not in self._coqui:
            from retake.voice.coqui import CoquiEngine

            self._coqui[spec] = CoquiEngine(spec)
        return self._coqui[spec]

    def load(self, audio: Audio, transcript: str, progress=None,
             min_seconds: float = MIN_RECORDING_S) -> Recording:
        """Align and analyse a recording so it can be edited (or lend its phones)."""
        if audio.duration < min_seconds:
            raise EditError(f"the recording is too short to clone from ({audio.duration:.1f} s);"
                            f" give at least {MIN_RECORDING_S:.0f} s of speech, better 20 s+")
        al = self.aligner.align(audio, transcript, progress=progress)
        return analyse(audio.samples, audio.sample_rate, al)

    # ---- the edit --------------------------------------------------------------------

    def edit(self, rec: Recording, new_text: str, options: EditOptions = EditOptions(),
             voices: list[Recording] = ()) -> EditResult:
        """Make the recording say `new_text`. `voices` are more recordings of the same
        speaker (a voice profile) whose phones unit selection may also use."""
        if not new_text or not new_text.strip():
            raise EditError("the new text is empty; to delete everything, just don't")
        tokens = tokenize(new_text, self.language, is_word=self.aligner.engine.has_word)
        new_words = [w for t in tokens for w in t.spoken]
        if not new_words:
            raise TranscriptError("the new text holds no words that can be spoken")
        _check_script(new_words, self.language)
        old = _old_words(rec)
        ops = diff([o.text for o in old], new_words)
        if all(op.kind == "keep" for op in ops):
            raise EditError("the new text says the same words as the recording; nothing to do")
        inv = Inventory([rec, *(_at_rate(v, rec.sample_rate) for v in voices)],
                        list(options.exclude))
        result = _Assembly(self, rec, old, inv, options).run(ops, tokens, new_text)
        return _watermark(result, new_text) if options.watermark else result


    def rebuild(self, rec: Recording, i0: int, i1: int, options: EditOptions = EditOptions()
                ) -> EditResult:
        """Re-make the recording's own spoken words [i0, i1) from text, in place.

        For the reconstruction benchmark: call it with `reuse=False` and the words' own
        audio in `options.exclude`, so the synthesizer never sees what it rebuilds.
        """
        old = _old_words(rec)
        words = [o.text for o in old[i0:i1]]
        ops = ([Op("keep", 0, i0)] if i0 > 0 else []) + [Op("replace", i0, i1, words)]
        ops += [Op("keep", i1, len(old))] if i1 < len(old) else []
        text = " ".join(o.text for o in old)
        tokens = tokenize(text, self.language, is_word=self.aligner.engine.has_word)
        inv = Inventory(rec, list(options.exclude))
        result = _Assembly(self, rec, old, inv, options).run(ops, tokens, text)
        return _watermark(result, text) if options.watermark else result

    def old_words(self, rec: Recording) -> list[tuple[str, float, float]]:
        """The recording's spoken words with their times (as `rebuild` indexes them)."""
        return [(o.text, o.start, o.end) for o in _old_words(rec)]


def _watermark(result: EditResult, text: str) -> EditResult:
    """Mark every synthesized span with Retake's watermark (version and an edit id).

    The edit id is a hash of the new text and the result's length, so the same edit marks
    the same way and different edits differ; the report records it. The mark needs about a
    second to be found again (two of its 0.48 s blocks), and a replaced word lasts a third
    of that, so each span is marked with at least MIN_MARK_S around it (clipped to the
    file); overlapping marks merge. The exact synthesized spans stay in the report.
    """
    import hashlib

    from retake.awareness.watermark import Payload, WatermarkError, embed, version_code

    spans = [e for e in result.report.synthesized if e.end - e.start >= 0.02]
    if not spans:
        return result
    total = len(result.samples) / result.sample_rate
    windows: list[list[float]] = []
    for e in spans:
        pad = max(0.0, (MIN_MARK_S - (e.end - e.start)) / 2)
        a, b = max(0.0, e.start - pad), min(total, e.end + pad)
        if b - a < MIN_MARK_S:  # near an end of the file: extend the other way
            a, b = max(0.0, b - MIN_MARK_S), min(total, a + MIN_MARK_S)
        if windows and a <= windows[-1][1]:
            windows[-1][1] = max(windows[-1][1], b)
        else:
            windows.append([a, b])
    digest = hashlib.sha256(f"{text}|{len(result.samples)}".encode()).digest()
    edit_id = int.from_bytes(digest[:3], "big")
    payload = Payload(version_code(__version__), edit_id)
    samples = result.samples
    for a, b in windows:
        try:
            samples = embed(samples, result.sample_rate, payload, a, b)
        except WatermarkError as exc:  # e.g. a sample rate too low for the band
            log.warning("could not watermark %.2f-%.2f s: %s", a, b, exc)
    result.samples = samples.astype(np.float32)
    result.report.watermark = {"version": payload.version, "edit_id": edit_id,
                               "marked": [[round(a, 3), round(b, 3)] for a, b in windows]}
    return result



def _at_rate(rec: Recording, sample_rate: int) -> Recording:
    """The recording analysed at another sample rate (units must share the edit's rate)."""
    if rec.sample_rate == sample_rate:
        return rec
    from retake.align.audio import resample

    return analyse(resample(rec.samples, rec.sample_rate, sample_rate), sample_rate,
                   rec.alignment)


def _check_script(words: list[str], language: str) -> None:
    if language.startswith("en"):
        bad = [w for w in words if not re.fullmatch(r"[a-z0-9']+", w)]
        if bad:
            raise EditError(f"cannot speak {bad[0]!r} in English with this voice: the "
                            "recording's speaker has no units for that script")


def _old_words(rec: Recording) -> list[_OldWord]:
    """The recording's spoken words with times (unaligned ones have no usable audio)."""
    out: list[_OldWord] = []
    for w in rec.alignment.words:
        if w.aligned and w.parts:
            out += [_OldWord(p.label, p.start, p.end, True) for p in w.parts]
        else:
            out += [_OldWord(s, w.start, w.start, False) for s in w.spoken]
    return out


class _Assembly:
    """Builds one edited recording (kept here so the steps can share their context)."""

    def __init__(self, editor: Editor, rec: Recording, old: list[_OldWord], inv: Inventory,
                 options: EditOptions) -> None:
        self.editor, self.rec, self.old, self.inv, self.opt = editor, rec, old, inv, options
        self.sr = rec.sample_rate
        self.rate = _local_rate(rec, inv)
        self.final = _final_lengthening(rec, inv)
        self._contours: dict[tuple[str, bool], np.ndarray] | None = None

    # -- cuts -------------------------------------------------------------------------

    def boundary(self, i: int) -> float:
        """Where to cut between old word i and i+1 (seconds): mid-pause, or the quietest
        point near the junction."""
        if i < 0:
            return 0.0
        if i >= len(self.old) - 1:
            return self.rec.duration
        e0, s1 = self.old[i].end, self.old[i + 1].start
        if s1 - e0 >= PAUSE_S:
            return (e0 + s1) / 2
        return self._quiet(min(e0, s1), 0.015)

    def _quiet(self, t: float, radius: float) -> float:
        from retake.voice.render import _cut

        return _cut(self.rec, t, radius) / self.sr

    def span(self, t0: float, t1: float) -> np.ndarray:
        """Original audio [t0, t1) with half a crossfade of extra audio at both ends."""
        half = int(XFADE_S * self.sr / 2)
        a, b = int(round(t0 * self.sr)) - half, int(round(t1 * self.sr)) + half
        x = self.rec.samples
        piece = x[max(0, a):min(len(x), b)]
        # at the ends of the recording, pad so every piece carries exactly `half` margin
        return np.pad(piece, (max(0, -a), max(0, b - len(x))))

    # -- new speech ---------------------------------------------------------------------

    def targets(self, words: list[str], left: str, right: str, f0_left: float,
                f0_right: float, kind: str = "none", melody: np.ndarray | None = None
                ) -> tuple[list[Target], list[int]]:
        """Target phones for new words: durations from the speaker's own phone statistics at
        the local rate, pitch interpolated between the context, an accent on stressed
        vowels. Returns targets and the number of phones of each word."""
        eng = self.editor.aligner.engine
        phones_per_word, seq = [], []
        for w in words:
            ph = eng.pronunciation(w)
            stress = _stressed_vowel(w, ph, self.editor.language)
            phones_per_word.append(len(ph))
            for k, p in enumerate(ph):
                pos = ("single" if len(ph) == 1 else "initial" if k == 0
                       else "final" if k == len(ph) - 1 else "medial")
                seq.append((p, pos, k == stress))
        base = self.rec.median_f0()
        f0a = f0_left or base
        f0b = f0_right or base
        targets: list[Target] = []
        n = len(seq)
        # before a pause, the last syllable stretches as the speaker's phrase ends do
        last_vowel = max((k for k, (p, _, _) in enumerate(seq) if p in VOWELS), default=n)
        durs = []
        for k, (p, pos, stressed) in enumerate(seq):
            dur = self.inv.mean_duration(p, pos) * self.rate / max(self.opt.speed, 0.2)
            if kind != "none" and k >= last_vowel:
                dur *= self.final
            if stressed:
                dur *= 1.0 + 0.4 * self.opt.emphasis
            durs.append(dur)
        # pitch: the line between the context's pitch, plus the speaker's own typical word
        # contour (learned from the recording) for words in that phrase position
        shape = self.contour(kind, sum(p in VOWELS for p, _, _ in seq) > 1)
        ends = np.cumsum(durs)
        for k, (p, pos, stressed) in enumerate(seq):
            dur = durs[k]
            frac = float((ends[k] - dur / 2) / ends[-1])
            if melody is not None:  # the replaced words' own pitch, time-normalised
                f0 = float(np.interp(frac, np.linspace(0, 1, len(melody)), melody))
            else:
                f0 = f0a * (f0b / f0a) ** frac
                f0 *= 2 ** (float(np.interp(frac, np.linspace(0.1, 0.9, len(shape)), shape))
                            / 12)
            if stressed:
                f0 *= 2 ** (3.0 * self.opt.emphasis / 12)
            f0 *= 2 ** (self.opt.pitch / 12)
            voiced = p in VOWELS or p in ("M", "N", "NG", "L", "R", "W", "Y", "B", "D", "G",
                                          "V", "Z", "DH", "ZH", "JH")
            targets.append(Target(p, seq[k - 1][0] if k else left,
                                  seq[k + 1][0] if k + 1 < n else right, pos, dur,
                                  f0 if voiced else 0.0))
        return targets, phones_per_word

    def melody(self, i0: int, i1: int) -> np.ndarray | None:
        """The pitch contour of the old words [i0, i1) that new words replace (gaps
        interpolated), or None if they are mostly unvoiced. Saying the new words to the old
        melody keeps the sentence's intonation, as a human editor would."""
        if not all(o.usable for o in self.old[i0:i1]):
            return None
        f = self.rec.f0[self.rec.frame(self.old[i0].start):self.rec.frame(self.old[i1 - 1].end)]
        voiced = f > 0
        if len(f) < 5 or voiced.mean() < 0.3:
            return None
        idx = np.arange(len(f))
        return np.exp(np.interp(idx, idx[voiced], np.log(f[voiced])))

    def reference(self, seconds: float = 8.0) -> np.ndarray:
        """Up to `seconds` of the speaker's aligned speech, for engines that clone."""
        pieces, total = [], 0.0
        for w in self.rec.alignment.words:
            if w.aligned and total < seconds:
                pieces.append(self.rec.samples[int(w.start * self.sr):int(w.end * self.sr)])
                total += w.end - w.start
        return np.concatenate(pieces) if pieces else self.rec.samples[: int(seconds * self.sr)]

    def contour(self, kind: str, long: bool) -> np.ndarray:
        """The speaker's mean word pitch contour (semitones above the line joining the
        context's pitch) at 5 points in the word, by the boundary that follows the word and
        by whether it has one syllable or several."""
        if self._contours is None:
            self._contours = _learn_contours(self)
        return self._contours.get((kind, long), np.zeros(5))

    def synthesize(self, words: list[str], left: str, right: str, f0_left: float,
                   f0_right: float, kind: str = "none", melody: np.ndarray | None = None
                   ) -> tuple[list[Rendered], list[int]]:
        """Render new words `takes` times, best first."""
        targets, per_word = self.targets(words, left, right, f0_left, f0_right, kind, melody)
        if self.opt.engine.startswith("coqui:"):
            eng = self.editor.coqui(self.opt.engine.split(":", 1)[1])
            ref = self.reference()
            renders = [render_external(self.rec, eng.speak(" ".join(words), ref, self.sr,
                                                           self.editor.language),
                                       eng.sample_rate, words, targets, self.opt.engine,
                                       self.editor.aligner)
                       for _ in range(max(1, self.opt.takes))]
            return renders, per_word
        if self.opt.engine != "units":
            raise EditError(f"no voice engine {self.opt.engine!r}; use units or coqui:MODEL")
        if any(not self.inv.has(t.label) for t in targets):
            return [render_fallback(self.rec, words, targets, self.editor.language,
                                    self.editor.aligner)], per_word
        takes: list[tuple[float, Rendered]] = []
        banned: set[int] = set()
        for k in range(max(1, self.opt.takes)):
            weights = Weights() if k == 0 else Weights(join_base=0.6 + 0.2 * k)
            inv = self.inv if not banned else _without(self.inv, banned)
            units = select(inv, targets, weights)
            if any(u is None for u in units):
                break
            cost = sum(inv.target_cost(u, t, weights) for u, t in zip(units, targets,
                                                                        strict=True))
            cost += sum(inv.join_cost(a, b, weights) for a, b in zip(units, units[1:],
                                                                      strict=False))
            takes.append((cost, render_units(inv.recs, units, targets)))
            banned |= {u.index for u in units}
        takes.sort(key=lambda t: t[0])
        return [r for _, r in takes], per_word

    def context(self, i0: int, i1: int) -> tuple[str, str, float, float, str]:
        """Neighbouring phones and pitch around the old words [i0, i1), and the kind of
        boundary that follows them ("none", "comma" or "stop").

        Across a pause or punctuation the neighbour belongs to another phrase, so its pitch
        is not a target: new words start at the speaker's phrase-initial level, end low
        before a full stop and mid-high before a comma.
        """
        left_word = self._aligned_word(i0 - 1, -1)
        right_word = self._aligned_word(i1, +1)
        if left_word and self.boundary_kind(i0 - 1) != "none":
            left_word = None
        kind = self.boundary_kind(i1 - 1) if i1 > 0 else "none"
        if kind != "none":
            right_word = None
        left = left_word.phones[-1].label if left_word else "SIL"
        right = right_word.phones[0].label if right_word else "SIL"
        voiced = self.rec.f0[self.rec.f0 > 0]
        lo, mid, hi = (np.percentile(voiced, [15, 50, 65]) if len(voiced)
                       else (120.0, 150.0, 180.0))
        f0l = self._edge_f0(left_word.end - 0.06, left_word.end) if left_word else float(hi)
        if right_word:
            f0r = self._edge_f0(right_word.start, right_word.start + 0.06)
        else:
            f0r = float(lo if kind == "stop" else mid)
        return left, right, f0l, f0r, kind

    def boundary_kind(self, i: int) -> str:
        """What follows old word i: "stop" (. ! ? or the end), "comma" (, ; : or a pause),
        or "none"."""
        if i < 0:
            return "stop"
        if i + 1 >= len(self.old):
            return "stop"
        word = self._aligned_word(i, 0)
        if word is not None:
            after = self.rec.alignment.transcript[word.char_end:word.char_end + 3]
            after = after.lstrip("\"')]")
            if after[:1] and after[0] in ".!?":
                return "stop"
            if after[:1] and after[0] in ",;:":
                return "comma"
        if self.old[i + 1].start - self.old[i].end > 0.15:
            return "comma"
        return "none"

    def _aligned_word(self, i: int, step: int) -> Word | None:
        """The token of the alignment holding old spoken word i (None off the ends)."""
        if i < 0 or i >= len(self.old) or not self.old[i].usable:
            return None
        t = self.old[i].start
        for w in self.rec.alignment.words:
            if w.aligned and w.phones and w.start - 1e-6 <= t < w.end - 1e-6:
                return w
        return None

    def _edge_f0(self, t0: float, t1: float) -> float:
        f = self.rec.f0[self.rec.frame(t0):self.rec.frame(t1) + 1]
        f = f[f > 0]
        return float(np.median(f)) if len(f) else 0.0

    def level(self, i0: int, i1: int) -> float:
        """Speech energy (dB) of the old words around [i0, i1)."""
        near = [o for o in self.old[max(0, i0 - 2):i1 + 2] if o.usable and o.end > o.start]
        frames = [self.rec.energy[self.rec.frame(o.start):self.rec.frame(o.end)] for o in near]
        frames = [f for f in frames if len(f)]
        if not frames:
            return self.rec.speech_level()
        e = np.concatenate(frames)
        return float(np.percentile(e, 75))

    # -- the whole edit ----------------------------------------------------------------

    def run(self, ops: list[Op], tokens, new_text: str) -> EditResult:
        sr = self.sr
        pieces: list[np.ndarray] = []
        knots: list[tuple[float, float]] = []
        inserted: list[Inserted] = []
        words_out: list[tuple[str, float, float, list[Phone]]] = []
        spans: list[EditSpan] = []
        all_takes: list[list[Take]] = []
        joins: list[float] = []
        t_out = 0.0
        n = len(self.old)

        def place(audio: np.ndarray, core: float) -> float:
            """Append a piece whose core (without crossfade margins) lasts `core` s."""
            nonlocal t_out
            if pieces:
                joins.append(t_out)
            pieces.append(audio)
            start = t_out
            t_out += core
            return start

        for op in ops:
            if op.kind == "keep":
                t0 = 0.0 if op.i0 == 0 else self.boundary(op.i0 - 1)
                t1 = self.rec.duration if op.i1 >= n else self.boundary(op.i1 - 1)
                start = place(self.span(t0, t1), t1 - t0)
                knots += [(t0, start), (t1, t_out)]
                for o in self.old[op.i0:op.i1]:
                    if o.usable:
                        shift = start - t0
                        words_out.append((o.text, o.start + shift, o.end + shift,
                                          self._phones(o, shift)))
                continue
            if op.kind == "delete":
                t_at = self.boundary(op.i0 - 1)
                spans.append(EditSpan("delete", " ".join(o.text for o in self.old[op.i0:op.i1]),
                                      t_out, t_out, "cut"))
                knots += [(t_at, t_out), (self.boundary(op.i1 - 1), t_out)]
                continue
            # insert / replace
            t_at = self.boundary(op.i0 - 1) if op.i0 > 0 else 0.0
            t_resume = self.boundary(op.i1 - 1) if op.i1 > op.i0 else t_at
            if op.i0 == 0 and op.i1 == 0 and self.old:
                t_at = t_resume = max(0.0, self.old[0].start - 0.05)
                # keep the leading silence before the new words
            knots.append((t_at, t_out))
            left, right, f0l, f0r, kind = self.context(op.i0, op.i1)
            level = self.level(op.i0, op.i1)
            span_start = t_out
            srcs = (sources(op.words, [o.text for o in self.old], [o.usable for o in self.old])
                    if self.opt.reuse else [_synth_source(op.words)])
            for src in srcs:
                if src.reuse is not None:
                    a, b = src.reuse
                    s0 = self._quiet(self.old[a].start, 0.01)
                    s1 = self._quiet(self.old[b - 1].end, 0.01)
                    audio = _match_level(self.span(s0, s1), self.rec, level, sr)
                    start = place(audio, s1 - s0)
                    for o in self.old[a:b]:
                        shift = start - s0
                        words_out.append((o.text, o.start + shift, o.end + shift,
                                          self._phones(o, shift)))
                    inserted.append(Inserted(start, t_out, t_at, " ".join(src.words), "reused"))
                    engine = "reuse"
                else:
                    last_src = src is srcs[-1]
                    melody = (self.melody(op.i0, op.i1) if op.i1 > op.i0 and len(srcs) == 1
                              and self.opt.transfer_prosody else None)
                    renders, per_word = self.synthesize(
                        src.words, left, right if last_src else "SIL", f0l, f0r,
                        kind if last_src else "none", melody)
                    best = renders[0]
                    half = int(XFADE_S * sr / 2)
                    audio = _match_level(best.samples, self.rec, level, sr)
                    audio = np.concatenate([np.zeros(half, np.float32), audio,
                                            np.zeros(half, np.float32)])
                    core = len(best.samples) / sr
                    start = place(audio, core)
                    k_ph = 0
                    for w, m in zip(src.words, per_word, strict=True):
                        ph = best.phones[k_ph:k_ph + m]
                        k_ph += m
                        if ph:
                            words_out.append((w, start + ph[0][1], start + ph[-1][2],
                                              [Phone(lab, start + s, start + e)
                                               for lab, s, e in ph]))
                    inserted.append(Inserted(start, t_out, t_at, " ".join(src.words),
                                             "synthesized"))
                    all_takes.append([Take(r.samples, float(i)) for i, r in enumerate(renders)])
                    engine = best.engine
                left = "SIL"
                spans.append(EditSpan(op.kind, " ".join(src.words), start, t_out, engine))
            knots.append((t_at, t_out))
            if op.i1 > op.i0:
                knots.append((t_resume, t_out))
            del span_start
        audio = concatenate(pieces, sr) if pieces else np.zeros(0, np.float32)
        half = int(XFADE_S * sr / 2)
        audio = audio[half:half + int(round(t_out * sr))] if len(audio) > half else audio
        tm = TimeMap(_monotone(knots), inserted, self.rec.duration, len(audio) / sr)
        al = _alignment(tokens, words_out, new_text, len(audio) / sr, self.editor.language)
        report = EditReport(spans, measure_joins(audio, sr, joins))
        result = EditResult(audio.astype(np.float32), sr, al, tm, report, all_takes)
        if self.opt.verify:
            report.verify(self.editor.aligner, result)
        if self.opt.similarity:
            report.measure_similarity(result, self.rec)
        return result

    def _phones(self, o: _OldWord, shift: float) -> list[Phone]:
        for w in self.rec.alignment.words:
            if w.aligned and w.start - 1e-6 <= o.start and o.end <= w.end + 1e-6:
                return [Phone(p.label, p.start + shift, p.end + shift) for p in w.phones
                        if p.start >= o.start - 1e-6 and p.end <= o.end + 1e-6]
        return []


def _synth_source(words):
    from retake.voice.plan import Source

    return Source(words)


def _without(inv: Inventory, banned: set[int]) -> Inventory:
    """A copy of the inventory without some units (for alternative takes)."""
    out = Inventory.__new__(Inventory)
    out.__dict__.update(inv.__dict__)
    out.units = [u for u in inv.units if u.index not in banned]
    out.by_label = {}
    for u in out.units:
        out.by_label.setdefault(u.label, []).append(u)
    for lab, us in inv.by_label.items():
        if lab not in out.by_label:
            out.by_label[lab] = us  # never leave a phone with no unit at all
    return out


def _local_rate(rec: Recording, inv: Inventory) -> float:
    """How much slower (>1) or faster (<1) than its own phone averages the speaker talks."""
    ratios = [u.duration / inv.mean_duration(u.label) for u in rec.units]
    return float(np.clip(np.median(ratios), 0.6, 1.6)) if ratios else 1.0


def _learn_contours(asm: _Assembly) -> dict[tuple[str, bool], np.ndarray]:
    """Mean pitch shape of the recording's words relative to their context line."""
    rec = asm.rec
    groups: dict[tuple[str, bool], list[np.ndarray]] = {}
    for i, o in enumerate(asm.old):
        if not o.usable or o.end - o.start < 0.1:
            continue
        word = asm._aligned_word(i, 0)
        if word is None:
            continue
        _, _, f0l, f0r, kind = asm.context(i, i + 1)
        if f0l <= 0 or f0r <= 0:
            continue
        edges = np.linspace(o.start, o.end, 6)
        dev = []
        for k in range(5):
            f = rec.f0[rec.frame(edges[k]):rec.frame(edges[k + 1]) + 1]
            f = f[f > 0]
            tau = (k + 0.5) / 5
            line = f0l * (f0r / f0l) ** tau
            dev.append(12 * np.log2(np.median(f) / line) if len(f) else np.nan)
        dev = np.array(dev)
        if np.isnan(dev).sum() > 2:
            continue
        long = sum(p.label in VOWELS for p in word.phones) > 1
        groups.setdefault((kind, long), []).append(dev)
    out = {}
    for key, rows in groups.items():
        if len(rows) >= 4:
            shape = np.nanmedian(np.array(rows), axis=0)
            out[key] = np.nan_to_num(np.clip(shape, -6, 6))
    return out


def _final_lengthening(rec: Recording, inv: Inventory) -> float:
    """How much longer the speaker's phrase-final syllables are than their phone averages
    (from the last vowel of words that precede a pause)."""
    units = rec.units
    ratios = []
    for k, u in enumerate(units):
        if u.next_index is not None:
            continue  # a pause follows only the last unit of a stretch
        j = k
        while j > 0 and units[j - 1].next_index == units[j].index and \
                units[j].label not in VOWELS:
            j -= 1
        ratios += [units[m].duration / inv.mean_duration(units[m].label)
                   for m in range(j, k + 1)]
    overall = [u.duration / inv.mean_duration(u.label) for u in units]
    if len(ratios) < 5 or not overall:
        return 1.3
    return float(np.clip(np.median(ratios) / np.median(overall), 1.0, 2.0))


def _stressed_vowel(word: str, phones: list[str], language: str) -> int:
    """Index in `phones` of the vowel carrying primary stress (espeak-ng's marking)."""
    from retake.align.espeak import text_to_ipa

    vowels = [k for k, p in enumerate(phones) if p in VOWELS]
    if not vowels:
        return -1
    ipa = [s for w in text_to_ipa(word, language) for s in w]
    nth = 0
    for sym in ipa:
        if any(c in sym for c in "aeiouæɑɒɔəɛɜɪʊʌɚɐᵻ"):
            if "ˈ" in sym:
                return vowels[min(nth, len(vowels) - 1)]
            nth += 1
    return vowels[0]


def _match_level(audio: np.ndarray, rec: Recording, level_db: float, sr: int) -> np.ndarray:
    """Scale new audio so its loud frames match the surrounding speech's level."""
    hop = int(0.01 * sr)
    if len(audio) < 2 * hop:
        return audio
    frames = np.lib.stride_tricks.sliding_window_view(audio, hop * 2)[::hop]
    e = 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-10)
    gain_db = float(np.clip(level_db - np.percentile(e, 75), -20, 20))
    return (audio * 10 ** (gain_db / 20)).astype(np.float32)


def _monotone(knots: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for o, e in knots:
        if out:
            o, e = max(o, out[-1][0]), max(e, out[-1][1])
        if not out or (o, e) != out[-1]:
            out.append((o, e))
    return out


def _alignment(tokens, words_out, text: str, duration: float, language: str) -> Alignment:
    """The new Alignment: the new text's tokens over the placed spoken words."""
    words: list[Word] = []
    k = 0
    for t in tokens:
        parts = words_out[k:k + len(t.spoken)]
        k += len(t.spoken)
        if not parts:
            words.append(Word(t.text, 0.0, 0.0, 0.0, [], list(t.spoken), t.start, t.end, False))
            continue
        words.append(Word(t.text, parts[0][1], parts[-1][2], 1.0,
                          [p for w in parts for p in w[3]], list(t.spoken), t.start, t.end,
                          True, [Phone(w[0], w[1], w[2]) for w in parts]))
    return Alignment(words, duration, language, "retake-edit", text, [])


def semitones(a: float, b: float) -> float:
    """Interval from a to b in semitones (0 if either is unvoiced)."""
    return 12 * math.log2(b / a) if a > 0 and b > 0 else 0.0
