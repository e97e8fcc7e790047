"""Assembling an edit: the kept stretches of the recording cut at quiet points, the new
words made and shaped to their context, joined, and described (alignment, time map, report).

`Assembly.run` carries out the operations of one edit plan over one recording.
"""

from __future__ import annotations

import bisect
import logging
import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from retake.align.types import Alignment, Phone, Word
from retake.core.engines import find
from retake.voice.analysis import VOWELS, Recording
from retake.voice.cuts import CUT_FADE_S, Cuts
from retake.voice.engines import COQUI, VOICE_ENGINES
from retake.voice.joined import Joined
from retake.voice.phones import stand_in, substitutions
from retake.voice.plan import Op, sources
from retake.voice.prosody import (
    final_lengthening,
    learn_contours,
    local_rate,
    stressed_vowel,
)
from retake.voice.query import QUERY_TIMING, Around, Query, converted, query_glides, query_moves
from retake.voice.records import EditOptions, EditResult, Take
from retake.voice.render import (
    XFADE_S,
    Padded,
    Rendered,
    render_external,
    render_fallback,
    render_units,
)
from retake.voice.report import EditReport, EditSpan, measure_joins
from retake.voice.timemap import Inserted, TimeMap
from retake.voice.units import Edge, Inventory, Target, Weights, select

if TYPE_CHECKING:
    from retake.voice.edit import Editor

log = logging.getLogger(__name__)



@dataclass
class OldWord:
    text: str
    start: float
    end: float
    usable: bool


def old_words(rec: Recording) -> list[OldWord]:
    """The recording's spoken words with times (unaligned ones have no usable audio)."""
    out: list[OldWord] = []
    for w in rec.alignment.words:
        if w.aligned and w.parts:
            out += [OldWord(p.label, p.start, p.end, True) for p in w.parts]
        else:
            out += [OldWord(s, w.start, w.start, False) for s in w.spoken]
    return out


class Assembly:
    """Builds one edited recording (kept here so the steps can share their context)."""

    def __init__(self, editor: Editor, rec: Recording, old: list[OldWord], inv: Inventory,
                 options: EditOptions) -> None:
        self.editor, self.rec, self.old, self.inv, self.opt = editor, rec, old, inv, options
        self.sr = rec.sample_rate
        self.rate = local_rate(rec, inv)
        self.final = final_lengthening(rec, inv)
        self._contours: dict[tuple[str, bool], np.ndarray] | None = None
        self._words: tuple[list[float], list[Word]] | None = None
        self._levels: tuple[float, float, float] | None = None
        self.cuts = Cuts(rec, old)

    # -- cuts -------------------------------------------------------------------------

    def boundary(self, i: int) -> float:
        """Where to cut between old word i and i+1 (seconds); see `Cuts.boundary`."""
        return self.cuts.boundary(i)

    def _quiet(self, t: float, radius: float) -> float:
        return self.cuts.quiet(t, radius)

    def edge(self, t: float, before: bool) -> Edge:
        """The recording's frame just before (`before`) or just after a cut at `t`."""
        r = self.rec
        f = max(r.frame(t) - 1, 0) if before else min(r.frame(t) + 1, len(r.energy) - 1)
        return Edge(r.mfcc[f], float(r.f0[f]), float(r.energy[f]))

    def span(self, t0: float, t1: float, fade_left: float = XFADE_S,
             fade_right: float = XFADE_S) -> np.ndarray:
        """Original audio [t0, t1) with half a crossfade of extra audio at both ends."""
        a = int(round(t0 * self.sr)) - int(fade_left * self.sr / 2)
        b = int(round(t1 * self.sr)) + int(fade_right * self.sr / 2)
        x = self.rec.samples
        piece = x[max(0, a):min(len(x), b)]
        if a >= 0 and b <= len(x):
            return piece  # a view: the kept stretches of a long recording are not copied
        # at the ends of the recording, pad so every piece carries exactly its margin
        if len(piece) > 10 * self.sr:
            return Padded(max(0, -a), piece, max(0, b - len(x)))  # still not copied
        return np.pad(piece, (max(0, -a), max(0, b - len(x))))

    # -- new speech ---------------------------------------------------------------------

    def targets(self, words: list[str], left: str, right: str, f0_left: float,
                f0_right: float, kind: str = "none", melody: np.ndarray | None = None,
                query: Query | None = None) -> tuple[list[Target], list[int]]:
        """Target phones for new words: durations from the speaker's own phone statistics at
        the local rate, pitch interpolated between the context, an accent on stressed
        vowels. With a `query` (the neural voice's rendering, voice.query), its timing
        shares out the duration, its melody around its own line is transposed onto the
        speaker's line, and its cepstra become the acoustic target. Returns targets and the
        number of phones of each word."""
        eng = self.editor.aligner.engine
        phones_per_word, seq = [], []
        for w in words:
            ph = eng.pronunciation(w)
            stress = stressed_vowel(w, ph, self.editor.language)
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
        moves = None
        glides = [0.0] * len(seq)
        if query is not None:
            q = np.array([p.duration for p in query.phones])
            # the speaker's pace against the query voice's over the words both said (and
            # the user's --speed and --emphasis), or else the rules' total for the new words
            if query.rate:
                q = q * query.rate / max(self.opt.speed, 0.2) * np.array(
                    [1.0 + 0.4 * self.opt.emphasis if st else 1.0 for _, _, st in seq])
            else:
                q = q * sum(durs) / max(float(q.sum()), 1e-3)
            durs = [(1 - QUERY_TIMING) * d + QUERY_TIMING * qd
                    for d, qd in zip(durs, q, strict=True)]
            moves = query_moves(query, self.pitch_ratio())
            glides = query_glides(query, self.pitch_ratio())
        # pitch: the line between the context's pitch, plus the speaker's own typical word
        # contour (learned from the recording) for words in that phrase position
        shape = self.contour(kind, sum(p in VOWELS for p, _, _ in seq) > 1)
        ends = np.cumsum(durs)
        for k, (p, pos, stressed) in enumerate(seq):
            dur = durs[k]
            frac = float((ends[k] - dur / 2) / ends[-1])
            if melody is not None:  # the replaced words' own pitch, time-normalised
                f0 = float(np.interp(frac, np.linspace(0, 1, len(melody)), melody))
            elif moves is not None:  # the query's melody on the speaker's line
                f0 = f0a * (f0b / f0a) ** frac * 2 ** (moves[k] / 12)
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
                                  f0 if voiced else 0.0,
                                  query.phones[k].cepstra if query is not None else None,
                                  glides[k] if voiced and melody is None else 0.0))
        return targets, phones_per_word

    def pitch_ratio(self) -> float:
        """How much wider the speaker's pitch range is than the query voice's (semitone SD
        over voiced frames), so its melody is transposed into the speaker's range."""
        from retake.voice.query import semitone_sd

        voice = self.editor.query_voice()
        if voice is None:
            return 1.0
        mine = semitone_sd(self.rec.f0)
        theirs = voice.pitch_sd(self.sr)
        return float(np.clip(mine / theirs, 0.5, 1.5)) if mine and theirs else 1.0

    def query(self, words: list[str], expected: list[str], around: Around | None,
              seed: int) -> Query | None:
        """The query voice's rendering of `words` in their sentence, or None (not English,
        engine off or missing, or its phones do not match)."""
        if not self.opt.query or around is None:
            return None
        voice = self.editor.query_voice()
        if voice is None:
            return None
        return voice.say(around.before, words, around.after, around.end, self.sr, expected,
                         seed, (*around.before_s, *around.after_s))

    def around(self, i0: int, i1: int, kind: str) -> Around:
        """The words the query voice says around new words replacing old [i0, i1): back to
        the start of the sentence (at most 6), and on to its end (at most 4) unless a pause
        or punctuation closes the phrase first."""
        before: list[str] = []
        i = i0 - 1
        while i >= 0 and len(before) < 6 and self.boundary_kind(i) != "stop":
            before.insert(0, self.old[i].text)
            i -= 1
        after: list[str] = []
        if kind == "none":
            j = i1
            while j < len(self.old) and len(after) < 4:
                after.append(self.old[j].text)
                if self.boundary_kind(j) != "none":
                    break
                j += 1
        end = {"stop": ".", "comma": ","}.get(kind, "")

        def took(k: int) -> float | None:
            o = self.old[k]
            return o.end - o.start if o.usable and o.end > o.start else None

        return Around(before, after, end or ".",
                      tuple(took(k) for k in range(i + 1, i0)),
                      tuple(took(k) for k in range(i1, i1 + len(after))))

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
            self._contours = learn_contours(self)
        return self._contours.get((kind, long), np.zeros(5))

    def synthesize(self, words: list[str], left: str, right: str, f0_left: float,
                   f0_right: float, kind: str = "none", melody: np.ndarray | None = None,
                   around: Around | None = None,
                   edges: tuple[Edge | None, Edge | None] = (None, None)
                   ) -> tuple[list[Rendered], list[int]]:
        """Render new words `takes` times, best first. `edges`: the recording's frames the
        span joins on its left and right (None after or before a pause)."""
        spec = find(VOICE_ENGINES, self.opt.engine, "voice")
        query = None
        if spec.name != COQUI:
            plain, _ = self.targets(words, left, right, f0_left, f0_right, kind, melody)
            query = self.query(words, [t.label for t in plain], around, self.opt.seed)
        targets, per_word = self.targets(words, left, right, f0_left, f0_right, kind, melody,
                                         query)
        if spec.name == COQUI:
            eng = self.editor.coqui(self.opt.engine.split(":", 1)[1])
            ref = self.reference()
            renders = []
            for k in range(max(1, self.opt.takes)):
                import torch

                torch.manual_seed(self.opt.seed + k)  # a neural voice samples: one seed a take
                speech = eng.speak(" ".join(words), ref, self.sr, self.editor.language)
                renders.append(render_external(self.rec, speech, eng.sample_rate, words,
                                               targets, self.opt.engine, self.editor.aligner,
                                               self.opt.seed + k))
            return self.rank(renders, words), per_word
        wanted = targets
        labels = [t.label for t in targets]
        subs = substitutions(labels, self.inv.has)
        base = self.inv
        borrowed: set[str] = set()
        conv = None
        if query is not None and not self.opt.own_phones and math.isfinite(Weights().foreign):
            # the converted query phrase offers every phone, at a price (Weights.foreign):
            # taken where the speaker's own units fit far worse, as with little material
            # (27 s of a man: Whisper heard 35% of rebuilt words from his units alone)
            conv = self.converted(query)
            base = self.inv.with_foreign(conv, {u.label for u in conv.units})
        if subs is None and query is not None:
            # a phone with no stand-in at all: that phone alone comes from the query voice,
            # converted toward the speaker; every other phone stays the speaker's own
            borrowed = {lab for lab in labels
                        if not self.inv.has(lab) and stand_in(lab, self.inv.has) is None}
            subs = substitutions(labels, lambda lab: self.inv.has(lab) or lab in borrowed)
            if conv is None:
                base = self.inv.with_foreign(self.converted(query), borrowed)
        if subs is None:  # no query voice either: the fallback voice says the span
            return [render_fallback(self.rec, words, targets, self.editor.language,
                                    self.editor.aligner, self.opt.seed)], per_word
        if subs:  # phones the speaker never said, each replaced by their nearest own phone
            targets = [replace(t, label=subs.get(t.label, t.label),
                               left=subs.get(t.left, t.left), right=subs.get(t.right, t.right))
                       for t in targets]
        takes: list[tuple[float, Rendered]] = []
        banned: set[int] = set()
        for k in range(max(1, self.opt.takes)):
            weights = Weights() if k == 0 else Weights(join_base=0.6 + 0.2 * k)
            inv = base if not banned else without(base, banned)
            units = select(inv, targets, weights, left=edges[0], right=edges[1])
            if any(u is None for u in units):
                break
            cost = sum(inv.target_cost(u, t, weights) for u, t in zip(units, targets,
                                                                        strict=True))
            cost += sum(inv.join_cost(a, b, weights) for a, b in zip(units, units[1:],
                                                                      strict=False))
            r = render_units(inv.recs, units, targets, self.opt.seed + k)
            r.borrowed = [w.label for u, w in zip(units, wanted, strict=True) if inv.foreign(u)]
            takes.append((cost, r))
            banned |= {u.index for u in units}
        takes.sort(key=lambda t: t[0])
        renders = self.rank([r for _, r in takes], words)
        for r in renders:  # the alignment names the phones meant; the report, the stand-ins
            r.phones = [(t.label, a, b) for t, (_, a, b) in zip(wanted, r.phones, strict=True)]
            r.substituted = [f"{w.label}→{t.label}" for w, t in zip(wanted, targets,
                                                                     strict=True)
                             if w.label != t.label]
        return renders, per_word

    def converted(self, query: Query) -> Recording:
        """The query phrase converted toward the speaker, phone by phone, with the envelopes
        of the speaker's units this edit may use (voice.query.converted)."""
        voice = self.editor.query_voice()
        env = voice.envelopes(self.sr) if voice is not None else None
        own = [u for u in self.inv.units if u.source == 0]
        return converted(query.recording, self.rec, env, own)

    def rank(self, renders: list[Rendered], words: list[str]) -> list[Rendered]:
        """Order several takes by an honest ear: how much of the new words an independent
        recogniser hears in each, then how like the speaker it sounds (the selection cost
        breaks ties). One take, or no recogniser installed: the order stays."""
        if len(renders) < 2 or not self.opt.verify:
            return renders
        from retake.align.agreement import phone_share
        from retake.align.audio import ALIGN_RATE, resample

        ear = self.editor.ear()
        if ear is None:
            return renders
        encoder = self.editor.speaker_encoder()
        ref = encoder.embed(self.reference(), self.sr)
        pad = room_noise(self.rec, int(0.3 * self.sr), self.opt.seed)
        text = " ".join(words)
        scored = []
        for k, r in enumerate(renders):
            x = np.concatenate([pad, r.samples, pad])
            heard = " ".join(w.text for w in ear.recognize(resample(x, self.sr, ALIGN_RATE)))
            share = phone_share(text, heard, self.editor.aligner.engine.pronunciation,
                                self.editor.language)
            sim = float(np.dot(encoder.embed(r.samples, self.sr), ref))
            scored.append((-round(share, 2), -sim, k))
        return [renders[k] for *_, k in sorted(scored)]

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
        if self._levels is None:  # the speaker's pitch levels, once per edit
            voiced = self.rec.f0[self.rec.f0 > 0]
            self._levels = (tuple(np.percentile(voiced, [15, 50, 65])) if len(voiced)
                            else (120.0, 150.0, 180.0))
        lo, mid, hi = self._levels
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
        if self._words is None:  # aligned words by start, searched by bisection
            ws = [w for w in self.rec.alignment.words if w.aligned and w.phones]
            self._words = ([w.start - 1e-6 for w in ws], ws)
        starts, ws = self._words
        k = bisect.bisect_right(starts, t) - 1
        hits = [ws[j] for j in (k - 1, k) if 0 <= j < len(ws)
                and ws[j].start - 1e-6 <= t < ws[j].end - 1e-6]
        return hits[0] if hits else None

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
        fades: list[float] = []
        t_out = 0.0
        n = len(self.old)
        # a deletion between two kept stretches: its cuts, fixed before either is placed
        cuts = {k: self.cuts.deletion(op.i0, op.i1) for k, op in enumerate(ops)
                if op.kind == "delete" and 0 < k < len(ops) - 1
                and ops[k - 1].kind == "keep" and ops[k + 1].kind == "keep"}

        def place(audio: np.ndarray, core: float, fade: float = XFADE_S) -> float:
            """Append a piece whose core (without crossfade margins) lasts `core` s."""
            nonlocal t_out
            if pieces:
                joins.append(t_out)
                fades.append(fade)
            pieces.append(audio)
            start = t_out
            t_out += core
            return start

        for k_op, op in enumerate(ops):
            if op.kind == "keep":
                t0 = 0.0 if op.i0 == 0 else self.boundary(op.i0 - 1)
                t1 = self.rec.duration if op.i1 >= n else self.boundary(op.i1 - 1)
                fade_in = fade_out = XFADE_S
                if k_op - 1 in cuts:
                    t0, fade_in = cuts[k_op - 1][1], CUT_FADE_S
                if k_op + 1 in cuts:
                    t1, fade_out = cuts[k_op + 1][0], CUT_FADE_S
                start = place(self.span(t0, t1, fade_in, fade_out), t1 - t0, fade_in)
                knots += [(t0, start), (t1, t_out)]
                for o in self.old[op.i0:op.i1]:
                    if o.usable:
                        shift = start - t0
                        words_out.append((o.text, o.start + shift, o.end + shift,
                                          self._phones(o, shift)))
                continue
            if op.kind == "delete":
                t_at, t_res = cuts.get(k_op, (self.boundary(op.i0 - 1),
                                              self.boundary(op.i1 - 1)))
                spans.append(EditSpan("delete", " ".join(o.text for o in self.old[op.i0:op.i1]),
                                      t_out, t_out, "cut"))
                knots += [(t_at, t_out), (t_res, t_out)]
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
                    if self.opt.reuse else [synth_source(op.words)])
            for src in srcs:
                if src.reuse is not None:
                    a, b = src.reuse
                    s0 = self._quiet(self.old[a].start, 0.01)
                    s1 = self._quiet(self.old[b - 1].end, 0.01)
                    audio = match_level(self.span(s0, s1), self.rec, level, sr)
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
                    edges = (self.edge(t_at, before=True) if left != "SIL" else None,
                             self.edge(t_resume, before=False)
                             if last_src and right != "SIL" else None)
                    renders, per_word = self.synthesize(
                        src.words, left, right if last_src else "SIL", f0l, f0r,
                        kind if last_src else "none", melody,
                        self.around(op.i0, op.i1, kind) if len(srcs) == 1 else None, edges)
                    pick = self.opt.use_takes[len(all_takes)] \
                        if len(all_takes) < len(self.opt.use_takes) else 0
                    best = renders[min(max(0, pick), len(renders) - 1)]
                    half = int(XFADE_S * sr / 2)
                    audio = match_level(best.samples, self.rec, level, sr)
                    audio = np.concatenate([np.zeros(half, np.float32), audio,
                                            np.zeros(half, np.float32)])
                    audio = fill_room_tone(audio, self.rec, self.opt.seed)
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
                if engine != "reuse" and best.substituted:
                    spans[-1].substituted = list(best.substituted)
                if engine != "reuse" and best.borrowed:
                    spans[-1].borrowed = list(best.borrowed)
            knots.append((t_at, t_out))
            if op.i1 > op.i0:
                knots.append((t_resume, t_out))
            del span_start
        # the join is not built: it is computed a stretch at a time where it is read
        audio = Joined(pieces, sr, fades=fades) if pieces else np.zeros(0, np.float32)
        half = int(XFADE_S * sr / 2)
        if len(audio) > half:
            keep = slice(half, half + int(round(t_out * sr)))
            audio = audio.crop(keep) if isinstance(audio, Joined) else audio[keep]
        tm = TimeMap(monotone(knots), inserted, self.rec.duration, len(audio) / sr)
        al = new_alignment(tokens, words_out, new_text, len(audio) / sr, self.editor.language)
        report = EditReport(spans, measure_joins(audio, sr, joins))
        result = EditResult(audio, sr, al, tm, report, all_takes)
        if self.opt.verify:
            report.verify(self.editor.aligner, result)
            report.hear(result, self.editor.language, ear=self.editor.ear())
        if self.opt.similarity:
            report.measure_similarity(result, self.rec)
        return result

    def _phones(self, o: OldWord, shift: float) -> list[Phone]:
        for w in self.rec.alignment.words:
            if w.aligned and w.start - 1e-6 <= o.start and o.end <= w.end + 1e-6:
                return [Phone(p.label, p.start + shift, p.end + shift) for p in w.phones
                        if p.start >= o.start - 1e-6 and p.end <= o.end + 1e-6]
        return []


def synth_source(words):
    from retake.voice.plan import Source

    return Source(words)


def without(inv: Inventory, banned: set[int]) -> Inventory:
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


def room_noise(rec: Recording, n: int, seed: int = 0) -> np.ndarray:
    """`n` samples of the recording's own background: seeded white noise shaped to the
    spectrum of its quietest stretch (`Recording.room_tone`), at that stretch's level."""
    tone = rec.room_tone if rec.room_tone is not None else np.zeros(0, np.float32)
    rms = float(np.sqrt(np.mean(tone.astype(np.float64) ** 2))) if len(tone) else 0.0
    if n <= 0 or rms < 1e-7:
        return np.zeros(max(n, 0), np.float32)
    seg = min(512, len(tone))  # averaged periodogram (Welch, Hann, half overlap)
    frames = np.lib.stride_tricks.sliding_window_view(tone.astype(np.float64), seg)[::seg // 2]
    psd = np.mean(np.abs(np.fft.rfft(frames * np.hanning(seg), axis=1)) ** 2, axis=0)
    freqs = np.fft.rfftfreq(seg, 1 / rec.sample_rate)
    white = np.random.default_rng(seed).standard_normal(n)
    spec = np.fft.rfft(white)
    shape = np.sqrt(np.interp(np.fft.rfftfreq(n, 1 / rec.sample_rate), freqs, psd))
    noise = np.fft.irfft(spec * shape, n)
    return (noise * rms / (np.std(noise) + 1e-12)).astype(np.float32)


def fill_room_tone(audio: np.ndarray, rec: Recording, seed: int = 0) -> np.ndarray:
    """Lay the recording's background under new audio wherever it is quieter than the room:
    synthesized speech has no room noise in its gaps, and a hole below the file's noise floor
    gives an edit away. Frames already at or above the floor are left as they are; then the
    same is done band by band (`_fill_bands`)."""
    sr = rec.sample_rate
    hop = max(1, int(0.005 * sr))  # 5 ms: a dip shorter than a 10 ms frame is found too
    noise = room_noise(rec, len(audio), seed)
    if len(audio) < hop or not np.any(noise):
        return audio
    # the file's noise floor: its quieter frames (the quietest 300 ms alone sits below it)
    live = rec.energy[rec.energy > -90]
    floor = 10 ** (float(np.percentile(live, 10)) / 10) if len(live) else 0.0
    noise *= np.sqrt(floor / (np.mean(noise.astype(np.float64) ** 2) + 1e-20))
    if floor <= 0:
        return audio
    n_frames = len(audio) // hop + 1
    pad = np.pad(audio.astype(np.float64), (0, n_frames * hop - len(audio)))
    power = np.mean(pad.reshape(n_frames, hop) ** 2, axis=1)
    need = np.sqrt(np.clip(1.0 - power / floor, 0.0, 1.0))  # noise share each frame lacks
    # widen each frame's need to its neighbours (a maximum, so a short hole is filled in
    # full); the gain then ramps linearly between frame centres: no clicks at frame edges
    need = np.maximum.reduce([need, np.r_[need[1:], 0.0], np.r_[0.0, need[:-1]]])
    gain = np.interp(np.arange(len(audio)), np.arange(n_frames) * hop + hop / 2, need)
    filled = (audio + gain * noise).astype(np.float32)
    more = room_noise(rec, len(audio), seed + 1)
    more *= np.sqrt(floor / (np.mean(more.astype(np.float64) ** 2) + 1e-20))
    return _fill_bands(filled, more)


def _fill_bands(audio: np.ndarray, noise: np.ndarray, n_fft: int = 512) -> np.ndarray:
    """Room noise added band by band where the audio is quieter than the room in that band:
    speech from the query voice is clean, and a span whose hiss stops above 4 kHz while
    the recording's goes on is an edit a spectrogram (or an ear) finds at once."""
    from retake.voice.convert import istft, stft

    if len(audio) < n_fft:
        return audio
    spec = stft(audio, n_fft)
    room = stft(noise, n_fft)
    expected = np.mean(np.abs(room) ** 2, axis=0)  # the room's power per band
    need = np.sqrt(np.clip(1.0 - np.abs(spec) ** 2 / (expected + 1e-20), 0.0, 1.0))
    return istft(spec + room * need, len(audio), n_fft)


def match_level(audio: np.ndarray, rec: Recording, level_db: float, sr: int) -> np.ndarray:
    """Scale new audio so its loud frames match the surrounding speech's level."""
    audio = np.asarray(audio, np.float32)
    hop = int(0.01 * sr)
    if len(audio) < 2 * hop:
        return audio
    frames = np.lib.stride_tricks.sliding_window_view(audio, hop * 2)[::hop]
    e = 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-10)
    gain_db = float(np.clip(level_db - np.percentile(e, 75), -20, 20))
    return (audio * 10 ** (gain_db / 20)).astype(np.float32)


def monotone(knots: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for o, e in knots:
        if out:
            o, e = max(o, out[-1][0]), max(e, out[-1][1])
        if not out or (o, e) != out[-1]:
            out.append((o, e))
    return out


def new_alignment(tokens, words_out, text: str, duration: float, language: str) -> Alignment:
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


