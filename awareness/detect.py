"""`retake detect`: look for the traces of voice and face edits, and explain what was seen.

Three kinds of evidence, each with a score and what it rests on:
- lip closure (video): M, B and P spoken with open lips (`video/mismatch.py`);
- splices (audio): word boundaries whose noise floor, spectral colour or pitch jump more
  than the recording's own boundaries do (`voice/forensics.py`);
- Retake's own watermark (audio), with the spans it covers (`voice/watermark.py`).
The report says plainly what the detector cannot see: a careful edit can pass every test,
and detectors tuned on one kind of fake generalise badly to others.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from retake.core.errors import RetakeError

log = logging.getLogger(__name__)

SPLICE_FLAG = 8.0  # robust z-score above which a boundary is reported
# Without a transcript, lip closure is checked only in words the recogniser was this sure of
# (a draft of unclear speech invents words, and with them M/B/P the speaker never said).
DRAFT_CONFIDENCE = 0.5

LIMITS = (
    "What this detector cannot see: an edit made with care (matched room tone, natural "
    "pitch, real mouths) can pass every test here; audio-only splice evidence is compared "
    "with the same file's own boundaries, so a file that is edited everywhere, or very "
    "noisy, gives weak evidence; lip closure needs a visible, mostly frontal face and a "
    "correct transcript; and detectors built for one kind of fake generalise badly to "
    "others. A clean report is not proof that a file is authentic. Retake's watermark is "
    "only present in what Retake made and can be removed by a determined editor; its "
    "absence proves nothing."
)


@dataclass
class Finding:
    """One thing the detector noticed: what, when, how strongly, and the evidence."""

    kind: str  # "lip-closure" | "splice" | "watermark"
    start: float
    end: float
    score: float
    summary: str
    evidence: dict = field(default_factory=dict)
    thumbnails: list[str] = field(default_factory=list)  # data: URIs (PNG)


@dataclass
class DetectReport:
    """Everything `detect` found in one file, plus the per-signal scores."""

    file: str
    duration: float
    transcript: str
    signals: dict[str, float] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    words: list[dict] = field(default_factory=list)
    limits: str = LIMITS

    def to_json(self) -> str:
        """The report as JSON (thumbnails included as data URIs)."""
        return json.dumps(asdict(self), indent=1) + "\n"

    def summary(self) -> str:
        """A few lines for the terminal."""
        lines = [f"{Path(self.file).name}: {len(self.findings)} finding(s)"]
        for k, v in self.signals.items():
            lines.append(f"  {k}: {v:.2f}")
        for f in self.findings[:12]:
            lines.append(f"  [{f.kind}] {f.start:.2f}-{f.end:.2f} s, score {f.score:.2f}: "
                         f"{f.summary}")
        return "\n".join(lines)


def _png_uri(rgb: np.ndarray, width: int = 160) -> str:
    from PIL import Image

    im = Image.fromarray(rgb)
    im.thumbnail((width, width))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _mouth_crop(rgb: np.ndarray, lms: np.ndarray) -> np.ndarray:
    c = lms[48:68].mean(0)
    r = int(max(np.ptp(lms[48:68, 0]), 20) * 0.9)
    y0, x0 = max(0, int(c[1]) - r), max(0, int(c[0]) - r)
    return rgb[y0:int(c[1]) + r, x0:int(c[0]) + r]


def detect(path: str | os.PathLike, transcript: str | None = None, models=None,
           watermark: bool = True) -> DetectReport:
    """Run every check that applies to the file (audio, or video with audio)."""
    from retake.align import align, load_audio, transcribe
    from retake.awareness.forensics import splice_evidence
    from retake.video.media import is_image

    path = Path(path)
    if is_image(path):
        raise RetakeError(f"{path}: detect works on audio and video (a still image has no "
                          "speech to compare with)")
    sound = load_audio(path)
    trusted = None
    if transcript is not None:
        text = transcript
    else:
        draft = transcribe(sound)
        text = draft.text
        sure = [(w.start - 0.15, w.end + 0.15) for w in draft.words
                if w.confidence >= DRAFT_CONFIDENCE]

        def trusted(t: float) -> bool:
            return any(a <= t <= b for a, b in sure)
    al = align(sound, text)
    report = DetectReport(str(path), round(sound.duration, 3), text)
    report.words = [{"text": w.text, "start": round(w.start, 3), "end": round(w.end, 3)}
                    for w in al.aligned_words()]
    # Splices.
    bounds = splice_evidence(sound.samples, sound.sample_rate, al)
    report.signals["splice"] = round(max((b.score for b in bounds), default=0.0), 2)
    for b in bounds:
        if b.score >= SPLICE_FLAG:
            strongest = max(b.z, key=b.z.get)
            report.findings.append(Finding(
                "splice", b.time - 0.05, b.time + 0.05, round(b.score, 2),
                f"between '{b.left}' and '{b.right}': the {strongest} jumps {b.z[strongest]:.1f}"
                " times more than at this recording's typical word boundary",
                {"floor_db": round(b.floor_db, 2), "spectral": round(b.spectral, 2),
                 "pitch_st": None if b.pitch_st is None else round(b.pitch_st, 2), "z": b.z}))
    # Watermark.
    if watermark:
        try:
            from retake.awareness import watermark as wm
        except ImportError:  # pragma: no cover - built in the same release
            wm = None
        if wm is not None:
            hits = wm.detect(sound.samples, sound.sample_rate)
            report.signals["watermark"] = round(max((h.score for h in hits), default=0.0), 2)
            for h in hits:
                payload = getattr(h, "payload", None)
                report.findings.append(Finding(
                    "watermark", round(h.start, 2), round(h.end, 2), round(h.score, 2),
                    "Retake's watermark: speech synthesized by Retake lies in this span "
                    "(the mark covers a few seconds around each new word)"
                    + (f" (payload {payload})" if payload is not None else "")
                    + (f"; found in audio {h.altered}" if h.altered else ""),
                    {"payload": None if payload is None else str(payload),
                     "altered": h.altered or None}))
    # Lip closure.
    from retake.video.media import probe

    try:
        info = probe(path)
    except Exception:  # noqa: BLE001 - plain audio files are not videos
        info = None
    if info is not None:
        from retake.awareness.lipclosure import check_bilabials
        from retake.video.faces import FaceModels
        from retake.video.media import read_frames
        from retake.video.track import track_faces

        models = models or FaceModels()
        # Frames are streamed, never held: memory stays flat in the video's length. Only
        # the frames a finding shows are decoded again at the end.
        times: list[float] = []

        def timed():
            for f in read_frames(path):
                times.append(f.time)
                yield f

        tracks = track_faces(timed(), models)
        if tracks:
            track = tracks[0]
            lms = dict(zip(track.frames, track.raw, strict=True))
            mm = check_bilabials(al, np.array(times), lms, trusted=trusted)
            report.signals["lip_closure"] = round(mm.score, 3)
            report.signals["bilabials_checked"] = float(len(mm.checks))
            shown = {id(c): min(c.frames, key=lambda i: abs(times[i] - (c.start + c.end) / 2))
                     for c in mm.checks if c.mismatch}
            crops = {}
            if shown:
                want = set(shown.values())
                for f in read_frames(path):
                    if f.index in want:
                        crops[f.index] = _mouth_crop(f.rgb, lms[f.index])
                    if f.index >= max(want):
                        break
            for c in mm.checks:
                if not c.mismatch:
                    continue
                k = shown[id(c)]
                report.findings.append(Finding(
                    "lip-closure", round(c.start, 3), round(c.end, 3),
                    round(c.min_opening, 3),
                    f"'{c.word}': /{c.phone}/ needs closed lips; the smallest opening seen is "
                    f"{c.min_opening:.2f} of the mouth's width (natural closures: < 0.08)",
                    {"frames": c.frames, "min_opening": round(c.min_opening, 3)},
                    [_png_uri(crops[k])] if k in crops else []))
    report.findings.sort(key=lambda f: f.start)
    return report


def report_paths(folder: str | os.PathLike) -> tuple[Path, Path]:
    """FOLDER/report.json and FOLDER/report.html; FOLDER must be a folder (or not exist)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise RetakeError(f"{folder}: is a file; give a folder for report.json and report.html")
    return folder / "report.json", folder / "report.html"


def write_report(report: DetectReport, folder: str | os.PathLike) -> tuple[Path, Path]:
    """Write report.json and a self-contained report.html (thumbnails and timeline inline)."""
    import html

    from retake.core.atomic import write_text

    jpath, hpath = report_paths(folder)
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RetakeError(f"{folder}: cannot make the report folder "
                          f"({exc.strerror or exc}); give a folder with -o") from None
    write_text(jpath, report.to_json())
    dur = max(report.duration, 1e-3)
    colours = {"lip-closure": "#d33", "splice": "#e90", "watermark": "#36c"}
    bars = []
    for w in report.words:
        x = 100 * w["start"] / dur
        bars.append(f'<text x="{x:.2f}%" y="14" font-size="9">{html.escape(w["text"])}</text>')
    for f in report.findings:
        x, wdt = 100 * f.start / dur, max(0.4, 100 * (f.end - f.start) / dur)
        bars.append(f'<rect x="{x:.2f}%" y="20" width="{wdt:.2f}%" height="26" '
                    f'fill="{colours.get(f.kind, "#888")}"><title>{html.escape(f.summary)}'
                    "</title></rect>")
    rows = []
    for f in report.findings:
        thumbs = "".join(f'<img src="{t}" alt="mouth">' for t in f.thumbnails)
        rows.append(f"<tr><td>{f.kind}</td><td>{f.start:.2f}-{f.end:.2f}</td>"
                    f"<td>{f.score:.2f}</td><td>{html.escape(f.summary)}</td><td>{thumbs}</td>"
                    "</tr>")
    signals = "".join(f"<li>{k}: {v:.2f}</li>" for k, v in report.signals.items())
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>Retake detect: {html.escape(Path(report.file).name)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}
td{{border-top:1px solid #ddd;padding:4px;vertical-align:top}}img{{margin:2px}}
.limits{{background:#fff6e0;padding:1em;border-left:4px solid #e90}}</style></head><body>
<h1>What Retake's detector saw in {html.escape(Path(report.file).name)}</h1>
<p>{report.duration:.1f} s; transcript used: <i>{html.escape(report.transcript)}</i></p>
<h2>Signals</h2><ul>{signals}</ul>
<h2>Timeline</h2><svg width="100%" height="50" style="background:#f4f4f4">{''.join(bars)}
</svg><p>red: lips open on M/B/P · orange: splice evidence · blue: Retake watermark</p>
<h2>Findings</h2><table><tr><th>kind</th><th>s</th><th>score</th><th>evidence</th>
<th></th></tr>{''.join(rows) or '<tr><td colspan=5>nothing found</td></tr>'}</table>
<h2>Limits</h2><p class="limits">{html.escape(report.limits)}</p></body></html>
"""
    write_text(hpath, page)
    return jpath, hpath
