"""The records an edit produces and takes: options, result, takes, and its error."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from retake.align.types import Alignment
from retake.awareness.provenance import Provenance
from retake.core.errors import RetakeError
from retake.voice.report import EditReport
from retake.voice.timemap import TimeMap


class EditError(RetakeError):
    """The edit cannot be made (empty, unsupported text, recording too short)."""


# What a user may set on new words, with its type and range (CLI, scripts and studio alike).
OPTION_RANGES: dict[str, tuple[type, float | None, float | None]] = {
    "engine": (str, None, None),
    "takes": (int, 1, 10),
    "pitch": (float, -12.0, 12.0),
    "emphasis": (float, 0.0, 1.0),
    "speed": (float, 0.5, 2.0),
    "reuse": (bool, None, None),
    "own_phones": (bool, None, None),
    "seed": (int, 0, 2**31 - 1),
}


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
    query: bool = True  # a neural voice says the phrase first to guide selection (voice.query)
    own_phones: bool = False  # the query voice lends only phones the speaker never said
    watermark: bool = True  # mark every synthesized span (awareness/watermark.py)
    seed: int = 0  # the same seed, input and options give the same audio; another, a variant
    use_takes: tuple[int, ...] = ()  # per synthesized span, the take (0 = best) to place
    # leave the result's samples a `voice.joined.Joined` (the edit computed a stretch at a
    # time as it is read) instead of one array: a long edit is written without a copy
    stream: bool = False


@dataclass
class Take:
    """One rendering of an inserted span, with its quality score (lower is better)."""

    samples: np.ndarray
    score: float


@dataclass
class EditResult:
    """The edited recording and everything that describes it."""

    samples: np.ndarray  # a voice.joined.Joined (sliceable) with EditOptions.stream
    sample_rate: int
    alignment: Alignment
    timemap: TimeMap
    report: EditReport
    takes: list[list[Take]] = field(default_factory=list)  # per inserted span, best first
    provenance: Provenance | None = None  # consent and inputs, for the written file's credentials


