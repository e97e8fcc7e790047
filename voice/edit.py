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
import re

import numpy as np

from retake.align.aligner import Aligner
from retake.align.audio import Audio
from retake.align.normalize import tokenize
from retake.core.errors import TranscriptError
from retake.core.version import __version__
from retake.voice.analysis import Recording, analyse
from retake.voice.assembly import Assembly, old_words
from retake.voice.joined import Joined, materialize
from retake.voice.plan import Op, as_recorded, diff
from retake.voice.records import EditError, EditOptions, EditResult, Take
from retake.voice.units import Inventory

log = logging.getLogger(__name__)
_UNSET = object()

MIN_RECORDING_S = 3.0
MIN_MARK_S = 6.0  # s of audio marked around each synthesized span (see _watermark)

__all__ = ["EditError", "EditOptions", "EditResult", "Editor", "Take"]


class Editor:
    """Loads recordings (aligned and analysed, cached) and edits them by text."""

    def __init__(self, aligner: Aligner | None = None, language: str = "en",
                 cache_dir=None) -> None:
        self.aligner = aligner or Aligner(language=language, cache_dir=cache_dir)
        self.language = language
        self._coqui: dict[str, object] = {}
        self._ear: object = _UNSET  # loaded on first use
        self._encoder = None
        self._query: object = _UNSET  # loaded on first use

    def ear(self):
        """The independent recogniser (Whisper, the transcriber registry's), loaded once;
        None when it cannot run here (checks then say "not checked")."""
        if self._ear is _UNSET:
            from retake.align.engines import TRANSCRIBE_ENGINES
            from retake.core.engines import build
            from retake.core.errors import EngineUnavailable

            try:
                self._ear = build(TRANSCRIBE_ENGINES, "whisper", "transcription",
                                  language=self.language)
            except EngineUnavailable:
                self._ear = None
        return self._ear

    def query_voice(self):
        """The query voice that guides unit selection (voice.query, hibari-tts), loaded
        once; None when it cannot run here or does not speak the language."""
        if self._query is _UNSET:
            from retake.core.engines import build
            from retake.core.errors import EngineUnavailable
            from retake.voice.engines import QUERY_ENGINES

            self._query = None
            if self.language == "en":
                try:
                    self._query = build(QUERY_ENGINES, "hibari", "query voice",
                                        aligner=self.aligner, language=self.language)
                except EngineUnavailable:
                    self._query = None
        return self._query

    def speaker_encoder(self):
        """The speaker encoder (awareness.speaker), loaded once."""
        if self._encoder is None:
            from retake.awareness.speaker import SpeakerEncoder

            self._encoder = SpeakerEncoder()
        return self._encoder

    def coqui(self, spec: str):
        """The coqui-tts model `spec` (a local folder), loaded once (see voice.coqui)."""
        if spec not in self._coqui:
            from retake.core.engines import build
            from retake.voice.engines import VOICE_ENGINES

            self._coqui[spec] = build(VOICE_ENGINES, f"coqui:{spec}", "voice")
        return self._coqui[spec]

    def load(self, audio: Audio, transcript: str, progress=None,
             min_seconds: float = MIN_RECORDING_S, check_transcript: bool = True
             ) -> Recording:
        """Align and analyse a recording so it can be edited (or lend its phones).

        With `check_transcript`, an independent recogniser must hear the transcript in the
        recording (`align.agreement`): a wrong transcript or speech in another language is
        refused, a doubtful one goes ahead with a warning in the edit's report."""
        if audio.duration < min_seconds:
            raise EditError(f"the recording is too short to clone from ({audio.duration:.1f} s);"
                            f" give at least {MIN_RECORDING_S:.0f} s of speech, better 20 s+")
        al = self.aligner.align(audio, transcript, progress=progress)
        rec = analyse(audio.samples, audio.sample_rate, al, self.aligner.cache_dir)
        if check_transcript:
            from retake.align.agreement import transcript_agreement

            rec.agreement = transcript_agreement(audio, al, cache_dir=self.aligner.cache_dir,
                                                 ear=self.ear,
                                                 pronounce=self.aligner.engine.pronunciation)
            if rec.agreement.verdict == "mismatch":
                raise EditError(f"the transcript does not match the recording: "
                                f"{rec.agreement.explain()}. Check the transcript, and that "
                                "the speech is English (the only language the aligner knows)")
            if rec.agreement.verdict == "doubtful":
                log.warning("the transcript may not match the recording: %s",
                            rec.agreement.explain())
        return rec

    # ---- the edit --------------------------------------------------------------------

    def edit(self, rec: Recording, new_text: str, options: EditOptions = EditOptions(),
             voices: list[Recording] = ()) -> EditResult:
        """Make the recording say `new_text`. `voices` are more recordings of the same
        speaker (a voice profile) whose phones unit selection may also use."""
        if not new_text or not new_text.strip():
            raise EditError("the new text is empty; to delete everything, just don't")
        tokens = tokenize(new_text, self.language, is_word=self.aligner.engine.has_word)
        tokens = as_recorded(tokens, rec.alignment.words)
        new_words = [w for t in tokens for w in t.spoken]
        if not new_words:
            raise TranscriptError("the new text holds no words that can be spoken")
        _check_script(new_words, self.language)
        old = old_words(rec)
        ops = diff([o.text for o in old], new_words)
        if all(op.kind == "keep" for op in ops):
            raise EditError("the new text says the same words as the recording; nothing to do")
        inv = Inventory([rec, *(_at_rate(v, rec.sample_rate) for v in voices)],
                        list(options.exclude))
        result = Assembly(self, rec, old, inv, options).run(ops, tokens, new_text)
        agreement = getattr(rec, "agreement", None)
        if agreement is not None:
            result.report.transcript = {"heard_share": agreement.share,
                                        "verdict": agreement.verdict,
                                        "note": agreement.explain()}
        return _finish(_watermark(result, new_text) if options.watermark else result, options)


    def rebuild(self, rec: Recording, i0: int, i1: int, options: EditOptions = EditOptions()
                ) -> EditResult:
        """Re-make the recording's own spoken words [i0, i1) from text, in place.

        For the reconstruction benchmark: call it with `reuse=False` and the words' own
        audio in `options.exclude`, so the synthesizer never sees what it rebuilds.
        """
        old = old_words(rec)
        words = [o.text for o in old[i0:i1]]
        ops = ([Op("keep", 0, i0)] if i0 > 0 else []) + [Op("replace", i0, i1, words)]
        ops += [Op("keep", i1, len(old))] if i1 < len(old) else []
        text = " ".join(o.text for o in old)
        tokens = tokenize(text, self.language, is_word=self.aligner.engine.has_word)
        inv = Inventory(rec, list(options.exclude))
        result = Assembly(self, rec, old, inv, options).run(ops, tokens, text)
        return _finish(_watermark(result, text) if options.watermark else result, options)

    def pending(self, rec: Recording, new_text: str) -> list:
        """What `edit(rec, new_text)` would change, as `voice.pending.Segment`s (the same
        tokenizer and word diff, before any audio work)."""
        from retake.voice.pending import pending

        return pending(rec.alignment, new_text, self.language,
                       is_word=self.aligner.engine.has_word)

    def old_words(self, rec: Recording) -> list[tuple[str, float, float]]:
        """The recording's spoken words with their times (as `rebuild` indexes them)."""
        return [(o.text, o.start, o.end) for o in old_words(rec)]


MARK_CONTEXT_S = 1.0  # audio either side of a marked window given to the embedder


def _watermark(result: EditResult, text: str) -> EditResult:
    """Mark every synthesized span with Retake's watermark (version and an edit id).

    The edit id is a hash of the new text and the result's length, so the same edit marks
    the same way and different edits differ; the report records it. The mark needs about a
    second to be found again (two of its 0.48 s blocks) in clean audio, and far more in
    noise: at 10 dB SNR (a re-recording in a noisy room) its payload came back from 7 of 23
    real speech files marked for 2 s, 15 of 19 marked for 4 s and 13 of 14 marked for 6 s
    (bench/watermark.py). A replaced word lasts a fraction of that, so each span is marked
    with at least MIN_MARK_S around it (clipped to the file: a short file is marked whole);
    overlapping marks merge. The mark is as faint over the context as over the new words;
    the exact synthesized spans stay in the report.
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
    # Each window is marked in a stretch with MARK_CONTEXT_S of context either side, written
    # back in place: a long recording is not copied once per window.
    samples = result.samples  # fresh from the assembly: a Joined, patched where written
    if not isinstance(samples, Joined):
        samples = samples.astype(np.float32, copy=False)
    sr = result.sample_rate
    for a, b in windows:
        i0 = max(0, int((a - MARK_CONTEXT_S) * sr))
        i1 = min(len(samples), int(np.ceil((b + MARK_CONTEXT_S) * sr)))
        try:
            samples[i0:i1] = embed(samples[i0:i1], sr, payload, a - i0 / sr, b - i0 / sr)
        except WatermarkError as exc:  # e.g. a sample rate too low for the band
            log.warning("could not watermark %.2f-%.2f s: %s", a, b, exc)
    result.samples = samples
    result.report.watermark = {"version": payload.version, "edit_id": edit_id,
                               "marked": [[round(a, 3), round(b, 3)] for a, b in windows]}
    return result


def _finish(result: EditResult, options: EditOptions) -> EditResult:
    """The result with its samples as one array, unless the options ask to stream them."""
    if not options.stream:
        result.samples = materialize(result.samples)
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


