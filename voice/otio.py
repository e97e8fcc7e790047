"""An edit as an OpenTimelineIO timeline (`OUT.otio`), for editors' own timeline tools.

Each kept stretch of the original is a clip of the original file over its original time
range; each inserted stretch (new speech or re-used words) is a clip of the edited output
over its edited time range, named with its words and the engine that made them, and marked
(red: synthesized, green: re-used audio). Deleted stretches are absent: they are the cuts,
and a zero-length marker on the track says what was cut there. The clips follow each other
in edited time, so the track lasts exactly as long as the edited file.

Times are RationalTime at the media's rate: the sample rate for a voice edit, the frame rate
for a dub (which has a video track too, with the same cuts).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from retake.voice.report import EditReport
from retake.voice.timemap import Inserted, TimeMap

EPS = 1e-9


@dataclass
class Piece:
    """One clip of the timeline, in edited time (units of the rate)."""

    start: int  # edited time
    end: int
    source: int | None = None  # original time of a kept piece; None: from the edited file
    slope: float = 1.0  # original seconds per edited second (1 for a plain cut)
    inserted: Inserted | None = None


def _pieces(timemap: TimeMap, rate: float, total: int) -> list[Piece]:
    """The edited time line cut into kept, inserted and filler pieces (edited-only stretches
    no `inserted` entry covers: pauses and joins), all contiguous from 0 to `total`."""

    def at(t: float) -> int:
        return min(total, max(0, round(t * rate)))

    raw: list[tuple[float, float, float | None, float]] = []  # e0, e1, o0, slope
    knots = timemap.knots
    if knots and knots[0][1] > EPS:
        raw.append((0.0, knots[0][1], None, 1.0))
    for (o0, e0), (o1, e1) in zip(knots, knots[1:], strict=False):
        if e1 - e0 <= EPS:
            continue  # a deletion: the cut
        if o1 - o0 <= EPS:
            raw.append((e0, e1, None, 1.0))
        else:
            raw.append((e0, e1, o0, (o1 - o0) / (e1 - e0)))
    end = knots[-1][1] if knots else 0.0
    if timemap.edited_duration > end + EPS:
        raw.append((end, timemap.edited_duration, None, 1.0))

    out: list[Piece] = []
    for e0, e1, o0, slope in raw:
        if o0 is not None:
            a, b = at(e0), at(e1)
            if b > a:
                out.append(Piece(a, b, round(o0 * rate), slope))
            continue
        cursor = e0
        spans = sorted((s for s in timemap.inserted if s.end > e0 + EPS and s.start < e1 - EPS),
                       key=lambda s: s.start)
        for s in spans:
            s0, s1 = max(s.start, cursor), min(s.end, e1)
            if s0 > cursor and at(s0) > at(cursor):
                out.append(Piece(at(cursor), at(s0)))
            if at(s1) > at(s0):
                out.append(Piece(at(s0), at(s1), inserted=s))
            cursor = max(cursor, s1)
        if at(e1) > at(cursor):
            out.append(Piece(at(cursor), at(e1)))
    # rounding may leave a sample's gap or overlap: make the pieces exactly contiguous
    fixed: list[Piece] = []
    t = 0
    for p in out:
        p.start, p.end = t, max(t, p.end)
        if p.end > p.start:
            fixed.append(p)
            t = p.end
    if t < total:
        if fixed and fixed[-1].source is None and fixed[-1].inserted is None:
            fixed[-1].end = total
        else:
            fixed.append(Piece(t, total))
    return fixed


def _engine(report: EditReport | None, span: Inserted) -> str:
    """The engine of the report's edit that made `span` (the one overlapping it most)."""
    best, overlap = ("reuse" if span.source == "reused" else "unknown"), 0.0
    for e in report.edits if report is not None else ():
        o = min(e.end, span.end) - max(e.start, span.start)
        if e.kind != "delete" and o > overlap:
            best, overlap = e.engine, o
    return best


def relative_url(media: str | os.PathLike, otio_path: str | os.PathLike) -> str:
    """`media` as a path relative to the folder of `otio_path` (its own name when both are in
    one folder), with forward slashes, as editors resolve a relative target_url."""
    media, folder = Path(media), Path(otio_path).parent
    try:
        rel = os.path.relpath(os.path.abspath(media), os.path.abspath(folder))
    except ValueError:  # another drive (Windows)
        return media.name
    return Path(rel).as_posix()


def timeline(timemap: TimeMap, report: EditReport | None, media_name: str | None,
             rate: float, edited_name: str, *, video: bool = False, name: str | None = None):
    """The edit as an `opentimelineio.schema.Timeline`.

    `media_name`: the original file as a relative URL (None: unknown, a MissingReference);
    `edited_name`: the edited output beside the .otio (the rendered audio or video);
    `rate`: units per second (the sample rate, or the video's frame rate); `video`: add a
    video track with the same clips (a dub).
    """
    import opentimelineio as otio

    rate = float(rate)
    total = round(timemap.edited_duration * rate)

    def rt(v: float) -> otio.opentime.RationalTime:
        return otio.opentime.RationalTime(v, rate)

    def tr(start: float, dur: float) -> otio.opentime.TimeRange:
        return otio.opentime.TimeRange(rt(start), rt(dur))

    def original_ref():
        available = tr(0, round(timemap.original_duration * rate))
        if media_name is None:
            return otio.schema.MissingReference(name="original recording",
                                                available_range=available)
        return otio.schema.ExternalReference(target_url=media_name, available_range=available)

    def edited_ref():
        return otio.schema.ExternalReference(target_url=edited_name,
                                             available_range=tr(0, total))

    def clips() -> list:
        out = []
        for p in _pieces(timemap, rate, total):
            dur = p.end - p.start
            if p.source is not None:
                clip = otio.schema.Clip(
                    name=Path(media_name).name if media_name else "original",
                    media_reference=original_ref(), source_range=tr(p.source, dur),
                    metadata={"retake": {"kind": "kept"}})
                if abs(p.slope - 1.0) * dur > 1.0:  # retimed by more than one unit
                    clip.effects.append(otio.schema.LinearTimeWarp(time_scalar=p.slope))
                out.append(clip)
                continue
            if p.inserted is None:
                out.append(otio.schema.Clip(
                    name="pause", media_reference=edited_ref(), source_range=tr(p.start, dur),
                    metadata={"retake": {"kind": "pause"}}))
                continue
            s = p.inserted
            engine = _engine(report, s)
            info = {"kind": "inserted", "source": s.source, "engine": engine, "text": s.text}
            clip = otio.schema.Clip(
                name=f"{s.text} ({engine})", media_reference=edited_ref(),
                source_range=tr(p.start, dur), metadata={"retake": info})
            clip.markers.append(otio.schema.Marker(
                name=s.text, marked_range=tr(p.start, dur),
                color=(otio.schema.MarkerColor.GREEN if s.source == "reused"
                       else otio.schema.MarkerColor.RED),
                metadata={"retake": {"engine": engine, "text": s.text, "source": s.source}}))
            out.append(clip)
        return out

    def cut_markers() -> list:
        out = []
        for e in report.edits if report is not None else ():
            if e.kind == "delete":
                at = min(total, round(e.start * rate))
                out.append(otio.schema.Marker(
                    name=f"cut: {e.text}", marked_range=tr(at, 0),
                    color=otio.schema.MarkerColor.YELLOW,
                    metadata={"retake": {"kind": "delete", "text": e.text}}))
        return out

    tracks = []
    if video:
        tracks.append(otio.schema.Track(name="video", children=clips(),
                                        kind=otio.schema.TrackKind.Video))
    audio = otio.schema.Track(name="audio", children=clips(), kind=otio.schema.TrackKind.Audio)
    audio.markers.extend(cut_markers())
    tracks.append(audio)
    return otio.schema.Timeline(
        name=name or Path(edited_name).stem, tracks=tracks, global_start_time=rt(0),
        metadata={"retake": {"edited": edited_name, "original": media_name,
                             "synthesized": [[s.start, s.end, s.text] for s in timemap.inserted
                                             if s.source == "synthesized"]}})


def write_otio(path: str | os.PathLike, timemap: TimeMap, report: EditReport | None,
               media_name: str | None, rate: float, edited_name: str, *,
               video: bool = False) -> None:
    """Write `timeline(...)` to `path` as OTIO JSON (the .otio format)."""
    tl = timeline(timemap, report, media_name, rate, edited_name, video=video)
    Path(path).write_text(tl.to_json_string() + "\n", encoding="utf-8")


__all__ = ["relative_url", "timeline", "write_otio"]
