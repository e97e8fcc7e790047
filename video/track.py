"""Face tracks: follow each face through a video, smooth its landmarks, know who it is.

Running a detector on every full frame is where a naive swapper spends most of its time.
Here the detector runs on a downscaled frame every `detect_every` frames (and whenever a
track is lost); in between, each face's box is predicted from its previous landmarks and
only the 68-point predictor runs (about 1 ms). Identity embeddings (about 80 ms each) are
computed on keyframes and averaged per track. Landmarks are then smoothed offline and
without lag: the head's similarity pose and the expression (shape in template
coordinates) are filtered separately, the mouth and eyes lightly so speech and blinks
stay sharp. Before smoothing, each frame's brows are moved onto the brow hair the picture
shows (`brows.refine_brows`: the predictor puts raised brows far too low).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retake.core import cache
from retake.core.errors import FaceError
from retake.core.progress import Progress
from retake.video.brows import refine_brows
from retake.video.faces import FaceModels, box_from_landmarks, identity_distance
from retake.video.geometry import (
    LEFT_EYE,
    MOUTH,
    RIGHT_EYE,
    STABLE,
    TEMPLATE,
    apply,
    invert,
    umeyama,
)
from retake.video.media import Frame


@dataclass
class FaceTrack:
    """One face through a video: per present frame, its box, raw and smoothed landmarks.

    `frames` are frame indices (sorted); `landmarks` are the smoothed 68 points used by
    every later stage; `embedding` is the mean dlib identity vector over keyframes.
    """

    track_id: int
    frames: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    raw: list[np.ndarray] = field(default_factory=list)
    landmarks: list[np.ndarray] = field(default_factory=list)
    embeddings: dict[int, np.ndarray] = field(default_factory=dict)
    # Detector box minus the landmark-predicted box at the last detection, in box widths:
    # keeps tracked prompts in the detector's convention for this particular face.
    box_offset: np.ndarray = field(default_factory=lambda: np.zeros(4), repr=False)
    # The predictor's own last landmarks (before `refine_brows`): the next frame's prompt
    # box comes from them, so tracking stays in the predictor's convention.
    last_predicted: np.ndarray | None = field(default=None, repr=False)

    def predict_box(self) -> np.ndarray:
        """Where the detector would put this face's box, from its last landmarks."""
        last = self.last_predicted if self.last_predicted is not None else self.raw[-1]
        b = box_from_landmarks(last)
        return b + self.box_offset * (b[2] - b[0])

    def calibrate(self, detected: np.ndarray, landmarks: np.ndarray) -> None:
        """Learn this face's detector-box offset from a detection and its landmarks."""
        b = box_from_landmarks(landmarks)
        self.box_offset = (np.asarray(detected) - b) / max(b[2] - b[0], 1.0)

    @property
    def embedding(self) -> np.ndarray | None:
        """Mean identity embedding over the keyframes where one was computed."""
        if not self.embeddings:
            return None
        return np.mean(list(self.embeddings.values()), axis=0)

    def index(self, frame: int) -> int | None:
        """Position of `frame` in this track, or None when the face is absent there."""
        import bisect

        i = bisect.bisect_left(self.frames, frame)
        return i if i < len(self.frames) and self.frames[i] == frame else None

    def at(self, frame: int) -> np.ndarray | None:
        """Smoothed landmarks at a frame, or None."""
        i = self.index(frame)
        return None if i is None else self.landmarks[i]

    def mean_area(self) -> float:
        """Mean box area in pixels (to pick the main face)."""
        return float(np.mean([(b[2] - b[0]) * (b[3] - b[1]) for b in self.boxes]))


def tracks_to_arrays(tracks: list[FaceTrack]) -> dict[str, np.ndarray]:
    """The tracks as named numpy arrays (the cache's form: boxes and landmarks rounded to
    1/100 px; an hour of video's landmarks as Python lists for JSON took ~1 GB)."""
    out: dict[str, np.ndarray] = {}
    for i, t in enumerate(tracks):
        n, p = len(t.frames), f"t{i}_"
        keys = sorted(t.embeddings)
        out[p + "id"] = np.array(t.track_id, np.int64)
        out[p + "frames"] = np.asarray(t.frames, np.int64)
        out[p + "times"] = np.round(np.asarray(t.times, float), 6)
        out[p + "boxes"] = np.round(np.asarray(t.boxes, float).reshape(n, 4), 2)
        out[p + "raw"] = np.round(np.asarray(t.raw, float).reshape(n, -1, 2), 2)
        out[p + "landmarks"] = np.round(np.asarray(t.landmarks, float).reshape(n, -1, 2), 2)
        out[p + "embedded"] = np.asarray(keys, np.int64)
        out[p + "embeddings"] = (np.stack([np.asarray(t.embeddings[k], np.float32)
                                           for k in keys]) if keys
                                 else np.zeros((0, 0), np.float32))
    return out


def tracks_from_arrays(arrays: dict[str, np.ndarray]) -> list[FaceTrack]:
    """Inverse of `tracks_to_arrays`; ValueError when the arrays do not fit together."""
    tracks = []
    for i in range(sum(k.endswith("_id") for k in arrays)):
        p = f"t{i}_"
        frames, times = arrays[p + "frames"], arrays[p + "times"]
        boxes, raw, lms = arrays[p + "boxes"], arrays[p + "raw"], arrays[p + "landmarks"]
        embedded, emb = arrays[p + "embedded"], arrays[p + "embeddings"]
        n = len(frames)
        if not (len(times) == len(boxes) == len(raw) == len(lms) == n
                and len(embedded) == len(emb)):
            raise ValueError("a face track's arrays differ in length")
        tracks.append(FaceTrack(int(arrays[p + "id"]), frames.tolist(), times.tolist(),
                                list(boxes), list(raw), list(lms),
                                {int(k): v for k, v in zip(embedded, emb, strict=True)}))
    return tracks


@dataclass(frozen=True)
class TrackOptions:
    """How to track: detection cadence, embedding cadence and smoothing strength."""

    detect_every: int = 12
    embed_every: int = 12
    smooth: float = 1.0
    min_iou: float = 0.3
    max_faces: int = 8


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _plausible(landmarks: np.ndarray, prompt: np.ndarray) -> bool:
    """Did the predictor find a face in the prompt box (rather than fit noise)?"""
    back = box_from_landmarks(landmarks)
    if _iou(back, prompt) < 0.55:
        return False
    m = umeyama(landmarks[STABLE], TEMPLATE[STABLE])
    fitted = apply(m, landmarks[STABLE])
    return float(np.sqrt(((fitted - TEMPLATE[STABLE]) ** 2).sum(1).mean())) < 0.08


def track_faces(frames: Iterable[Frame], models: FaceModels,
                options: TrackOptions | None = None,
                progress: Progress | None = None,
                total: int = 0, keep: Callable[[Frame, list[FaceTrack]], None] | None = None,
                ) -> list[FaceTrack]:
    """Find and follow every face in `frames`; returns smoothed tracks, longest first.

    `keep(frame, active_tracks)` is called after each frame is processed, so callers can
    use the pixels (crops for a faceset) without holding the whole video in memory.
    """
    opts = options or TrackOptions()
    tracks: list[FaceTrack] = []
    active: list[FaceTrack] = []
    fps_guess = 25.0
    last_time = None
    for n, frame in enumerate(frames):
        rgb = frame.rgb
        predicted = [t.predict_box() for t in active]
        results: list[tuple[FaceTrack, np.ndarray, np.ndarray] | None] = []
        lost = False
        for t, box in zip(active, predicted, strict=True):
            lms = models.landmarks(rgb, box)
            if _plausible(lms, box):
                results.append((t, box, lms))
            else:
                results.append(None)
                lost = True
        if n % opts.detect_every == 0 or lost or not active:
            # between regular searches an empty frame gets only the fast passes: the full-size
            # search for small faces costs 0.1-0.2 s a frame
            deep = n % opts.detect_every == 0 or lost or bool(active)
            dets = models.detect(rgb, deep=deep)[: opts.max_faces]
            for det in dets:
                ious = [_iou(det, b) for b in predicted]
                j = int(np.argmax(ious)) if ious else -1
                if j >= 0 and ious[j] >= opts.min_iou:
                    # Re-anchor on the detector's box (also when tracking had lost it).
                    lms = models.landmarks(rgb, det)
                    active[j].calibrate(det, lms)
                    results[j] = (active[j], det, lms)
                    continue
                lms = models.landmarks(rgb, det)
                t = FaceTrack(track_id=len(tracks))
                t.calibrate(det, lms)
                tracks.append(t)
                active.append(t)
                predicted.append(det)
                results.append((t, det, lms))
        still = []
        for r in results:
            if r is None:
                continue
            t, box, lms = r
            t.frames.append(frame.index)
            t.times.append(frame.time)
            t.boxes.append(box)
            t.raw.append(refine_brows(rgb, lms))
            t.last_predicted = lms
            if len(t.frames) == 1 or (frame.index - min(t.embeddings, default=0)) \
                    % opts.embed_every == 0:
                t.embeddings[frame.index] = models.embed(rgb, lms)  # (dlib's own points)
            still.append(t)
        active = still
        if last_time is not None and frame.time > last_time:
            fps_guess = 0.9 * fps_guess + 0.1 / (frame.time - last_time)
        last_time = frame.time
        if keep is not None:
            for t in active:
                t.landmarks = t.raw  # unsmoothed while streaming
            keep(frame, active)
        if progress:
            progress("tracking", n + 1, total)
    tracks = _merge_by_identity([t for t in tracks if t.frames])
    for t in tracks:
        t.landmarks = smooth_landmarks(np.array(t.raw), t.frames, fps_guess, opts.smooth)
    tracks.sort(key=lambda t: -len(t.frames))
    for i, t in enumerate(tracks):
        t.track_id = i
    return tracks


def _merge_by_identity(tracks: list[FaceTrack], threshold: float = 0.45) -> list[FaceTrack]:
    """Join tracks that never overlap in time and have the same identity (lost and found)."""
    tracks = sorted(tracks, key=lambda t: t.frames[0])
    merged: list[FaceTrack] = []
    for t in tracks:
        target = None
        for m in merged:
            if m.frames[-1] < t.frames[0] and m.embedding is not None \
                    and t.embedding is not None \
                    and identity_distance(m.embedding, t.embedding) < threshold:
                target = m
                break
        if target is None:
            merged.append(t)
            continue
        target.frames += t.frames
        target.times += t.times
        target.boxes += t.boxes
        target.raw += t.raw
        target.embeddings.update(t.embeddings)
    return merged


def _runs(frames: list[int]) -> list[slice]:
    """Slices of consecutive frame indices (smoothing never crosses a gap)."""
    out, start = [], 0
    for i in range(1, len(frames) + 1):
        if i == len(frames) or frames[i] != frames[i - 1] + 1:
            out.append(slice(start, i))
            start = i
    return out


def smooth_landmarks(raw: np.ndarray, frames: list[int], fps: float,
                     strength: float = 1.0) -> list[np.ndarray]:
    """Zero-lag temporal smoothing of (n, 68, 2) landmarks, pose and expression apart.

    Each frame's similarity to the template (the head pose) is smoothed over ~40 ms; the
    residual shape over ~100 ms for the jaw, brows and nose, ~30 ms for the mouth and ~20 ms
    for the eyes. Gaps in `frames` split the smoothing.
    """
    from scipy.ndimage import gaussian_filter1d

    raw = np.asarray(raw, float)
    if strength <= 0 or len(raw) < 3:
        return [x.copy() for x in raw]
    out = raw.copy()
    for run in _runs(frames):
        seg = raw[run]
        if len(seg) < 3:
            continue
        ms = np.array([umeyama(x[STABLE], TEMPLATE[STABLE]) for x in seg])  # frame → unit
        shapes = np.array([apply(m, x) for m, x in zip(ms, seg, strict=True)])
        inv = np.array([invert(m) for m in ms])  # unit → frame: a, b, tx, ty form
        # Pose parameters of the similarity: [s cos, s sin, tx, ty] are linear; smooth them.
        params = np.stack([inv[:, 0, 0], inv[:, 1, 0], inv[:, 0, 2], inv[:, 1, 2]], 1)

        def filt(x: np.ndarray, seconds: float) -> np.ndarray:
            sigma = seconds * fps * strength
            return gaussian_filter1d(x, sigma, axis=0, mode="nearest") if sigma > 0.3 else x

        params = filt(params, 0.04)
        smooth_shape = filt(shapes, 0.10)
        smooth_shape[:, MOUTH] = filt(shapes[:, MOUTH], 0.03)
        smooth_shape[:, LEFT_EYE] = filt(shapes[:, LEFT_EYE], 0.02)
        smooth_shape[:, RIGHT_EYE] = filt(shapes[:, RIGHT_EYE], 0.02)
        for i, (a, b, tx, ty) in enumerate(params):
            m = np.array([[a, -b, tx], [b, a, ty]])
            out[run.start + i] = apply(m, smooth_shape[i])
    return list(out)


def video_key(path: str | os.PathLike, *settings: object) -> str:
    """A content hash of a video file plus settings, for the on-disk track cache."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return h.hexdigest()[:32]


def load_tracks(path: str | os.PathLike, models: FaceModels,
                options: TrackOptions | None = None, cache_dir: Path | None = None,
                progress: Progress | None = None) -> list[FaceTrack]:
    """Track every face in a video file, using the on-disk cache when it holds the answer."""
    from retake.video.media import probe, read_frames

    opts = options or TrackOptions()
    key = video_key(path, "tracks-v5", models.detector, models.detect_side, opts.__dict__)
    hit = cache.load_arrays(cache_dir, "tracks", key)
    if hit is not None:
        try:
            return tracks_from_arrays(hit)
        except (KeyError, ValueError):  # a damaged entry: track again
            pass
    info = probe(path)
    arrays = tracks_to_arrays(track_faces(read_frames(path), models, opts, progress,
                                          info.frames))
    cache.store_arrays(cache_dir, "tracks", key, **arrays)
    return tracks_from_arrays(arrays)  # what a later run reads back, so both agree


def choose(tracks: list[FaceTrack], how: str = "largest",
           reference: np.ndarray | None = None,
           position: tuple[float, float] | None = None,
           frame_size: tuple[int, int] | None = None) -> list[FaceTrack]:
    """Pick the face(s) to work on: 'largest', 'all', 'reference' (nearest identity to a
    reference embedding) or 'position' ((x, y) as fractions of the frame, nearest centre).
    """
    if not tracks:
        raise FaceError("no face was found in any frame")
    if how == "all":
        return tracks
    if how == "reference":
        if reference is None:
            raise FaceError("choosing by reference needs a reference photo")
        scored = [(identity_distance(t.embedding, reference), t) for t in tracks
                  if t.embedding is not None]
        dist, best = min(scored, key=lambda x: x[0])
        if dist >= 0.6:
            raise FaceError(f"no face in the video matches the reference photo "
                            f"(nearest identity distance {dist:.2f}; 0.6 or more means "
                            "another person)")
        return [best]
    if how == "position":
        if position is None or frame_size is None:
            raise FaceError("choosing by position needs --position X,Y")
        w, h = frame_size
        px, py = position[0] * w, position[1] * h

        def dist(t: FaceTrack) -> float:
            c = np.mean([((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for b in t.boxes], 0)
            return float(np.hypot(c[0] - px, c[1] - py))

        return [min(tracks, key=dist)]
    if how == "largest":
        return [max(tracks, key=lambda t: t.mean_area() * len(t.frames))]
    raise FaceError(f"unknown face choice {how!r}; use largest, all, reference or position")
