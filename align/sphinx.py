"""The default alignment engine: pocketsphinx 5 with its bundled en-US acoustic model.

Three searches over one decoder, all on 16 kHz mono audio with 10 ms frames:

* `align`: the transcript's words in order (pocketsphinx's alignment search), then a second
  pass for phone and state timings (`set_alignment`, which needs `bestpath=False`).
* `align_prefix`: the words in order, but the speech may end after any of them; used to cut
  a long recording into pieces without knowing in advance which words each piece holds.
* `align_robust`: words may be skipped, and a free phone loop ("garbage") may sit between
  any two words; used where the plain alignment's scores collapse, so that missing or
  extra speech is found instead of smearing the neighbouring words.

Decoders dither the input (seeded, so results repeat): stretches of exact digital silence,
common in edited or padded audio, otherwise break the search.

Word scores are pocketsphinx acoustic scores relative to the best senone of each frame,
so `score / frames` is a goodness-of-pronunciation measure: near 0 for a clean match,
strongly negative where the words do not fit the sound.
"""

from __future__ import annotations

import logging

import numpy as np

from retake.align.chunks import FRAME
from retake.align.g2p import ARPABET, g2p
from retake.align.timing import PhoneTiming, RobustItem, WordTiming
from retake.core.errors import EngineUnavailable

log = logging.getLogger(__name__)

_FILLERS = {"<s>", "</s>", "<sil>", "[NOISE]", "[SPEECH]", "(NULL)"}
_GARBAGE_PREFIX = "+gb+"
_MAX_SKIP = 80  # longest run of words the robust search can skip in one step
_MIN_SHARE = 0.7  # a piece holds at least this share of its expected words


class SphinxEngine:
    """pocketsphinx alignment and recognition for one language (English only for now)."""

    name = "pocketsphinx"
    frame = FRAME  # seconds per frame of the timings it returns (its model's 10 ms)

    def __init__(self, language: str = "en") -> None:
        if language.lower() not in ("en", "en-us", "en_us"):
            raise EngineUnavailable(
                f"the pocketsphinx engine has an English model only, not {language!r}; "
                "choose another engine with --engine"
            )
        import pocketsphinx as ps

        self._ps = ps
        self.language = language
        self._decoder = ps.Decoder(
            bestpath=False, lm=None, beam=1e-100, pbeam=1e-100, wbeam=1e-80, fillprob=1e-40,
            dither=True, seed=1, loglevel="FATAL",
        )
        self._known: dict[str, str] = {}
        self._garbage_ready = False
        self._recognizer = None

    # ---- pronunciations -------------------------------------------------------------

    def has_word(self, word: str) -> bool:
        """Whether the pronouncing dictionary (or an earlier G2P) knows `word`."""
        return self._decoder.lookup_word(word) is not None

    def pronunciation(self, word: str) -> list[str]:
        """ARPAbet phones for `word` (dictionary first, then espeak-ng G2P)."""
        known = self._decoder.lookup_word(word)
        if known is not None:
            return known.split()
        return g2p(word, self.language)

    def vocab_name(self, word: str) -> str:
        """The decoder's name for `word`, adding a G2P pronunciation if the dictionary lacks it."""
        if word in self._known:
            return self._known[word]
        name = word
        if self._decoder.lookup_word(word) is None:
            phones = [p for p in g2p(word, self.language) if p in ARPABET]
            if not phones:
                phones = ["AH"]
            self._decoder.add_word(word, " ".join(phones), True)
            log.info("pronunciation for %r from G2P: %s", word, " ".join(phones))
        self._known[word] = name
        return name

    # ---- searches -------------------------------------------------------------------

    def _run(self, pcm: bytes, search: bool = True) -> bool:
        """Decode `pcm` as one utterance; after a search pass, say whether it found a path.

        Never call `hyp()` after the sub-word alignment pass: pocketsphinx crashes there.
        """
        d = self._decoder
        # Each utterance from the same state: the front end's dither generator and the
        # cepstral mean otherwise carry over from the one before, so the same audio
        # aligned twice in one process (a second render in the studio) came out different.
        d.reinit_feat()
        d.start_utt()
        d.process_raw(pcm, full_utt=True)
        d.end_utt()
        return d.hyp() is not None if search else True

    def _second_pass(self, pcm: bytes, words: list[str], entry: int = 0, slack: int = 0
                     ) -> list[WordTiming]:
        """Phone-level alignment of the hypothesis just decoded; map words back to indices.

        The hypothesis is a contiguous run of `words` starting within `slack` of `entry`;
        the start that matches the whole run, nearest to `entry`, is taken.
        """
        d = self._decoder
        d.set_alignment()
        self._run(pcm, search=False)
        # Read everything in one pass: pocketsphinx's alignment iterators must not outlive
        # the loop that walks them (keeping entries around and reading them later crashes).
        entries = [(w.name, w.start, w.duration, float(w.score),
                    [PhoneTiming(p.name, p.start, p.start + p.duration) for p in w])
                   for w in d.get_alignment()]
        hyp = [e[0].split("(")[0] for e in entries if e[0] not in _FILLERS]
        names = [self._known.get(w, w) for w in words]
        starts = [j for j in range(max(0, entry - slack), min(len(names), entry + slack + 1))
                  if names[j:j + len(hyp)] == hyp]
        j = min(starts, key=lambda k: abs(k - entry)) if starts else entry
        out: list[WordTiming] = []
        for name, start, duration, score, phones in entries:
            if name in _FILLERS:
                out.append(WordTiming(-1, start, start + duration, score, []))
                continue
            if j >= len(words):
                break
            out.append(WordTiming(j, start, start + duration, score, phones))
            j += 1
        return out

    @staticmethod
    def _pcm(audio: np.ndarray) -> bytes:
        return (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()

    def align(self, audio: np.ndarray, words: list[str]) -> list[WordTiming] | None:
        """Align all `words` in order to 16 kHz `audio`; None if the search fails."""
        if not words:
            return []
        names = [self.vocab_name(w) for w in words]
        pcm = self._pcm(audio)
        try:
            self._decoder.set_align_text(" ".join(names))
            if not self._run(pcm):
                return None
            return self._second_pass(pcm, words)
        except RuntimeError as exc:
            log.info("alignment search failed: %s", exc)
            return None

    def align_prefix(
        self, audio: np.ndarray, words: list[str], expected: float | None = None,
        entry: int = 0, slack: int = 0, entry_cost: float = 0.3,
    ) -> list[WordTiming] | None:
        """Align a run of `words` to all of `audio`: it starts at word `entry` (or up to
        `slack` words either side of it, at `entry_cost` per word) and may end after any word.

        Returns the timings of the words the speech covers; the caller continues from the
        last one returned. The start slack lets a piece of a long recording make up for a
        previous piece that took a few words too many or too few. `expected` (a word count)
        forbids ending before `_MIN_SHARE` of it and puts a soft prior against ending short
        of it: otherwise the search may end early by letting silence swallow speech the
        model fits poorly (synthetic or noisy speech fits silence about as well as words).
        """
        if not words:
            return []
        names = [self.vocab_name(w) for w in words]
        n = len(names)
        final, start = n + 1, n + 2
        transitions = []
        earliest = entry + (max(1, int(_MIN_SHARE * expected)) if expected else 1)
        for i, name in enumerate(names):
            if i >= entry - slack:
                transitions.append((i, i + 1, 1.0, name))
            if abs(i - entry) <= slack:  # enter here, without a null arc (see set_alignment)
                transitions.append((start, i + 1, entry_cost ** abs(i - entry), name))
            if i + 1 < min(earliest, n) or i < entry - slack:
                continue  # too early to end: silence would be swallowing speech
            prior = 1.0
            if expected and i + 1 - entry < expected:
                z = (expected - (i + 1 - entry)) / (0.3 * expected)
                prior = max(float(np.exp(-0.5 * z * z)), 1e-30)
            transitions.append((i, final, prior, name))
        pcm = self._pcm(audio)
        try:
            fsg = self._decoder.create_fsg("prefix", start, final, transitions)
            self._decoder.add_fsg("prefix", fsg)
            self._decoder.activate_search("prefix")
            if not self._run(pcm):
                return None
            return self._second_pass(pcm, words, entry, slack)
        except RuntimeError as exc:
            log.info("prefix search failed: %s", exc)
            return None

    def _ensure_garbage(self) -> None:
        if not self._garbage_ready:
            for p in ARPABET:
                self._decoder.add_word(_GARBAGE_PREFIX + p, p, False)
            self._decoder.add_word(_GARBAGE_PREFIX + "SIL", "SIL", True)
            self._garbage_ready = True

    def align_robust(
        self,
        audio: np.ndarray,
        words: list[str],
        skip_prob: float = 1e-8,
        garbage_prob: float = 1e-10,
    ) -> list[RobustItem] | None:
        """Align `words` allowing any word to be missing and untranscribed sound between words.

        Returns words found (with their index) and garbage spans, in time order. Timings are
        word-level only; call `align` on a run of found words for phones.
        """
        self._ensure_garbage()
        names = [self.vocab_name(w) for w in words]
        n = len(names)
        # Word states 0..n. A null arc from each state to every later state (up to
        # `_MAX_SKIP` words ahead) lets any run of words be skipped for one penalty, however
        # long the run, so a missing sentence costs no more than a missing word and the search
        # does not prune the path that skips it. (pocketsphinx follows one null arc per word
        # exit, so the arcs go direct rather than through a chain.)
        transitions = []
        for i, name in enumerate(names):
            transitions.append((i, i + 1, 1.0, name))
            for j in range(i + 1, min(n, i + _MAX_SKIP) + 1):
                transitions.append((i, j, skip_prob))
        for s in range(n + 1):
            for p in ARPABET:
                transitions.append((s, s, garbage_prob, _GARBAGE_PREFIX + p))
        pcm = self._pcm(audio)
        try:
            fsg = self._decoder.create_fsg("robust", 0, n, transitions)
            self._decoder.add_fsg("robust", fsg)
            self._decoder.activate_search("robust")
            if not self._run(pcm):
                return None
            segs = [(s.word, s.start_frame, s.end_frame + 1) for s in self._decoder.seg()]
        except RuntimeError as exc:
            log.info("robust search failed: %s", exc)
            return None
        items: list[RobustItem] = []
        i = 0
        for word, start, end in segs:
            if word.startswith(_GARBAGE_PREFIX):
                if items and items[-1].index is None and items[-1].end >= start - 1:
                    items[-1].end = end
                else:
                    items.append(RobustItem(None, start, end))
                continue
            if word in _FILLERS:
                continue
            base = word.split("(")[0]
            while i < n and names[i] != base:
                i += 1
            if i >= n:
                break
            items.append(RobustItem(i, start, end))
            i += 1
        return items

    # ---- recognition ----------------------------------------------------------------

    def recognize(self, audio: np.ndarray) -> list[tuple[str, int, int, float]]:
        """Open-vocabulary recognition with the bundled language model.

        Returns (word, start frame, end frame, posterior) for each recognised word.
        """
        if self._recognizer is None:
            self._recognizer = self._ps.Decoder(dither=True, seed=1, loglevel="FATAL")
        d = self._recognizer
        d.reinit_feat()  # from the same state every call (see `_run`)
        d.start_utt()
        d.process_raw(self._pcm(audio), full_utt=True)
        d.end_utt()
        if d.hyp() is None:
            return []
        lmath = d.get_logmath()
        out = []
        for s in d.seg():
            if s.word in _FILLERS or s.word.startswith("["):
                continue
            post = float(min(1.0, max(0.0, lmath.exp(s.prob))))
            out.append((s.word.split("(")[0], s.start_frame, s.end_frame + 1, post))
        return out
