"""The query voice: a neural voice says the edited phrase first, and what it says guides the
choice of the speaker's own units (VoCo, Jin et al. 2017).

Rule-based targets know each phone's label, context and a mean duration; they do not know how
the phrase is *said*. A neural voice does: which syllable is long, where pitch rises and
falls, what each phone sounds like next to its neighbours. `QueryVoice.say` speaks the new
words inside their sentence with hibari-tts (Apache-2.0, weights inside its wheel), aligns
what it said, and returns per phone of the new words:

- its duration (the speaker's own rate sets the total; the query sets how it is shared out),
- its pitch movement, as semitones around the query's own line, to be transposed into the
  speaker's range,
- its cepstra in three parts (start, middle, end), normalised by the query voice's long-term
  statistics, so units of the speaker normalised by theirs can be compared with them.

It also gives the query phrase as an analysed `Recording`, so a phone the speaker never said
can be borrowed from it, one phone at a time, converted toward the speaker.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from retake.voice.analysis import HOP_S, Recording
from retake.voice.units import speech_stats, unit_cepstra

log = logging.getLogger(__name__)

# A few phonetically broad sentences (Harvard lists) for the query voice's long-term
# cepstral statistics; said once per process (or read from the cache).
_CALIBRATION = ("The birch canoe slid on the smooth planks. Glue the sheet to the dark blue "
                "background. It's easy to tell the depth of a well. These days a chicken leg "
                "is a rare dish. Rice is often served in round bowls. The juice of lemons "
                "makes fine punch. The box was thrown beside the parked truck. The hogs were "
                "fed chopped corn and garbage. Four hours of steady work faced us. A large "
                "size in stockings is hard to sell.")


QUERY_TIMING = 0.7  # share of a new phone's duration set by the query (the rest: the rules)


@dataclass
class Around:
    """The words said with new words so the query voice gets the sentence's intonation."""

    before: list[str]
    after: list[str]
    end: str  # "." or ","
    before_s: tuple[float | None, ...] = ()  # how long the speaker took over each word
    after_s: tuple[float | None, ...] = ()  # (None: not aligned in the recording)


@dataclass
class QueryPhone:
    """One phone of the new words as the query voice said it."""

    label: str
    duration: float  # seconds
    semitones: float | None  # pitch relative to the query's own line; None when unvoiced
    cepstra: np.ndarray  # normalised c1..c12 means of its parts (units.unit_cepstra)
    glide: float | None = None  # semitones from its first third to its last (None: unvoiced)


@dataclass
class Query:
    """The query voice's rendering of new words in their sentence."""

    phones: list[QueryPhone]
    recording: Recording  # the whole query phrase, analysed, at the recording's rate
    rate: float | None = None  # the speaker's time over the query's on the shared context


class QueryVoice:
    """hibari-tts, built once per editor; `say` returns None where it cannot help (another
    language, words it cannot align)."""

    def __init__(self, aligner, language: str = "en") -> None:
        self.aligner = aligner
        self.language = language
        self.cache_dir = getattr(aligner, "cache_dir", None)
        self._tts = None
        self._stats: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._env: dict[tuple[str, int], dict[str, np.ndarray]] = {}

    @property
    def tts(self):
        """The hibari voice, loaded on first use (a cached query never needs it)."""
        if self._tts is None:
            from hibari import Hibari

            from retake.core.engines import find
            from retake.voice.engines import QUERY_ENGINES

            model = find(QUERY_ENGINES, "hibari", "query voice").files[0].locate()
            # the model path is given, so hibari never looks for (or downloads) a voice file
            self._tts = Hibari(voice="heart", model=str(model), threads=1)
        return self._tts

    def speak(self, text: str, sample_rate: int, seed: int = 0) -> np.ndarray:
        """`text` in the query voice at `sample_rate` (deterministic for a seed)."""
        from retake.align.audio import resample

        x = self.tts(text, seed=seed).astype(np.float32)
        return resample(x, self.tts.sample_rate, sample_rate)

    def recording(self, text: str, sample_rate: int, seed: int = 0) -> Recording:
        """`text` said by the query voice, aligned and analysed; cached by text, seed and
        rate (a script re-running an edit never loads the voice again)."""
        from retake.align.audio import Audio
        from retake.align.types import Alignment
        from retake.core import cache

        key = cache.content_key(np.zeros(1, np.float32), sample_rate,
                                f"query-v1:{seed}:{text}")
        hit = cache.load_arrays(self.cache_dir, "query", key)
        al = cache.load(self.cache_dir, "query", key, parse=Alignment.from_json)
        if hit is not None and al is not None and {"samples", "f0", "mfcc", "energy"} <= set(hit):
            rec = Recording(hit["samples"], sample_rate, al, hit["f0"], hit["mfcc"],
                            hit["energy"])
            from retake.voice.analysis import build_units

            rec.units = build_units(rec)
            return rec
        x = self.speak(text, sample_rate, seed)
        if len(x) < sample_rate // 10:
            raise ValueError("the query voice said nothing")
        al = self.aligner.align(Audio(x, sample_rate), text)
        rec = _analysed(x, sample_rate, al)
        cache.store_arrays(self.cache_dir, "query", key, samples=rec.samples, f0=rec.f0,
                           mfcc=rec.mfcc, energy=rec.energy)
        cache.store(self.cache_dir, "query", key, al.to_json())
        return rec

    def stats(self, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
        """The query voice's long-term cepstral mean and deviation at this sample rate."""
        mean, std, _ = self._calibration(sample_rate)
        return mean, std

    def pitch_sd(self, sample_rate: int) -> float:
        """The query voice's pitch spread (semitone SD over voiced frames)."""
        return float(self._calibration(sample_rate)[2][0])

    def _calibration(self, sample_rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if sample_rate not in self._stats:
            from retake.core import cache

            key = cache.content_key(np.zeros(1, np.float32), sample_rate,
                                    "query-stats-v2:" + _CALIBRATION)
            hit = cache.load_arrays(self.cache_dir, "features", key)
            if hit is not None and {"mean", "std", "f0sd"} <= set(hit):
                self._stats[sample_rate] = (hit["mean"], hit["std"], hit["f0sd"])
            else:
                rec = _analysed(self.speak(_CALIBRATION, sample_rate), sample_rate, None)
                mean, std = speech_stats(rec)
                f0sd = np.array([semitone_sd(rec.f0)])
                cache.store_arrays(self.cache_dir, "features", key, mean=mean, std=std,
                                   f0sd=f0sd)
                self._stats[sample_rate] = (mean, std, f0sd)
        return self._stats[sample_rate]

    def envelopes(self, sample_rate: int) -> dict[str, np.ndarray]:
        """The query voice's mean spectral envelope per phone, class and over all speech
        (voice.convert.envelopes of its calibration sentences, aligned); cached."""
        if ("env", sample_rate) not in self._env:
            from retake.align.audio import Audio
            from retake.core import cache
            from retake.voice.convert import envelopes

            key = cache.content_key(np.zeros(1, np.float32), sample_rate,
                                    "query-env-v1:" + _CALIBRATION)
            hit = cache.load_arrays(self.cache_dir, "features", key)
            if hit:
                env = {k[4:].replace("_", ":"): v for k, v in hit.items() if k.startswith("env_")}
            else:
                x = self.speak(_CALIBRATION, sample_rate)
                rec = _analysed(x, sample_rate, self.aligner.align(Audio(x, sample_rate),
                                                                   _CALIBRATION))
                env = envelopes(rec, rec.units)
                cache.store_arrays(self.cache_dir, "features", key,
                                   **{"env_" + k.replace(":", "_"): v for k, v in env.items()})
            self._env[("env", sample_rate)] = env
        return self._env[("env", sample_rate)]

    def say(self, before: list[str], words: list[str], after: list[str], end: str,
            sample_rate: int, expected: list[str], seed: int = 0,
            spoken_s: tuple[float | None, ...] = ()) -> Query | None:
        """Say `before + words + after` (ending with `end`, e.g. "." or ","), align it, and
        describe the phones of `words`; None unless they align to as many phones as the
        `expected` labels. `spoken_s`: the speaker's own durations of the `before` and
        `after` words, which set the query's `rate`."""

        if self.language != "en" or not words:
            return None
        text = " ".join([*before, *words, *after]) + end
        try:
            rec = self.recording(text, sample_rate, seed)
        except Exception as exc:  # noqa: BLE001 - a guide, never a reason to fail the edit
            log.info("query voice could not say %r: %s", text, exc)
            return None
        al = rec.alignment
        spoken = [w for w in al.words for _ in (w.spoken or [w.text])]
        if len(spoken) != len(before) + len(words) + len(after):
            return None
        mine = spoken[len(before):len(before) + len(words)]
        if not all(w.aligned and w.phones for w in mine):
            return None
        if len({id(w) for w in mine}) != len(mine):  # a token spanning several words
            return None
        phones = [p for w in mine for p in w.phones]
        # the aligner may pick another listed pronunciation ("edited": AH or IH); phone for
        # phone it still describes the same sounds, so only the count must agree
        if len(phones) != len(expected):
            return None
        mean, std = self.stats(sample_rate)
        line = _pitch_line(rec, phones[0].start, phones[-1].end)
        out = []
        for p in phones:
            f = rec.f0[rec.frame(p.start):max(rec.frame(p.end), rec.frame(p.start) + 1)]
            f = f[f > 0]
            mid = (p.start + p.end) / 2
            st = (12 * np.log2(float(np.median(f)) / line(mid))
                  if len(f) >= 2 and line(mid) > 0 else None)
            out.append(QueryPhone(p.label, p.end - p.start, st,
                                  unit_cepstra(rec, p.start, p.end, mean, std),
                                  _glide(rec, p.start, p.end)))
        context = [*spoken[:len(before)], *spoken[len(before) + len(words):]]
        pairs = [(mine_s, w.end - w.start) for mine_s, w in zip(spoken_s, context,
                                                                  strict=False)
                 if mine_s and w.aligned and w.end > w.start]
        theirs = sum(q for _, q in pairs)
        rate = (sum(m for m, _ in pairs) / theirs if theirs >= 0.3 and len(pairs) >= 2
                else None)
        return Query(out, rec, None if rate is None else float(np.clip(rate, 0.5, 2.0)))


def _glide(rec: Recording, start: float, end: float) -> float | None:
    """How far pitch moves inside a phone: semitones from the median of its first third to
    that of its last (None unless both are voiced, or beyond TRUSTED_MOVE: a tracker error)."""
    third = (end - start) / 3

    def median(a: float, b: float) -> float | None:
        f = rec.f0[rec.frame(a):max(rec.frame(b), rec.frame(a) + 1)]
        f = f[f > 0]
        return float(np.median(f)) if len(f) >= 2 else None

    a, b = median(start, start + third), median(end - third, end)
    if a is None or b is None:
        return None
    g = 12 * float(np.log2(b / a))
    return g if abs(g) <= TRUSTED_MOVE else None


def query_glides(query: Query, ratio: float) -> list[float]:
    """Each new phone's pitch glide from the query (semitones, scaled by `ratio`, within
    ±MAX_MOVE); 0 where it was unvoiced."""
    return [float(np.clip(ratio * p.glide, -MAX_MOVE, MAX_MOVE)) if p.glide is not None
            else 0.0 for p in query.phones]


def semitone_sd(f0: np.ndarray) -> float:
    """Standard deviation of voiced pitch in semitones (0 when almost nothing is voiced)."""
    v = f0[f0 > 0]
    return float(np.std(12 * np.log2(v))) if len(v) >= 10 else 0.0


TRUSTED_MOVE = 9.0  # semitones from the query's pitch line beyond which its tracker erred
MAX_MOVE = 7.0  # the most a new phone's pitch moves from the speaker's line, in semitones


def query_moves(query: Query, ratio: float) -> np.ndarray | None:
    """The query's pitch movement per phone (semitones around its line) scaled by `ratio`,
    unvoiced phones filled from their voiced neighbours; None if it voiced nothing.

    A phone more than TRUSTED_MOVE from the line is a halved or doubled pitch (the query
    voice creaks at phrase ends: "slightly," fell 14 st, which made a 28 Hz target), so it
    counts as unvoiced; the scaled moves stay within MAX_MOVE."""
    st = [p.semitones for p in query.phones]
    known = [k for k, v in enumerate(st) if v is not None and abs(v) <= TRUSTED_MOVE]
    if not known:
        return None
    idx = np.arange(len(st))
    filled = np.interp(idx, known, [st[k] for k in known])
    return np.clip(ratio * filled, -MAX_MOVE, MAX_MOVE)


_FORMANTS: dict[bytes, np.ndarray] = {}  # median F2, F3 by a digest of the audio measured


def formant_ratio(query: Recording, rec: Recording, seconds: float = 12.0) -> float:
    """How much higher the query voice's formants sit than the speaker's (median F2 and F3
    over voiced frames of the first `seconds`, geometric mean of the two ratios; 0.75-1.33):
    a vocal-tract length to undo, so a borrowed phone does not keep another person's
    resonances. The speaker's are measured once per process."""
    import hashlib

    import parselmouth

    def formants(r: Recording) -> np.ndarray:
        n = min(len(r.samples), int(seconds * r.sample_rate))
        key = hashlib.blake2b(r.samples[:n].tobytes(), digest_size=16).digest()
        if key not in _FORMANTS:
            _FORMANTS[key] = measure(r, n)
        return _FORMANTS[key]

    def measure(r: Recording, n: int) -> np.ndarray:
        snd = parselmouth.Sound(r.samples[:n].astype(np.float64), r.sample_rate)
        fm = snd.to_formant_burg(time_step=0.01, max_number_of_formants=5,
                                 maximum_formant=5500.0)
        voiced = [t for t in fm.xs() if r.f0[r.frame(t)] > 0]
        out = [[fm.get_value_at_time(k, t) for k in (2, 3)] for t in voiced]
        return np.nanmedian(np.array(out, dtype=np.float64), axis=0) if out else np.zeros(2)

    q, s = formants(query), formants(rec)
    if not (np.all(q > 0) and np.all(s > 0)):
        return 1.0
    return float(np.clip(np.sqrt(np.prod(q / s)), 0.75, 1.33))


def converted(query: Recording, rec: Recording, query_env: dict[str, np.ndarray] | None = None,
              units: list | None = None) -> Recording:
    """The query phrase made to sit in the speaker's recording: its formants shifted and
    its pitch moved to the speaker's (Praat's "Change gender": resampling plus PSOLA, timing
    kept), then its spectrum made the speaker's phone by phone (voice.convert: the query
    voice's envelopes `query_env` against those of the speaker's `units`) or, without them,
    its long-term spectrum matched; at the speaker's speech level. Each borrowed phone's own
    pitch and duration are then set by PSOLA, like any unit."""
    import parselmouth
    from parselmouth.praat import call, run

    from retake.voice import convert
    from retake.voice.render import match_envelope

    # Praat's overlap-add draws random numbers for unvoiced stretches: seed it, so the same
    # edit converts the same way (two cold runs of one edit differed without this)
    run("random_initializeWithSeedUnsafelyButPredictably (0)")
    shift = 1.0 / formant_ratio(query, rec)
    snd = parselmouth.Sound(query.samples.astype(np.float64), query.sample_rate)
    moved = call(snd, "Change gender", 75, 600, shift, rec.median_f0(), 1.0, 1.0)
    x = moved.values[0].astype(np.float32)[: len(query.samples)]
    x = np.pad(x, (0, len(query.samples) - len(x)))
    gain = (convert.gains(convert.envelopes(rec, units), convert.warped(query_env, shift))
            if query_env and units else {})
    if gain:
        phones = [(p.label, p.start, p.end) for p in query.alignment.phones()]
        x = convert.apply(x, query.sample_rate, phones, gain)
    else:
        x = match_envelope(x, rec)
    gain_db = rec.speech_level() - query.speech_level()
    return _analysed((x * 10 ** (gain_db / 20)).astype(np.float32), query.sample_rate,
                     query.alignment)


def _analysed(x: np.ndarray, sample_rate: int, alignment) -> Recording:
    """Features (and units, when aligned) of query speech; never cached (it is new each time)."""
    from retake.align.types import Alignment
    from retake.voice.analysis import _features, build_units

    al = alignment if alignment is not None else Alignment([], len(x) / sample_rate)
    rec = _features(x, sample_rate, al)
    rec.units = build_units(rec) if alignment is not None else []
    return rec


def _pitch_line(rec: Recording, t0: float, t1: float):
    """The query's pitch line across the new words: the straight line (in log F0) through
    its pitch just before and just after them (its phrase median where one side has none).
    The new words' movement around this line is what gets transposed to the speaker."""
    f = rec.f0
    voiced = f[f > 0]
    median = float(np.median(voiced)) if len(voiced) else 0.0

    def edge(a: float, b: float) -> float:
        seg = f[max(0, rec.frame(a)):max(rec.frame(b), 0)]
        seg = seg[seg > 0]
        return float(np.median(seg)) if len(seg) >= 2 else median

    left = edge(t0 - 0.08, t0 + 0.04)
    right = edge(t1 - 0.04, t1 + 0.08)
    if left <= 0 or right <= 0:
        return lambda t: median
    span = max(t1 - t0, HOP_S)

    def line(t: float) -> float:
        frac = min(max((t - t0) / span, 0.0), 1.0)
        return left * (right / left) ** frac

    return line
