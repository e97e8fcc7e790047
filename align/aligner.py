"""Forced alignment of a transcript to speech: the steps around the engine.

1. Normalize the transcript into the user's tokens and the words a speaker says for them.
2. Cut long audio at pauses; align piece by piece, each piece taking the leading run of the
   remaining words that its speech covers (so memory stays bounded and time stays linear).
3. Score each word (acoustic fit per frame). Where scores collapse (missing words, extra
   speech, noise, music) re-align just that stretch with a search that may skip words and
   absorb untranscribed sound, so the neighbours keep their true times.
4. Map the spoken words back to the user's tokens.

Boundary accuracy is pocketsphinx's. Tried and measured on the MFA benchmark files, none of
these brought boundaries closer to MFA's: energy-based snapping of word edges next to pauses
(worse), a per-recording monophone HMM re-trained on the first alignment (±1 ms), skip
transitions for shorter phones (worse), averaging alignments at shifted frame phases (worse:
the references share the 10 ms grid), vocal-tract-length normalisation (no change).
"""

from __future__ import annotations

import warnings

import numpy as np

from retake.align.audio import ALIGN_RATE, Audio, resample
from retake.align.chunks import FRAME, HOP, frame_energy_db
from retake.align.fit import LocalLimits, Pause, Result, speech_band_db
from retake.align.normalize import Token, tokenize
from retake.align.pieces import align_pieces
from retake.align.repair import noisy_pauses, repair
from retake.align.speech_check import require_speech
from retake.align.types import Alignment, Phone, Span, Word
from retake.core import cache
from retake.core.engines import build
from retake.core.errors import AlignmentError, AudioError, EngineUnavailable, TranscriptError
from retake.core.progress import Progress

ALGORITHM_VERSION = 3


def speech_seconds(x: np.ndarray, sample_rate: int = ALIGN_RATE) -> float:
    """Seconds of speech silero-vad finds in `x` (a neural voice activity detector)."""
    import torch
    from silero_vad import get_speech_timestamps, load_silero_vad

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit deprecation notice inside silero-vad
        model = load_silero_vad()
    with torch.inference_mode():
        stamps = get_speech_timestamps(torch.from_numpy(np.ascontiguousarray(x)), model,
                                       sampling_rate=sample_rate)
    return sum(s["end"] - s["start"] for s in stamps) / sample_rate


def _check_speech(x: np.ndarray, results: list, limits: LocalLimits) -> None:
    """When the alignment fits poorly, make sure there is speech at all (noise, tones and
    music can fit a few words by accident)."""
    found = [r for r in results if r.found]
    fit = np.mean([limits.at(r.start).confidence(r.spf) for r in found]) if found else 0.0
    if len(found) >= 0.8 * len(results) and fit >= 0.6:
        return
    if speech_seconds(x) < 0.3:
        raise AudioError("no speech found in the audio (only noise, tones or music); "
                         "nothing to align")


def _try_alternatives(engine, x: np.ndarray, tokens: list[Token], words: list[str],
                      results: list, spans: list[Span], limits: LocalLimits) -> dict:
    """For a token not heard as first read, try its other readings ("i.e." said "i e")
    between its neighbours. Returns {token index: (reading, results)} for readings that fit;
    the untranscribed sound they explain is dropped from `spans`."""
    chosen: dict[int, tuple[tuple[str, ...], list]] = {}
    starts, k = [], 0
    for t in tokens:
        starts.append(k)
        k += len(t.spoken)
    for ti, t in enumerate(tokens):
        rs = results[starts[ti]:starts[ti] + len(t.spoken)]
        if not t.alternatives or not rs or any(r.found for r in rs):
            continue
        before = [j for j in range(starts[ti] - 1, -1, -1) if results[j].found][:1]
        after = [j for j in range(starts[ti] + len(t.spoken), len(words)) if results[j].found][:1]
        t0 = results[before[0]].start if before else 0.0
        t1 = results[after[0]].end if after else len(x) / ALIGN_RATE
        lim = limits.at((t0 + t1) / 2)
        for alt in t.alternatives:
            seq = [words[j] for j in before] + list(alt) + [words[j] for j in after]
            s0 = int(t0 * ALIGN_RATE) // HOP * HOP
            timings = engine.align(x[s0:int(t1 * ALIGN_RATE)], seq) or []
            got = [u for u in timings if u.index >= 0]
            if len(got) != len(seq) or not all(u.score_per_frame > lim.bad_run for u in got):
                continue
            inner = got[len(before):len(got) - len(after)]
            off = s0 // HOP
            alt_results = [Result((u.start + off) * FRAME, (u.end + off) * FRAME,
                                   [Phone(p.label, (p.start + off) * FRAME, (p.end + off) * FRAME)
                                    for p in u.phones], u.score_per_frame) for u in inner]
            chosen[ti] = (alt, alt_results)
            a, b = alt_results[0].start, alt_results[-1].end
            spans[:] = [sp for sp in spans
                        if not (sp.kind == "untranscribed" and sp.start < b and sp.end > a)]
            break
    return chosen


def _to_words(tokens: list[Token], results: list, limits: LocalLimits, chosen: dict
              ) -> tuple[list[Word], list[Span]]:
    """Map spoken-word results back onto the user's tokens; list missing tokens as spans."""
    words: list[Word] = []
    spans: list[Span] = []
    k = 0
    last_end = 0.0
    for ti, t in enumerate(tokens):
        rs = results[k:k + len(t.spoken)]
        k += len(t.spoken)
        if ti in chosen:
            t = Token(t.text, t.start, t.end, chosen[ti][0], t.alternatives)
            rs = chosen[ti][1]
        hit = [r for r in rs if r.found]
        if hit:
            conf = min(limits.at(r.start).confidence(r.spf) for r in hit) * len(hit) / len(rs)
            parts = [Phone(sw, r.start, r.end) for sw, r in zip(t.spoken, rs, strict=False)
                     if r.found]
            words.append(Word(t.text, hit[0].start, hit[-1].end, conf,
                              [p for r in hit for p in r.phones], list(t.spoken),
                              t.start, t.end, True, parts))
            last_end = hit[-1].end
        else:
            words.append(Word(t.text, last_end, last_end, 0.0, [], list(t.spoken),
                              t.start, t.end, False))
    # Group consecutive unaligned tokens (that have something to say) into "missing" spans.
    i = 0
    while i < len(words):
        if words[i].aligned or not tokens[i].spoken:
            i += 1
            continue
        j = i
        while j + 1 < len(words) and not words[j + 1].aligned:
            j += 1
        nxt = next((w.start for w in words[j + 1:] if w.aligned), None)
        start = words[i].start
        end = nxt if nxt is not None else start
        text = " ".join(w.text for w in words[i:j + 1])
        spans.append(Span("missing", start, max(start, end), list(range(i, j + 1)),
                          note=f"not heard in the audio: {text!r}"))
        i = j + 1
    return words, spans


def _tidy(results: list) -> None:
    """Make found words follow each other without overlap (pieces re-aligned separately can
    overlap by a frame or two) and keep each word's phones inside it."""
    last = 0.0
    for r in results:
        if not r.found:
            continue
        r.start = max(r.start, last)
        r.end = max(r.end, r.start + FRAME)
        for p in r.phones:
            p.start = min(max(p.start, r.start), r.end)
            p.end = min(max(p.end, p.start), r.end)
        r.phones = [p for p in r.phones if p.end > p.start]
        if r.phones:
            r.phones[0].start, r.phones[-1].end = r.start, r.end
        last = r.end


class Aligner:
    """Aligns transcripts to speech with one engine, kept loaded between calls.

    Create one and reuse it for many files (the UI and the benchmark do); the module-level
    `align` function makes a fresh one per call.
    """

    def __init__(self, engine: str = "pocketsphinx", language: str = "en",
                 cache_dir=None) -> None:
        self.engine_name = engine
        self.language = language
        self.cache_dir = cache_dir
        self._engine = None

    @property
    def engine(self):
        """The loaded engine (loaded on first use, so cache hits never load it)."""
        if self._engine is None:
            from retake.align.engines import ALIGN_ENGINES

            engine = build(ALIGN_ENGINES, self.engine_name, "alignment", language=self.language)
            if abs(engine.frame - FRAME) > 1e-9:
                raise EngineUnavailable(f"the {self.engine_name} engine times in "
                                        f"{engine.frame * 1000:g} ms frames; the aligner runs "
                                        f"on {FRAME * 1000:g} ms")
            self._engine = engine
        return self._engine

    def align(self, audio: Audio, transcript: str, progress: Progress | None = None
              ) -> Alignment:
        """Align `transcript` to `audio`: words as typed, with phones, times and confidence.

        Raises AudioError for silent, too-short or speechless audio, TranscriptError for a
        transcript with nothing to say, AlignmentError when no word can be found at all.
        """
        if not transcript or not transcript.strip():
            raise TranscriptError("the transcript is empty; give the words that are spoken")
        x = resample(audio.samples, audio.sample_rate, ALIGN_RATE)
        duration = len(x) / ALIGN_RATE
        if duration < 0.2:
            raise AudioError(f"the audio is too short to align ({duration:.2f} s)")
        energy = frame_energy_db(x)
        if np.percentile(energy, 99) < -55:
            raise AudioError("the audio is silent (no sound above -55 dBFS); nothing to align")

        key = cache.content_key(x, transcript, self.language, self.engine_name,
                                ALGORITHM_VERSION)
        hit = cache.load(self.cache_dir, "align", key, parse=Alignment.from_json)
        if hit is not None:
            return hit
        require_speech(x, "align")  # noise or music: fail in seconds, not after a long run

        eng = self.engine
        tokens = tokenize(transcript, self.language, is_word=eng.has_word)
        words = [w for t in tokens for w in t.spoken]
        if not words:
            raise TranscriptError("the transcript holds no words that can be spoken")

        pauses: list[Pause] = []
        band = speech_band_db(x)
        results = align_pieces(eng, x, words, pauses, progress, energy, band)
        limits = LocalLimits(results)
        spans: list[Span] = []
        repair(eng, x, words, results, pauses, spans, limits)
        results = [r if r is not None else Result(0.0, 0.0, found=False) for r in results]
        if not any(r.found for r in results):
            raise AlignmentError(
                "none of the transcript's words could be found in the audio; "
                "check that the transcript matches the recording"
            )
        _check_speech(x, results, limits)
        _tidy(results)
        noisy_pauses(band, pauses, results, spans, limits)
        chosen = _try_alternatives(eng, x, tokens, words, results, spans, limits)
        out_words, missing = _to_words(tokens, results, limits, chosen)
        spans = sorted(spans + missing, key=lambda s: (s.start, s.end))
        text = Alignment(out_words, duration, self.language, self.engine_name, transcript,
                         spans).to_json()
        cache.store(self.cache_dir, "align", key, text)
        # What the cache gives back (times and confidences to 4 decimals), so a first run
        # and a cached one go on from the same alignment and write the same bytes.
        return Alignment.from_json(text)


def align(
    audio: Audio,
    transcript: str,
    language: str = "en",
    engine: str = "pocketsphinx",
    progress: Progress | None = None,
    cache_dir=None,
) -> Alignment:
    """Align `transcript` to `audio` (see `Aligner.align`)."""
    return Aligner(engine, language, cache_dir).align(audio, transcript, progress)
