"""Long recordings are aligned piece by piece, cut at pauses, without losing accuracy."""

from __future__ import annotations

import difflib

import numpy as np
import pytest

from retake.align import Aligner, Audio
from retake.align.audio import resample
from retake.align.chunks import cut_points

SENTENCES = [
    "Rivers carry sand and stones from the mountains down to the sea.",
    "Over many years the water shapes deep valleys and wide plains.",
    "Farmers have always settled near rivers because the soil is rich.",
    "Cities grew where boats could stop to trade grain, wool and timber.",
    "Bridges, mills and harbours changed the rivers as much as the rivers changed them.",
    "Today engineers measure the flow every hour to warn towns of floods.",
    "A sudden storm can raise the level of a small stream within minutes.",
    "Dams store water for dry summers and produce electricity as well.",
    "Fish such as salmon swim upstream every autumn to lay their eggs.",
    "Children still love to throw flat pebbles and count how often they skip.",
]
RATE = 16000


@pytest.fixture(scope="module")
def long_recording(speech):
    """About two and a half minutes: the sentences read three times, pauses between them."""
    pieces, refs, texts, t = [], [], [], 0.0
    rng = np.random.default_rng(7)
    for rep in range(3):
        for k, text in enumerate(SENTENCES):
            synth, ref = speech(text, rate_wpm=150 + 10 * ((rep + k) % 3))
            x = resample(synth.audio, synth.sample_rate, RATE)
            refs += [(text[c:].split()[0].strip(".,").lower(), s + t)
                     for c, s in sorted(ref.items())]
            texts.append(text)
            pause = np.zeros(int(RATE * rng.uniform(0.3, 0.9)), np.float32)
            pieces += [x, pause]
            t += (len(x) + len(pause)) / RATE
    audio = Audio(np.concatenate(pieces), RATE)
    return audio, " ".join(texts), refs


def test_cuts_fall_in_pauses(long_recording):
    audio, _, refs = long_recording
    cuts = cut_points(audio.samples, RATE)
    assert len(cuts) >= 4
    starts = np.array([r[1] for r in refs])
    for c in cuts:
        t = c / RATE
        assert 17 <= t - (cuts[cuts.index(c) - 1] / RATE if cuts.index(c) else 0) <= 35
        frame = audio.samples[c - 160:c + 160]
        assert np.sqrt(np.mean(frame ** 2)) < 0.01  # silence at the cut
        assert np.min(np.abs(starts - t)) > 0.02


def test_long_recording_aligns_as_well_as_short_ones(long_recording):
    audio, text, refs = long_recording
    al = Aligner().align(audio, text)
    assert all(w.aligned for w in al.words)
    assert not al.unaligned, al.unaligned
    hyp = [(w.text.lower(), w.start) for w in al.words]
    sm = difflib.SequenceMatcher(a=[r[0] for r in refs], b=[h[0] for h in hyp], autojunk=False)
    errs = [abs(refs[a + k][1] - hyp[b + k][1]) for a, b, n in sm.get_matching_blocks()
            for k in range(n)]
    assert len(errs) >= 0.95 * len(al.words)
    assert np.mean(errs) < 0.035 and np.percentile(errs, 95) < 0.08, np.mean(errs)
    starts = [w.start for w in al.words]
    assert starts == sorted(starts)
