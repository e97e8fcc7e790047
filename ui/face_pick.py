"""The Face tab's picker, without the page: the target's frame at a time, the faces in it
(numbered largest first, as the swap numbers them) and the face track a pick follows.

Kept apart from the widgets so the tab stays short and these can be tested on real media.
"""

from __future__ import annotations

import math
import os
import re

import numpy as np

from retake.core.errors import FaceError, VideoError
from retake.video.faces import SAME_PERSON, FaceModels, identity_distance
from retake.video.media import is_image, probe, read_frames, read_image
from retake.video.track import FaceTrack

FIRST = "Face 1 (largest)"


def timeline(path: str | os.PathLike) -> tuple[float, float]:
    """A target's slider range: (time of its last frame, one frame) in seconds; (0, 0) for
    a still image."""
    if is_image(path):
        return 0.0, 0.0
    info = probe(path)
    step = 1 / float(info.fps) if info.fps else 0.04
    return max(0.0, info.duration - step), step


def frame_at(path: str | os.PathLike, t: float = 0.0) -> tuple[np.ndarray, float]:
    """The RGB frame shown at `t` seconds (the nearest frame; the last one past the end)
    and its own time, as `read_frames` times it; a still image is its own frame at 0.

    Seeks to the keyframe before `t` and decodes from there, so a look late in a long
    video costs about as much as one early on.
    """
    if is_image(path):
        return read_image(path), 0.0
    t = float(t or 0.0)
    t = max(0.0, t) if math.isfinite(t) else 0.0  # a page may send anything
    best = _seek(path, t)
    if best is None:  # a file that does not seek: decode from the start
        for fr in read_frames(path):
            if best is None or abs(fr.time - t) < abs(best[1] - t):
                best = (fr.rgb, fr.time)
            if fr.time >= t:
                break
    if best is None:
        raise VideoError(f"{path}: no picture could be decoded")
    return best


def _seek(path: str | os.PathLike, t: float) -> tuple[np.ndarray, float] | None:
    import av

    probe(path)  # a plain-words error for a file that is no video
    best = None
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            tb = stream.time_base
            container.seek(int(t / tb), stream=stream, backward=True, any_frame=False)
            for fr in container.decode(stream):
                if fr.pts is None:
                    return None
                ft = float(fr.pts * tb)
                if best is None or abs(ft - t) <= abs(best[1] - t):
                    best = (fr.to_ndarray(format="rgb24"), ft)
                if ft >= t:
                    break
    except (av.error.FFmpegError, IndexError):
        return None
    if best is not None and best[1] > t + 1e-3 and t > 0:
        return None  # the seek landed past `t` (no keyframe index): decode from the start
    return best


def find_faces(rgb: np.ndarray, models: FaceModels) -> list[np.ndarray]:
    """The face boxes [x0, y0, x1, y1] in a frame, largest first: found exactly as a swap of
    a still finds them (`swap_image`), so "Face 2" here is face 2 there."""
    return models.detect(rgb, upsample=1 if max(rgb.shape[:2]) < 500 else 0, full=True)


def face_labels(n: int) -> list[str]:
    """The picker's choices for `n` faces: "Face 1 (largest)", "Face 2", …"""
    return [FIRST] + [f"Face {i}" for i in range(2, n + 1)] if n else []


def face_number(label: str | None) -> int | None:
    """The face a picker label names (1 = largest), or None when none is picked."""
    m = re.match(r"\s*Face (\d+)", label or "")
    return int(m.group(1)) if m else None


def numbered(rgb: np.ndarray, boxes: list[np.ndarray], picked: int | None = 1) -> np.ndarray:
    """A copy of the frame with each face boxed and numbered (the picked one in green), so
    the page can say which face is which."""
    import cv2

    out = np.ascontiguousarray(rgb.copy())
    line = max(2, round(max(rgb.shape[:2]) / 300))
    for i, b in enumerate(boxes, 1):
        x0, y0, x1, y1 = (int(round(v)) for v in b)
        color = (40, 220, 60) if i == (picked or 1) else (255, 200, 0)
        cv2.rectangle(out, (x0, y0), (x1, y1), color, line)
        scale = max(0.6, (x1 - x0) / 120)
        (w, h), _ = cv2.getTextSize(str(i), cv2.FONT_HERSHEY_SIMPLEX, scale, line)
        ty = y0 - line if y0 - h - 2 * line > 0 else y1 + h + line
        cv2.rectangle(out, (x0, ty - h - line), (x0 + w + 2 * line, ty + line), color, -1)
        cv2.putText(out, str(i), (x0 + line, ty), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (0, 0, 0), line, cv2.LINE_AA)
    return out


def picked_box(boxes: list[np.ndarray], number: int, name: str, t: float) -> np.ndarray:
    """Box of face `number` (1 = largest) among a frame's faces, or a plain-words error
    naming the user's file and the time."""
    at = f" at {t:.2f} s" if t else ""
    if not boxes:
        raise FaceError(f"no face found in {name}{at}; move the frame slider to a frame "
                        "where the face shows")
    if not 1 <= number <= len(boxes):
        raise FaceError(f"{name}{at} shows {len(boxes)} face(s); choose one of them")
    return boxes[number - 1]


def centre(box: np.ndarray, rgb: np.ndarray) -> tuple[float, float]:
    """A box's centre as fractions of the frame (for a choice by position)."""
    h, w = rgb.shape[:2]
    return float((box[0] + box[2]) / 2 / w), float((box[1] + box[3]) / 2 / h)


def _at(track: FaceTrack, t: float, step: float) -> int | None:
    """Position in `track` of its frame within a frame of `t`, or None."""
    if not track.times:
        return None
    i = int(np.argmin(np.abs(np.asarray(track.times) - t)))
    return i if abs(track.times[i] - t) <= step + 1e-3 else None


def track_at(tracks: list[FaceTrack], t: float, box: np.ndarray,
             step: float) -> FaceTrack | None:
    """The track that holds the face in `box` at time `t` (nearest centre, within half a
    face width, on a frame within a frame of `t`), or None."""
    best, best_d = None, (box[2] - box[0]) / 2
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    for tr in tracks:
        i = _at(tr, t, step)
        if i is None:
            continue
        b = tr.boxes[i]
        d = float(np.hypot((b[0] + b[2]) / 2 - cx, (b[1] + b[3]) / 2 - cy))
        if d < best_d:
            best, best_d = tr, d
    return best



def track_like(tracks: list[FaceTrack], embedding: np.ndarray, t: float,
               step: float) -> FaceTrack | None:
    """For a picked face no track holds at `t` (the tracker lost it there): the track of
    the same person (identity distance under 0.6) among those absent at `t`, nearest first;
    a track present at `t` is another face there, so never it. None when there is none."""
    scored = [(identity_distance(tr.embedding, embedding), tr) for tr in tracks
              if tr.embedding is not None and _at(tr, t, step) is None]
    dist, best = min(scored, key=lambda x: x[0], default=(SAME_PERSON, None))
    return best if dist < SAME_PERSON else None
