"""Alternative takes as the studio writes them: heard in context, watermarked and signed.

An edit with several takes keeps the other renderings of each new span (`EditResult.takes`,
best first; the best is already in the edited file). Each other take is written as a short
clip: up to `CONTEXT_S` of the edited recording before the span, the take (at the level the
edit gave the best take), and up to `CONTEXT_S` after, so it is heard where it would sit. Like
the main output, the clip carries Retake's audio watermark over the take (with the same
minimum marked length, so it can be found again) and signed Content Credentials that say
which seconds are synthesized and record the consent.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from retake.awareness.provenance import Provenance

CONTEXT_S = 2.0  # s of the edited recording either side of a take
XFADE_S = 0.01  # crossfade where the take meets the context


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def take_in_context(samples: np.ndarray, sr: int, start: float, end: float,
                    best: np.ndarray, take: np.ndarray) -> tuple[np.ndarray, float, float]:
    """The take between the edited recording's context around [start, end) (where the best
    take sits), at the best take's level. Returns the clip and the take's span in it (s)."""
    s0, s1 = int(round(start * sr)), int(round(end * sr))
    placed = samples[s0:s1]
    gain = _rms(placed) / _rms(best) if _rms(best) > 0 else 1.0
    mid = (np.asarray(take, np.float32) * np.float32(gain)).copy()
    before = samples[max(0, s0 - int(CONTEXT_S * sr)):s0]
    after = samples[s1:s1 + int(CONTEXT_S * sr)]
    n = min(int(XFADE_S * sr), len(mid) // 4)
    if n > 0:
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
        mid[:n] *= ramp
        mid[-n:] *= ramp[::-1]
    clip = np.concatenate([before, mid, after]).astype(np.float32)
    a = len(before) / sr
    return clip, a, a + len(mid) / sr


def write_take(path: Path, clip: np.ndarray, sr: int, span: tuple[float, float], text: str,
               provenance: Provenance) -> Path:
    """Write a take clip as the main output is written: watermark over the synthesized span
    (the editor's own marking), disclosure metadata, signed Content Credentials."""
    from retake.core.atomic import atomic_path
    from retake.voice.edit import _watermark
    from retake.voice.io import disclosure, write_wav_with_metadata
    from retake.voice.records import EditResult
    from retake.voice.report import EditReport, EditSpan

    a, b = span
    report = EditReport([EditSpan("replace", text, a, b, "take")])
    marked = EditResult(clip, sr, None, None, report)
    digest = hashlib.sha256(f"{path.name}|{text}".encode()).hexdigest()[:12]
    marked = _watermark(marked, f"{text}|{digest}")
    with atomic_path(path, private=True) as tmp:
        write_wav_with_metadata(tmp, marked.samples, sr, disclosure(marked))
        provenance.sign_file(tmp, [], [], synthetic_spans=[(a, b)], title=path.name)
    os.chmod(path, 0o600)
    return path


def write_takes(result, stem: Path, provenance: Provenance, placed=()) -> list[str]:
    """Every alternative take of `result` (not the one in the edited file: the best, or
    `placed[i]` for span i, 0 = best) as a watermarked, signed clip named
    `STEM-spanI-takeK.wav` (K counts from 1 = best). Returns their paths."""
    sr = result.sample_rate
    out: list[str] = []
    for i, (edit, span) in enumerate(zip(result.report.synthesized, result.takes,
                                         strict=False)):
        if len(span) < 2:
            continue
        used = min(max(0, placed[i] if i < len(placed) else 0), len(span) - 1)
        for k, take in enumerate(span, start=1):
            if k - 1 == used:
                continue
            clip, a, b = take_in_context(result.samples, sr, edit.start, edit.end,
                                         span[used].samples, take.samples)
            path = stem.with_name(f"{stem.name}-span{i + 1}-take{k}.wav")
            out.append(str(write_take(path, clip, sr, (a, b), edit.text, provenance)))
    return out
