"""Facesets: folders of aligned face crops plus per-face metadata, as DeepFaceLab keeps them.

Layout of a FACESET folder:
- `faceset.json`: crop size, padding, and the sources extracted so far;
- `faces.jsonl`: one JSON object per face (file, source, frame, time, track, box,
  landmarks in frame pixels, landmarks in crop pixels, the frame→crop matrix, identity
  embedding where computed, and the sort keys blur, yaw and size);
- `faces/*.png`: the crops, named SOURCE_FRAME_TRACK.png.

Extraction appends a line per face as it goes, so an interrupted run resumes after the last
frame it finished. Crops are written atomically.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retake.core.atomic import write_text
from retake.core.errors import FaceError, RetakeError
from retake.core.progress import Progress
from retake.video.faces import FaceModels, identity_distance
from retake.video.geometry import (
    LEFT_EYE,
    RIGHT_EYE,
    apply,
    crop_matrix,
    inter_ocular,
)
from retake.video.media import Frame, is_image, read_frames, read_image, write_image
from retake.video.track import FaceTrack, TrackOptions, track_faces

SORT_KEYS = ("blur", "yaw", "size", "identity", "histogram")


@dataclass
class FaceRecord:
    """One extracted face: where it came from and how it was aligned."""

    file: str
    source: str
    frame: int
    time: float
    track: int
    box: list[float]
    landmarks: list[list[float]]
    aligned: list[list[float]]
    matrix: list[list[float]]
    embedding: list[float] | None
    blur: float
    yaw: float
    size: float

    def to_json(self) -> str:
        """One line of faces.jsonl."""
        return json.dumps(self.__dict__, separators=(",", ":"))


@dataclass
class Faceset:
    """A loaded faceset: its folder, crop size, padding and face records."""

    root: Path
    size: int
    padding: float
    records: list[FaceRecord]

    def image(self, rec: FaceRecord) -> np.ndarray:
        """The RGB crop of a record."""
        return read_image(self.root / "faces" / rec.file)

    def aligned_landmarks(self) -> np.ndarray:
        """(n, 68, 2) landmarks of every face in crop pixels."""
        return np.array([r.aligned for r in self.records], float)


def blur_score(gray: np.ndarray) -> float:
    """Sharpness as the variance of the Laplacian (higher is sharper)."""
    import cv2

    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def yaw_estimate(landmarks: np.ndarray) -> float:
    """Head yaw proxy in [-1, 1]: the nose tip's offset from the eye midline, per eye span.

    Positive when the face turns toward the image's right. Cheap and monotone in the true
    angle, which is all sorting needs.
    """
    left, right = landmarks[LEFT_EYE].mean(0), landmarks[RIGHT_EYE].mean(0)
    mid = (left + right) / 2
    axis = right - left
    span = np.linalg.norm(axis) + 1e-9
    return float(np.clip(np.dot(landmarks[30] - mid, axis / span) / span * 2, -1, 1))


def load(root: str | os.PathLike) -> Faceset:
    """Read a faceset folder written by `extract`."""
    root = Path(root)
    meta = root / "faceset.json"
    if not meta.is_file():
        raise RetakeError(f"{root}: not a faceset (no faceset.json); make one with "
                          "`retake faces extract`")
    head = json.loads(meta.read_text())
    records = []
    lines = root / "faces.jsonl"
    if lines.is_file():
        for line in lines.read_text().splitlines():
            if line.strip():
                try:
                    d = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by an interrupted run
                if (root / "faces" / d["file"]).is_file():
                    records.append(FaceRecord(**d))
    return Faceset(root, int(head["size"]), float(head["padding"]), records)


def _sources(inputs: list[Path]) -> list[Path]:
    out: list[Path] = []
    for p in inputs:
        if p.is_dir():
            out += sorted(q for q in p.iterdir() if is_image(q))
        elif p.exists():
            out.append(p)
        else:
            raise RetakeError(f"{p}: no such file or folder")
    if not out:
        raise RetakeError("no images or videos to extract from")
    return out


def extract(inputs: list[str | os.PathLike], root: str | os.PathLike, models: FaceModels,
            size: int = 256, padding: float = 0.25, faces: str = "all",
            reference: np.ndarray | None = None, options: TrackOptions | None = None,
            progress: Progress | None = None) -> Faceset:
    """Detect, track and align faces in videos or images; write crops into a faceset.

    `faces`: 'all', 'largest' (the main face of each source) or 'reference' (faces whose
    identity is within 0.6 of `reference`). Re-running on the same folder resumes.
    """
    root = Path(root)
    (root / "faces").mkdir(parents=True, exist_ok=True)
    meta = root / "faceset.json"
    if meta.is_file():
        head = json.loads(meta.read_text())
        if int(head["size"]) != size or abs(float(head["padding"]) - padding) > 1e-9:
            raise RetakeError(f"{root}: holds {head['size']} px crops (padding "
                              f"{head['padding']}); use the same settings or a new folder")
    else:
        head = {"version": 1, "size": size, "padding": padding, "sources": []}
        write_text(meta, json.dumps(head, indent=1))
    done = load(root)
    last = {}
    for r in done.records:
        last[r.source] = max(last.get(r.source, -1), r.frame)
    srcs = _sources([Path(p) for p in inputs])
    videos = [s for s in srcs if not is_image(s)]
    images = [s for s in srcs if is_image(s)]
    total = len(images)
    if videos:
        from retake.video.media import probe

        total += sum(probe(v).frames for v in videos)
    counter = [0]

    def tick() -> None:
        counter[0] += 1
        if progress:
            progress("extracting", counter[0], total)

    with open(root / "faces.jsonl", "a", encoding="utf-8") as sink:
        for img in images:
            name = img.stem
            if name in last:
                tick()
                continue
            rgb = read_image(img)
            boxes = models.detect(rgb, upsample=1 if max(rgb.shape[:2]) < 400 else 0,
                                  full=True)
            lms = [models.landmarks(rgb, b) for b in boxes]
            tracks = [FaceTrack(i, [0], [0.0], [b], [x], [x]) for i, (b, x)
                      in enumerate(zip(boxes, lms, strict=True))]
            for t in _select(tracks, faces, reference, models, rgb):
                _write_face(sink, root, name, Frame(0, 0.0, rgb), t, size, padding, models)
            tick()
        for vid in videos:
            name = vid.stem
            start = last.get(name, -1) + 1
            written: dict[int, list[str]] = {}

            def keep(frame: Frame, active: list[FaceTrack], name: str = name,
                     written: dict = written) -> None:
                for t in active:
                    rec = _write_face(sink, root, name, frame, t, size, padding, None)
                    written.setdefault(id(t), []).append(rec)
                tick()

            tracks = track_faces(read_frames(vid, start=start), models, options, None, 0, keep)
            if faces != "all":
                chosen = {id(t) for t in _select(tracks, faces, reference, models, None)}
                _drop(root, [f for k, files in written.items() if k not in chosen
                             for f in files])
    head["sources"] = sorted(set(head.get("sources", [])) | {s.stem for s in srcs})
    write_text(meta, json.dumps(head, indent=1))
    result = load(root)
    if not result.records:
        raise FaceError(f"no face was found in {', '.join(str(s) for s in srcs)}")
    return result


def _select(tracks: list[FaceTrack], faces: str, reference: np.ndarray | None,
            models: FaceModels, rgb: np.ndarray | None) -> list[FaceTrack]:
    if not tracks or faces == "all":
        return tracks
    if faces == "largest":
        return [max(tracks, key=lambda t: t.mean_area() * len(t.frames))]
    if faces == "reference":
        if reference is None:
            raise FaceError("--faces reference needs --reference PHOTO")
        out = []
        for t in tracks:
            emb = t.embedding
            if emb is None and rgb is not None:
                emb = models.embed(rgb, t.raw[0])
            if emb is not None and identity_distance(emb, reference) < 0.6:
                out.append(t)
        return out
    raise FaceError(f"unknown --faces {faces!r}; use all, largest or reference")


def _write_face(sink, root: Path, name: str, frame: Frame, t: FaceTrack, size: int,
                padding: float, models: FaceModels | None) -> str:
    import cv2

    lms = t.raw[-1]
    m = crop_matrix(lms, size, padding)
    crop = cv2.warpAffine(frame.rgb, m, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT)
    fname = f"{name}_{frame.index:06d}_{t.track_id}.png"
    write_image(root / "faces" / fname, crop, fast=True)
    emb = t.embeddings.get(frame.index)
    if emb is None and models is not None:
        emb = models.embed(frame.rgb, lms)
    gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    rec = FaceRecord(fname, name, frame.index, round(frame.time, 6), t.track_id,
                     np.round(t.boxes[-1], 2).tolist(), np.round(lms, 2).tolist(),
                     np.round(apply(m, lms), 2).tolist(), np.round(m, 6).tolist(),
                     None if emb is None else np.round(emb, 6).tolist(),
                     round(blur_score(gray), 2), round(yaw_estimate(lms), 4),
                     round(inter_ocular(lms), 2))
    sink.write(rec.to_json() + "\n")
    sink.flush()
    return fname


def _drop(root: Path, files: list[str]) -> None:
    """Remove faces (crops and lines) that the face choice rejected."""
    if not files:
        return
    gone = set(files)
    for f in gone:
        (root / "faces" / f).unlink(missing_ok=True)
    lines = (root / "faces.jsonl").read_text().splitlines()
    kept = [ln for ln in lines if ln.strip() and json.loads(ln)["file"] not in gone]
    write_text(root / "faces.jsonl", "\n".join(kept) + ("\n" if kept else ""))


def sort_faceset(root: str | os.PathLike, by: str) -> list[FaceRecord]:
    """Order a faceset's faces by a key, DeepFaceLab style, and renumber the crops.

    blur: sharpest first; yaw: from one profile to the other; size: largest first;
    identity: nearest to the faceset's main identity first; histogram: similar colour
    histograms next to each other (a greedy chain). Files are renamed to NNNNN_oldname.png
    so a file browser shows the order; faces.jsonl follows.
    """
    import cv2

    fs = load(root)
    recs = fs.records
    if not recs:
        raise RetakeError(f"{root}: the faceset is empty")
    if by == "blur":
        order = sorted(recs, key=lambda r: -r.blur)
    elif by == "yaw":
        order = sorted(recs, key=lambda r: r.yaw)
    elif by == "size":
        order = sorted(recs, key=lambda r: -r.size)
    elif by == "identity":
        with_emb = [r for r in recs if r.embedding is not None]
        if not with_emb:
            raise RetakeError(f"{root}: no face has an identity embedding")
        centre = np.median(np.array([r.embedding for r in with_emb]), axis=0)
        order = sorted(recs, key=lambda r: identity_distance(r.embedding, centre)
                       if r.embedding is not None else 9.0)
    elif by == "histogram":
        hists = []
        for r in recs:
            img = fs.image(r)
            h = [cv2.calcHist([img], [c], None, [32], [0, 256]).ravel() for c in range(3)]
            v = np.concatenate(h)
            hists.append(v / (v.sum() + 1e-9))
        hists_a = np.array(hists, np.float32)
        left = list(range(len(recs)))
        chain = [left.pop(0)]
        while left:
            d = np.abs(hists_a[left] - hists_a[chain[-1]]).sum(1)
            chain.append(left.pop(int(np.argmin(d))))
        order = [recs[i] for i in chain]
    else:
        raise RetakeError(f"unknown sort key {by!r}; use one of {', '.join(SORT_KEYS)}")
    faces_dir = Path(root) / "faces"
    renamed = []
    for i, r in enumerate(order):
        base = r.file.split("_", 1)[1] if r.file[:5].isdigit() and r.file[5:6] == "_" \
            else r.file
        new = f"{i:05d}_{base}"
        if new != r.file:
            os.replace(faces_dir / r.file, faces_dir / (new + ".tmp"))
        renamed.append((r, new))
    for r, new in renamed:
        if (faces_dir / (new + ".tmp")).exists():
            os.replace(faces_dir / (new + ".tmp"), faces_dir / new)
        r.file = new
    write_text(Path(root) / "faces.jsonl", "".join(r.to_json() + "\n" for r in order))
    return order
