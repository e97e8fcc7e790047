"""Subtitles from an alignment: SRT and WebVTT cues of a few words each.

Editors drop these straight onto a timeline. Cues break at sentence ends, at pauses longer
than `pause` seconds, and after `max_words` words or `max_seconds`, whichever comes first.
"""

from __future__ import annotations

import os
from datetime import timedelta

from retake.align.types import Alignment
from retake.core.atomic import write_text


def cues(al: Alignment, max_words: int = 7, max_seconds: float = 3.5,
         pause: float = 0.4) -> list[tuple[float, float, str]]:
    """(start, end, text) cues over the aligned words, in order."""
    out: list[tuple[float, float, str]] = []
    group: list = []
    for w in al.aligned_words():
        if group:
            gap = w.start - group[-1].end
            long = w.end - group[0].start > max_seconds
            ended = group[-1].text.rstrip()[-1:] in ".?!"
            if gap > pause or long or ended or len(group) >= max_words:
                out.append((group[0].start, group[-1].end, " ".join(g.text for g in group)))
                group = []
        group.append(w)
    if group:
        out.append((group[0].start, group[-1].end, " ".join(g.text for g in group)))
    return out


def to_srt(al: Alignment) -> str:
    """The alignment as SubRip text."""
    import srt

    subs = [srt.Subtitle(i + 1, timedelta(seconds=s), timedelta(seconds=e), text)
            for i, (s, e, text) in enumerate(cues(al))]
    return srt.compose(subs)


def _vtt_time(t: float) -> str:
    ms = int(round(t * 1000))
    h, rem = divmod(ms, 3600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def to_vtt(al: Alignment) -> str:
    """The alignment as WebVTT text."""
    import webvtt

    doc = webvtt.WebVTT()
    for s, e, text in cues(al):
        doc.captions.append(webvtt.Caption(_vtt_time(s), _vtt_time(e), text))
    return doc.content


def write_subtitles(al: Alignment, stem: str | os.PathLike) -> list[str]:
    """Write STEM.srt and STEM.vtt atomically; return their paths."""
    paths = [f"{stem}.srt", f"{stem}.vtt"]
    write_text(paths[0], to_srt(al))
    write_text(paths[1], to_vtt(al))
    return paths
