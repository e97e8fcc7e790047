"""`faces extract` of a long video, split into frame ranges run as parallel tasks.

The tracker carries state from frame to frame (active faces, their last landmarks, the
detection cadence, track numbers), so a piece cannot simply start at its first frame. Each
piece starts `warmup` frames early, at a frame on the detection cadence, and tracks through
that warm-up without writing crops. Merging, piece by piece in order, checks that the
piece's warm-up saw exactly what the run before it saw over the last full detection cycle
before the boundary (same faces, boxes, landmarks, embeddings): then its tracker state has
converged and its faces after the boundary are those the single-process run writes. Its
track numbers are mapped onto the global ones through those shared frames; new tracks are
numbered on in creation order, as the single run numbers them. A piece that does not
converge is run again with its warm-up widened to the previous piece's start, down to
frame 0 (the single-process run itself), so the merged faceset always equals it.

Pieces seek to the keyframe before their warm-up (a demux-only pass maps presentation
times to frame numbers), so no piece decodes the frames before it.

Split only for a fresh faceset, one video and `faces="all"`; anything else runs
`faceset.extract` in this process (resume and face choice need the whole video).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import time
from pathlib import Path

import numpy as np

from retake.core.atomic import write_text
from retake.core.errors import RetakeError
from retake.core.progress import Progress
from retake.video.faces import FaceModels
from retake.video.faceset import (
    FACESET_VERSION,
    LOCK_NAME,
    SIZES,
    Faceset,
    _faces_dir,
    _write_face,
    _writer_lock,
    extract,
    load,
)
from retake.video.media import Frame, frame_pts, is_image, read_range
from retake.video.track import FaceTrack, TrackOptions, track_faces

PIECES_DIR = ".pieces"


def _signature(frame: Frame, t: FaceTrack) -> dict:
    """What the single run writes for a face, minus the crop and names (rounded alike)."""
    emb = t.embeddings.get(frame.index)
    return {"frame": frame.index, "track": t.track_id,
            "box": np.round(t.boxes[-1], 2).tolist(), "landmarks": np.round(t.raw[-1], 2).tolist(),
            "embedding": None if emb is None else np.round(emb, 6).tolist()}


def extract_piece(payload: dict) -> dict:
    """Worker: track frames [warm, stop) of one video; write crops and records for frames
    >= `start` into the piece folder, signatures of warm-up faces into warmup.json."""
    t0 = time.monotonic()
    d = Path(payload["dir"])
    (d / "faces").mkdir(parents=True, exist_ok=True)
    models = FaceModels(**payload["models"])
    opts = TrackOptions(**payload["options"])
    start, stop, warm = payload["start"], payload["stop"], payload["warm"]
    name, size, padding = payload["name"], payload["size"], payload["padding"]
    warmup: list[dict] = []
    with open(d / "faces.jsonl", "w", encoding="utf-8") as sink:

        def keep(frame: Frame, active: list[FaceTrack]) -> None:
            for t in active:
                if frame.index < start:
                    warmup.append(_signature(frame, t))
                else:
                    _write_face(sink, d, name, frame, t, size, padding, None)

        frames = read_range(payload["video"], warm, stop, payload["pts"], payload["keys"])
        track_faces(frames, models, opts, None, 0, keep)
    write_text(d / "warmup.json", json.dumps(warmup))
    peak = _peak_rss()
    return {"status": "done", "seconds": round(time.monotonic() - t0, 3),
            "figures": {"frames": stop - warm, "peak_rss_mb": peak}}


def _peak_rss() -> float:
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def plan(n_frames: int, pieces: int, cadence: int, warmup: int) -> list[tuple[int, int, int]]:
    """(warm, start, stop) per piece: starts on the detection cadence, warm-ups too."""
    step = max(cadence, math.ceil(n_frames / max(1, pieces) / cadence) * cadence)
    starts = list(range(0, n_frames, step))
    out = []
    for i, s in enumerate(starts):
        stop = starts[i + 1] if i + 1 < len(starts) else n_frames
        out.append((max(0, s - warmup), s, stop))
    return out


def _records(d: Path) -> list[dict]:
    with open(d / "faces.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _sig_of(rec: dict) -> tuple:
    return (rec["frame"], json.dumps([rec["box"], rec["landmarks"], rec["embedding"]]))


def _converged(merged: list[dict], warm: list[dict], lo: int, hi: int
               ) -> dict[int, int] | None:
    """{local track: global track} when the faces of frames [lo, hi) agree exactly between
    the merged run and a piece's warm-up; None when they differ."""
    ours = [r for r in merged if lo <= r["frame"] < hi]
    theirs = [w for w in warm if lo <= w["frame"] < hi]
    if len(ours) != len(theirs):
        return None
    mapping: dict[int, int] = {}
    for a, b in zip(ours, theirs, strict=True):  # same per-frame order: the tracker's
        if _sig_of(a) != _sig_of(b) or mapping.get(b["track"], a["track"]) != a["track"]:
            return None
        mapping[b["track"]] = a["track"]
    if len(set(mapping.values())) != len(mapping):
        return None
    return mapping


def extract_faces_parallel(video: str | os.PathLike, root: str | os.PathLike,
                           models: FaceModels, size: int = 256, padding: float = 0.25,
                           faces: str = "all", reference: np.ndarray | None = None,
                           options: TrackOptions | None = None, workers: int = 2,
                           pieces: int | None = None, ray: str | None = None,
                           warmup: int | None = None, progress: Progress | None = None,
                           report: dict | None = None) -> Faceset:
    """`faceset.extract([video], root, ...)` with the video cut into `pieces` frame ranges
    (default: `workers`) tracked in parallel; the merged faceset equals the single run's.

    `ray`: run the pieces as Ray tasks at that address ('auto', 'host:port', 'local').
    `report`, when given, receives figures: pieces, re-runs, seconds and peak memory."""
    root = Path(root)
    video = Path(video)
    opts = options or TrackOptions()
    fresh = not (root / "faceset.json").exists() or not load(root).records
    if (faces != "all" or is_image(video) or video.is_dir() or not fresh
            or (workers <= 1 and ray is None)):
        return extract([video], root, models, size, padding, faces, reference, opts, progress)
    if not SIZES[0] <= size <= SIZES[1] or not 0 <= padding <= 1:
        raise RetakeError(f"crop size {size} px, padding {padding}: use a size from "
                          f"{SIZES[0]} to {SIZES[1]} and a padding from 0 to 1")
    if not video.is_file():
        raise RetakeError(f"{video}: no such file")
    made = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    try:
        with _writer_lock(root):
            return _parallel(video, root, models, size, padding, opts, workers,
                             pieces or max(1, workers), ray, warmup, progress, report)
    except BaseException:
        # Nothing half-made stays: the pieces go, and a folder this call made, if empty.
        shutil.rmtree(root / PIECES_DIR, ignore_errors=True)
        if made:
            (root / LOCK_NAME).unlink(missing_ok=True)
            for d in (root / "faces", root):
                with contextlib.suppress(OSError):
                    d.rmdir()
        raise


def _parallel(video: Path, root: Path, models: FaceModels, size: int, padding: float,
              opts: TrackOptions, workers: int, pieces: int, ray: str | None,
              warmup: int | None, progress: Progress | None, report: dict | None) -> Faceset:
    from retake.core.split import run_pieces

    pts, keys = frame_pts(video)
    cycle = math.lcm(opts.detect_every, opts.embed_every)
    warmup = warmup if warmup is not None else 2 * cycle
    warmup = max(cycle, math.ceil(warmup / cycle) * cycle)  # >= one cycle: to compare
    ranges = plan(len(pts), pieces, opts.detect_every, warmup)
    work = root / PIECES_DIR
    shutil.rmtree(work, ignore_errors=True)
    base = {"video": str(video.resolve()), "name": video.stem, "size": size,
            "padding": padding, "pts": pts, "keys": keys,
            "models": {"detector": models.detector, "detect_side": models.detect_side,
                       "min_score": models.min_score},
            "options": {k: getattr(opts, k) for k in opts.__dataclass_fields__}}
    payloads = [{**base, "dir": str(work / f"{i:04d}"), "warm": w, "start": s, "stop": e}
                for i, (w, s, e) in enumerate(ranges)]
    results = run_pieces(extract_piece, payloads, workers=workers, ray=ray)
    if progress:
        progress("extracting", len(pts), len(pts))
    merged: list[dict] = []  # records with global track ids, crops still in piece folders
    sources: list[Path] = []
    reruns = 0
    for i, p in enumerate(payloads):
        while True:
            d = Path(p["dir"])
            recs = _records(d)
            mapping: dict[int, int] | None = {}
            if i > 0:
                warm = json.loads((d / "warmup.json").read_text(encoding="utf-8"))
                mapping = _converged(merged, warm, max(p["warm"], p["start"] - cycle),
                                     p["start"])
            if mapping is not None:
                break
            if p["warm"] == 0:
                raise RetakeError("split extraction: a piece tracked from frame 0 disagreed "
                                  "with the run before it")
            # Not converged: widen the warm-up to the previous piece's (at worst frame 0).
            p = payloads[i] = {**p, "warm": payloads[i - 1]["warm"]}
            reruns += 1
            shutil.rmtree(d, ignore_errors=True)
            results[i] = run_pieces(extract_piece, [p], workers=1)[0]
        nxt = max((r["track"] for r in merged), default=-1) + 1
        for r in recs:
            t = r["track"]
            if t not in mapping:
                mapping[t] = nxt
                nxt += 1
            g = mapping[t]
            fname = f"{r['source']}_{r['frame']:06d}_{g}.png"
            sources.append(d / "faces" / r["file"])
            merged.append({**r, "track": g, "file": fname})
    faces_dir = _faces_dir(root)
    faces_dir.mkdir(exist_ok=True)
    for src, r in zip(sources, merged, strict=True):
        os.replace(src, faces_dir / r["file"])
    head = {"version": FACESET_VERSION, "size": size, "padding": padding,
            "sources": [video.stem]}
    write_text(root / "faceset.json", json.dumps(head, indent=1))
    write_text(root / "faces.jsonl",
               "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in merged))
    shutil.rmtree(work, ignore_errors=True)
    if report is not None:
        report.update({"pieces": len(payloads), "reruns": reruns, "frames": len(pts),
                       "piece_seconds": [r.get("seconds") for r in results],
                       "peak_rss_mb": max(r["figures"]["peak_rss_mb"] for r in results)})
    result = load(root)
    if not result.records:
        from retake.core.errors import FaceError

        raise FaceError(f"no face was found in {video}")
    return result
