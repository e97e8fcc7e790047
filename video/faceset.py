"""Facesets: folders of aligned face crops plus per-face metadata, as DeepFaceLab keeps them.

Layout of a FACESET folder:
- `faceset.json`: crop size, padding, and the sources extracted so far;
- `faces.jsonl`: one JSON object per face (file, source, frame, time, track, box,
  landmarks in frame pixels, landmarks in crop pixels, the frame→crop matrix, identity
  embedding where computed, and the sort keys blur, yaw and size);
- `faces/*.png`: the crops, named SOURCE_FRAME_TRACK.png.

Extraction appends a line per face as it goes, so an interrupted run resumes after the last
frame it finished. Crops are written atomically. Writers (extract, sort) hold `.lock` for
their whole run. Facesets travel as archives, so loading checks every field and refuses
file names that leave `faces/` and symbolic links.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

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
        """The RGB crop of a record (only ever a plain file inside <root>/faces)."""
        return read_image(_crop_path(self.root, rec.file))

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


FACESET_VERSION = 1
SIZES = (32, 1024)  # crop sizes `retake faces extract` accepts
LOCK_NAME = ".lock"
_FIELDS = ("file", "source", "frame", "time", "track", "box", "landmarks", "aligned",
           "matrix", "embedding", "blur", "yaw", "size")
_LIMIT = 1e9  # no coordinate, time or score of a real face comes near this
_MAX_NAME = 200  # bytes; leaves room for sort's NNNNN_ prefix and .tmp suffix


class _Bad(ValueError):
    """One problem with one faceset entry (load turns it into a `RetakeError`)."""


def _show(value: object) -> str:
    """A value read from a faceset, quoted on one short line that no console reads as markup."""
    text = json.dumps(value if isinstance(value, str) else repr(value))
    if len(text) > 80:
        text = text[:77] + '..."'
    return text.replace("[", "\\u005b")


def _entry(name: str) -> str:
    """faces/NAME for a message, quoted as `_show` does."""
    return "faces/" + _show(name)[1:-1]


def _check_name(name: object) -> str:
    """A crop's file name: a plain .png name directly inside faces/, or `_Bad`."""
    if not isinstance(name, str):
        raise _Bad(f"file {_show(name)} is not a string")
    if (not name or name in (".", "..") or "/" in name or "\\" in name
            or any(ord(c) < 32 for c in name) or os.path.isabs(name)
            or Path(name).name != name or len(name.encode("utf-8", "replace")) > _MAX_NAME
            or not name.lower().endswith(".png")):
        raise _Bad(f"file {_show(name)} is not a plain .png file name inside faces/")
    return name


def _number(d: dict, key: str, lo: float = -_LIMIT, hi: float = _LIMIT) -> float:
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) \
            or not lo <= v <= hi:
        raise _Bad(f"{key} {_show(v)} is not a finite number from {lo:g} to {hi:g}")
    return float(v)


def _integer(d: dict, key: str, lo: int = 0, hi: int = 10**9) -> int:
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise _Bad(f"{key} {_show(v)} is not a whole number from {lo} to {hi}")
    return v


def _array(d: dict, key: str, shape: tuple[int, ...]) -> list:
    bad = _Bad(f"{key} is not {' x '.join(map(str, shape))} finite numbers")
    try:
        a = np.asarray(d[key])
    except (ValueError, TypeError, OverflowError):
        raise bad from None
    if a.shape != shape or a.dtype.kind not in "iuf":
        raise bad
    a = a.astype(float)
    if not np.isfinite(a).all() or np.abs(a).max() > _LIMIT:
        raise bad
    return a.tolist()


def _record(d: object) -> FaceRecord:
    """A faces.jsonl object checked field by field (types, shapes, ranges), or `_Bad`."""
    if not isinstance(d, dict):
        raise _Bad("is not a JSON object")
    missing = [k for k in _FIELDS if k not in d]
    if missing:
        raise _Bad(f"lacks {', '.join(missing)}")
    if not isinstance(d["source"], str) or len(d["source"]) > 1000:
        raise _Bad(f"source {_show(d['source'])} is not a short string")
    return FaceRecord(
        _check_name(d["file"]), d["source"], _integer(d, "frame"), _number(d, "time", 0),
        _integer(d, "track"), _array(d, "box", (4,)), _array(d, "landmarks", (68, 2)),
        _array(d, "aligned", (68, 2)), _array(d, "matrix", (2, 3)),
        None if d["embedding"] is None else _array(d, "embedding", (128,)),
        _number(d, "blur", 0), _number(d, "yaw", -1, 1), _number(d, "size", 0))


def _damaged(root: Path, where: str, problem: str) -> RetakeError:
    return RetakeError(f"{root}: {where}: {problem}; the faceset is damaged or was not made "
                       "by Retake, so it was left as it is (extract the faces again)")


def _plain(root: Path, path: Path, what: str) -> None:
    """Refuse a symbolic link where the faceset keeps a file or folder."""
    if path.is_symlink():
        raise _damaged(root, what, "is a symbolic link")


def _read_head(root: Path) -> dict:
    """faceset.json, checked: version, crop size, padding and sources."""
    meta = root / "faceset.json"
    _plain(root, meta, "faceset.json")
    if not meta.is_file():
        raise RetakeError(f"{root}: not a faceset (no faceset.json); make one with "
                          "`retake faces extract`")
    try:
        head = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:  # ValueError: bad JSON or UTF-8
        raise _damaged(root, "faceset.json", f"unreadable ({type(exc).__name__})") from None
    try:
        if not isinstance(head, dict):
            raise _Bad("is not a JSON object")
        head.setdefault("version", 1)
        head.setdefault("sources", [])
        if "size" not in head or "padding" not in head:
            raise _Bad("lacks size or padding")
        version = _integer(head, "version")
        if version > FACESET_VERSION:
            raise RetakeError(f"{root}: made by a newer Retake (faceset version {version}); "
                              "update Retake")
        size = _integer(head, "size", *SIZES)
        padding = _number(head, "padding", 0, 1)
        sources = head["sources"]
        if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
            raise _Bad("sources is not a list of names")
    except _Bad as exc:
        raise _damaged(root, "faceset.json", str(exc)) from None
    return {"version": version, "size": size, "padding": padding, "sources": sources}


def _faces_dir(root: Path) -> Path:
    """<root>/faces, refused when it is a symbolic link or lies outside the faceset."""
    faces = root / "faces"
    _plain(root, faces, "faces (the crops folder)")
    if faces.exists() and (not faces.is_dir()
                           or faces.resolve().parent != root.resolve()):
        raise _damaged(root, "faces", "is not a folder inside the faceset")
    return faces


def _read_records(root: Path) -> list[FaceRecord]:
    """Every record of faces.jsonl, checked; a face listed twice keeps its last line.

    Only an unterminated last line that is not JSON (a write cut by an interrupted run) is
    passed over; any other bad line refuses the whole faceset.
    """
    path = root / "faces.jsonl"
    _plain(root, path, "faces.jsonl")
    if not path.exists():
        return []
    if not path.is_file():
        raise _damaged(root, "faces.jsonl", "is not a file")
    records: dict[str, FaceRecord] = {}
    n = 0
    try:
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):  # noqa: B007 (n names the line in errors)
                if not line.strip():
                    continue
                try:
                    d = json.loads(line)
                except (ValueError, RecursionError):
                    if not line.endswith("\n"):
                        break  # the last line, cut by an interrupted run
                    raise _Bad("is not valid JSON") from None
                rec = _record(d)
                records[rec.file] = rec
    except _Bad as exc:
        raise _damaged(root, f"faces.jsonl line {n}", str(exc)) from None
    except UnicodeDecodeError:  # decoding reads ahead, so no line number
        raise _damaged(root, "faces.jsonl", "is not UTF-8 text") from None
    except OSError as exc:
        raise RetakeError(f"{root}: cannot read faces.jsonl ({exc.strerror or exc})") from None
    return list(records.values())


def _crop_path(root: Path, name: str) -> Path:
    """The crop file `name` inside <root>/faces; refuses names and links that lead elsewhere."""
    try:
        _check_name(name)
    except _Bad as exc:
        raise _damaged(root, "faces.jsonl", str(exc)) from None
    path = _faces_dir(root) / name
    _plain(root, path, _entry(name))
    if path.exists() and not path.is_file():
        raise _damaged(root, _entry(name), "is not a plain file")
    return path


def load(root: str | os.PathLike) -> Faceset:
    """Read a faceset folder written by `extract`, checking every entry it names.

    A crafted faceset (file names with separators or '..', symbolic links, malformed or
    out-of-range fields) raises one `RetakeError`; faces whose crop is missing are left out.
    """
    root = Path(root)
    head = _read_head(root)
    records = [r for r in _read_records(root) if _crop_path(root, r.file).is_file()]
    return Faceset(root, head["size"], head["padding"], records)


@contextlib.contextmanager
def _writer_lock(root: Path) -> Iterator[None]:
    """Hold <root>/.lock exclusively while writing a faceset; a second writer fails at once.

    POSIX: a non-blocking `flock` (released by the kernel if the process dies). Elsewhere
    the lock is the file's exclusive creation, removed on exit.
    """
    try:
        import fcntl
    except ImportError:  # Windows
        fcntl = None
    path = root / LOCK_NAME
    busy = RetakeError(f"{root}: another Retake process is writing this faceset; wait for "
                       "it to finish" + ("" if fcntl else f" (or delete {path} if none is)"))
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags | (0 if fcntl else os.O_EXCL), 0o644)
    except FileExistsError:
        raise busy from None
    except OSError as exc:
        raise RetakeError(f"{root}: cannot open the lock file {LOCK_NAME} "
                          f"({exc.strerror or exc}); is it a link or a folder?") from None
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise busy from None
            except OSError as exc:
                raise RetakeError(f"{root}: cannot lock the faceset "
                                  f"({exc.strerror or exc})") from None
        yield
    finally:
        os.close(fd)
        if fcntl is None:
            with contextlib.suppress(OSError):
                os.unlink(path)


def _open_append(path: Path) -> TextIO:
    """faces.jsonl for appending, never through a symbolic link."""
    def opener(p: str, flags: int) -> int:
        return os.open(p, flags | getattr(os, "O_NOFOLLOW", 0), 0o644)

    return open(path, "a", encoding="utf-8", opener=opener)


def _end_lines(path: Path) -> None:
    """Before appending: end a complete last line, or cut a partial one an interrupted run left."""
    if not path.is_file():
        return
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return
    cut = data.rfind(b"\n") + 1
    try:
        json.loads(data[cut:])
    except (ValueError, RecursionError):
        with open(path, "r+b") as fh:
            fh.truncate(cut)
    else:
        with _open_append(path) as fh:
            fh.write("\n")


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
    identity is within 0.6 of `reference`). Re-running on the same folder resumes. The
    faceset is locked for the whole run, so a second writer fails at once.
    """
    root = Path(root)
    if not SIZES[0] <= size <= SIZES[1] or not 0 <= padding <= 1:
        raise RetakeError(f"crop size {size} px, padding {padding}: use a size from "
                          f"{SIZES[0]} to {SIZES[1]} and a padding from 0 to 1")
    if root.exists() and not root.is_dir():
        raise RetakeError(f"{root}: is a file; give a folder for the faceset")
    made_root = not root.exists()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RetakeError(f"{root}: cannot make the folder ({exc.strerror or exc})") from None
    fresh = not any(os.path.lexists(root / n) for n in ("faceset.json", "faces.jsonl"))
    crops = root / "faces"
    had_crops = crops.is_dir() and not crops.is_symlink()
    before = set(os.listdir(crops)) if had_crops else set()
    lock_existed = os.path.lexists(root / LOCK_NAME)
    failed = False
    try:
        with _writer_lock(root):
            try:
                return _extract(inputs, root, models, size, padding, faces, reference,
                                options, progress)
            except Exception:
                # A new faceset that failed is removed: nothing half-made is left behind.
                # (Resumed facesets keep what earlier runs wrote; an interrupted run keeps
                # its faces so that the next run resumes.)
                failed = True
                if fresh:
                    _remove_new(root, before, had_crops)
                raise
    finally:
        if failed and fresh:
            if not lock_existed:
                with contextlib.suppress(OSError):
                    (root / LOCK_NAME).unlink()
            if made_root:
                with contextlib.suppress(OSError):
                    root.rmdir()  # only when empty


def _remove_new(root: Path, before: set[str], had_crops: bool) -> None:
    """Undo a new faceset's failed first run: its faceset.json, faces.jsonl and the crops
    it wrote (regular .png files that were not there before), and faces/ if it made it."""
    for name in ("faceset.json", "faces.jsonl"):
        path = root / name
        if path.is_file() and not path.is_symlink():
            with contextlib.suppress(OSError):
                path.unlink()
    crops = root / "faces"
    if not crops.is_dir() or crops.is_symlink():
        return
    for entry in os.scandir(crops):
        if entry.name not in before and entry.name.endswith(".png") \
                and entry.is_file(follow_symlinks=False):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
    if not had_crops:
        with contextlib.suppress(OSError):
            crops.rmdir()


def _extract(inputs: list[str | os.PathLike], root: Path, models: FaceModels, size: int,
             padding: float, faces: str, reference: np.ndarray | None,
             options: TrackOptions | None, progress: Progress | None) -> Faceset:
    _faces_dir(root).mkdir(exist_ok=True)
    meta = root / "faceset.json"
    _plain(root, meta, "faceset.json")
    if meta.exists():
        head = _read_head(root)
        if head["size"] != size or abs(head["padding"] - padding) > 1e-9:
            raise RetakeError(f"{root}: holds {head['size']} px crops (padding "
                              f"{head['padding']}); use the same settings or a new folder")
    else:
        head = {"version": FACESET_VERSION, "size": size, "padding": padding, "sources": []}
        write_text(meta, json.dumps(head, indent=1))
    lines = root / "faces.jsonl"
    done = load(root)  # checks faces.jsonl before anything is appended to it
    _end_lines(lines)
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

    for img in images:
        name = img.stem
        if name in last:
            tick()
            continue
        rgb = read_image(img)
        boxes = models.detect(rgb, upsample=1 if max(rgb.shape[:2]) < 400 else 0, full=True)
        lms = [models.landmarks(rgb, b) for b in boxes]
        tracks = [FaceTrack(i, [0], [0.0], [b], [x], [x]) for i, (b, x)
                  in enumerate(zip(boxes, lms, strict=True))]
        with _open_append(lines) as sink:
            for t in _select(tracks, faces, reference, models, rgb):
                _write_face(sink, root, name, Frame(0, 0.0, rgb), t, size, padding, models)
        tick()
    for vid in videos:
        name = vid.stem
        start = last.get(name, -1) + 1
        written: dict[int, list[str]] = {}
        # One open per video: `_drop` replaces faces.jsonl, so the next source reopens it.
        with _open_append(lines) as sink:

            def keep(frame: Frame, active: list[FaceTrack], name: str = name,
                     written: dict = written, sink: TextIO = sink) -> None:
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
        _crop_path(root, f).unlink(missing_ok=True)
    kept = [r for r in _read_records(root) if r.file not in gone]
    write_text(root / "faces.jsonl", "".join(r.to_json() + "\n" for r in kept))


def sort_faceset(root: str | os.PathLike, by: str) -> list[FaceRecord]:
    """Order a faceset's faces by a key, DeepFaceLab style, and renumber the crops.

    blur: sharpest first; yaw: from one profile to the other; size: largest first;
    identity: nearest to the faceset's main identity first; histogram: similar colour
    histograms next to each other (a greedy chain). Files are renamed to NNNNN_oldname.png
    so a file browser shows the order; faces.jsonl follows. The faceset is locked while
    it is sorted, and a crafted one is refused before any file moves.
    """
    if by not in SORT_KEYS:
        raise RetakeError(f"unknown sort key {by!r}; use one of {', '.join(SORT_KEYS)}")
    root = Path(root)
    _read_head(root)  # not a faceset: say so before making a lock file in the folder
    with _writer_lock(root):
        return _sort(root, by)


def _sort(root: Path, by: str) -> list[FaceRecord]:
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
    else:  # histogram
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
    faces_dir = _faces_dir(root)
    moves = []
    for i, r in enumerate(order):
        base = r.file.split("_", 1)[1] if r.file[:5].isdigit() and r.file[5:6] == "_" \
            else r.file
        new = f"{i:05d}_{base}"
        if new != r.file:
            for name in (new, new + ".tmp"):  # refuse a link or folder where a crop lands
                path = faces_dir / name
                _plain(root, path, _entry(name))
                if path.exists() and not path.is_file():
                    raise _damaged(root, _entry(name), "is not a plain file")
            moves.append((r.file, new))
    _rename_all(root, faces_dir, moves)
    for r in order:
        r.file = dict(moves).get(r.file, r.file)
    write_text(root / "faces.jsonl", "".join(r.to_json() + "\n" for r in order))
    return order


def _rename_all(root: Path, faces_dir: Path, moves: list[tuple[str, str]]) -> None:
    """Rename crops old → new through NEW.tmp names (so no rename overwrites another crop);
    on an error, put back what was moved and raise one `RetakeError`."""
    steps: list[tuple[Path, Path]] = [(faces_dir / a, faces_dir / (b + ".tmp")) for a, b in moves]
    steps += [(faces_dir / (b + ".tmp"), faces_dir / b) for _, b in moves]
    done: list[tuple[Path, Path]] = []
    try:
        for src, dst in steps:
            os.replace(src, dst)
            done.append((src, dst))
    except OSError as exc:
        for src, dst in reversed(done):
            with contextlib.suppress(OSError):
                os.replace(dst, src)
        raise RetakeError(f"{root}: could not rename the crops ({exc.strerror or exc}); "
                          "the faceset was left in its old order") from None
