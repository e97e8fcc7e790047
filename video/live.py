"""Live face swap: frames from a camera, a stream or a file, swapped as they arrive.

No look-ahead is possible, so tracking is causal: the face is detected when lost (and
every `detect_every` frames to re-anchor), landmarks come from the 68-point predictor on a
box predicted from the last frame, and a One Euro filter (`video/one_euro.py`) smooths them
in face-size units (a still head does not jitter, a turning head is not left behind; the
mouth and eyes get a looser cutoff so speech and blinks stay sharp). Rendering and merging
are the file swapper's own (`swappers.Swapper.render`, `blend.merge`), mouth handling
included. Every output frame carries a small "SYNTHETIC" label unless the caller turns it
off (only with consent recorded).

`run_live` reads frames on a capture thread that keeps only the newest one: a frame the
worker cannot take before the next arrives is dropped, never queued, so the output stays
live. Output frames keep their input timestamps; a `--record` file gets the input's audio
and is signed with Content Credentials before it is published.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from retake.awareness.provenance import Provenance, edit_action
from retake.core.errors import FaceError, RetakeError, VideoError
from retake.video.blend import REUSE_EVERY, MergeOptions, Reuse, merge
from retake.video.brows import refine_brows
from retake.video.faces import FaceModels, box_from_landmarks
from retake.video.geometry import LEFT_EYE, MOUTH, RIGHT_EYE, inter_ocular
from retake.video.one_euro import OneEuro
from retake.video.track import _plausible

log = logging.getLogger(__name__)

LABEL = "SYNTHETIC"
CAMERA_FORMATS = ("v4l2", "avfoundation", "dshow")
NO_FACE_NOTE_S = 1.0  # an absence this long is logged (once per absence)


def camera_source(device: str) -> str:
    """The `run_live` source naming a camera on this platform ("v4l2:/dev/video0")."""
    import sys

    fmt = "avfoundation" if sys.platform == "darwin" else \
        "dshow" if sys.platform.startswith("win") else "v4l2"
    if fmt == "dshow" and not device.startswith("video="):
        device = f"video={device}"
    return f"{fmt}:{device}"


def landmark_filter() -> OneEuro:
    """The One Euro filter for landmarks in inter-ocular units (tuned on the talking clips).

    Cutoffs in Hz: 1.5 for the face outline, brows and nose (dlib's noise there is the
    jitter a viewer sees), 4 for the mouth and 5 for the eyes; `beta` opens the cutoff with
    speed (inter-ocular distances per second), so a turn is followed within a few frames.
    """
    cut = np.full((68, 1), 1.5)
    cut[MOUTH] = 4.0
    cut[LEFT_EYE] = cut[RIGHT_EYE] = 5.0
    return OneEuro(min_cutoff=cut, beta=0.8, d_cutoff=1.0)


def _label_overlay(h: int, w: int, text: str = LABEL) -> tuple[slice, slice, np.ndarray,
                                                               np.ndarray]:
    """Where the label goes (bottom-right corner), its colour and alpha (both float32)."""
    import cv2

    scale = max(0.35, h / 900)
    thick = max(1, round(scale * 2))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    pad = max(3, round(th * 0.4))
    bw, bh = min(w, tw + 2 * pad), min(h, th + base + 2 * pad)
    margin = max(2, round(h * 0.015))
    y0, x0 = max(0, h - bh - margin), max(0, w - bw - margin)
    colour = np.zeros((bh, bw, 3), np.float32)
    ink = np.zeros((bh, bw), np.uint8)
    cv2.putText(ink, text, (pad, bh - pad - base), cv2.FONT_HERSHEY_SIMPLEX, scale, 255,
                thick, cv2.LINE_AA)
    ink_a = ink.astype(np.float32)[..., None] / 255
    colour[:] = 255 * ink_a
    alpha = 0.45 + 0.4 * ink_a  # a dark box at 45%, the letters at 85%
    return slice(y0, y0 + bh), slice(x0, x0 + bw), colour, alpha


def draw_label(rgb: np.ndarray, text: str = LABEL, _cache: dict | None = None) -> np.ndarray:
    """The frame with a small semi-transparent label in its bottom-right corner (a copy)."""
    h, w = rgb.shape[:2]
    key = (h, w, text)
    over = (_cache or {}).get(key) or _label_overlay(h, w, text)
    if _cache is not None:
        _cache[key] = over
    ys, xs, colour, alpha = over
    out = rgb.copy()
    region = out[ys, xs].astype(np.float32)
    out[ys, xs] = (region * (1 - alpha) + colour * alpha).round().astype(np.uint8)
    return out


def _textured(rgb: np.ndarray, landmarks: np.ndarray, min_std: float = 6.0) -> bool:
    """Is there anything to see where the landmarks sit? On a flat picture (lens covered,
    a blank screen) the predictor returns its mean shape, which looks plausible."""
    x0, y0 = np.maximum(landmarks.min(0), 0).astype(int)
    x1, y1 = landmarks.max(0).astype(int)
    patch = rgb[y0:y1:2, x0:x1:2]
    return patch.size > 0 and float(patch.std()) >= min_std


MAX_LIVE_IOD = 100.0  # px between the eyes above which a face is swapped at reduced scale


class LiveSwap:
    """Swaps faces frame by frame as they arrive (no look-ahead). Faces wider than
    `max_iod` pixels between the eyes are swapped at that size and laid back scaled up (a
    720p camera's near face cost ~70% more per frame than the same face at 480p)."""

    def __init__(self, swapper, models: FaceModels, *, label: bool = True,
                 keep_mouth: bool = False, detect_every: int = 15,
                 merge_options: MergeOptions | None = None,
                 max_iod: float | None = MAX_LIVE_IOD) -> None:
        self.swapper, self.models = swapper, models
        self.max_iod = max_iod
        self.label = label
        self.options = merge_options or MergeOptions(keep_mouth=keep_mouth)
        # The merge's slow-changing decisions (softening, hairline, edge light) measured
        # every few frames, not every frame.
        self.reuse = Reuse(every=REUSE_EVERY)
        self.detect_every = detect_every
        self.filter = landmark_filter()
        self._raw: np.ndarray | None = None  # the last frame's unfiltered landmarks
        self._offset = np.zeros(4)  # detector box minus landmark box, in box widths
        self._scale = 1.0  # the track's inter-ocular distance when found
        self._since_detect = 0
        self._lost = 0  # frames in a row without a face
        self._labels: dict = {}
        self._lat: list[float] = []
        self._cpu: list[float] = []
        self._frames = self._swapped = 0
        self.dropped = 0  # frames the caller dropped (counted by `run_live`)
        self._t_first: float | None = None
        self._t_last = 0.0
        self._no_face_s = 0.0
        self._absent_since: float | None = None
        self._noted = False
        self._last_t: float | None = None
        self._track_t: float | None = None

    # -- tracking --------------------------------------------------------------------
    def _detect(self, rgb: np.ndarray) -> np.ndarray | None:
        # While no face is in view, the slow full-size search (small faces) runs only on
        # every `detect_every`th frame, so an empty scene does not stall the stream.
        deep = self._raw is None and self._lost % self.detect_every == 0
        boxes = self.models.detect(rgb, deep=deep)
        if not boxes:
            self._lost += self._raw is None
            return None
        self._lost = 0
        if self._raw is not None:  # the face followed so far, not someone passing by
            c, reach = self._raw.mean(0), np.ptp(self._raw[:, 0])

            def dist(b: np.ndarray) -> float:
                return float(np.hypot((b[0] + b[2]) / 2 - c[0], (b[1] + b[3]) / 2 - c[1]))

            boxes = sorted((b for b in boxes if dist(b) < reach), key=dist)
            if not boxes:
                return None
        box = boxes[0]
        lms = self.models.landmarks(rgb, box)
        b = box_from_landmarks(lms)
        self._offset = (box - b) / max(b[2] - b[0], 1.0)
        return lms

    def _track(self, rgb: np.ndarray) -> np.ndarray | None:
        """This frame's raw landmarks (None: no face in view).

        The predictor runs on the box predicted from the last frame; the detector runs when
        that fails and every `detect_every` frames (to re-anchor; when it misses a face the
        predictor still follows, e.g. a turned head, the followed face is kept).
        """
        lms = None
        if self._raw is not None:
            b = box_from_landmarks(self._raw)
            box = b + self._offset * (b[2] - b[0])
            cand = self.models.landmarks(rgb, box)
            if _plausible(cand, box) and _textured(rgb, cand):
                lms = cand
                self._since_detect += 1
        if lms is None or self._since_detect >= self.detect_every:
            found = self._detect(rgb)
            if found is not None:
                lms = found
            self._since_detect = 0
        if lms is None:
            self._raw = None
        return lms

    def landmarks(self, rgb: np.ndarray, t: float) -> np.ndarray | None:
        """The filtered landmarks of the followed face at `t` seconds, or None."""
        found = self._raw is not None
        raw = self._track(rgb)
        if raw is None:
            self.filter.reset()
            return None
        if not found:
            self.filter.reset()
            self._scale = max(inter_ocular(raw), 1.0)
        self._raw = raw
        return self.filter(refine_brows(rgb, raw) / self._scale, t) * self._scale

    # -- one frame -------------------------------------------------------------------
    def frame(self, rgb: np.ndarray, t: float) -> np.ndarray:
        """The swapped frame for input `rgb` captured at `t` seconds (the input, labelled,
        when no face is in view); never raises for a frame without a face."""
        return self.process(rgb, t, time.perf_counter())

    def process(self, rgb: np.ndarray, t: float, captured: float) -> np.ndarray:
        """`frame`, with latency counted from `captured` (a `time.perf_counter()` value)."""
        c0 = time.thread_time()
        t, lms = self.track(rgb, t)
        out, lms = self.compose(rgb, lms)
        self.account(t, lms is None, captured, time.thread_time() - c0)
        return out

    def track(self, rgb: np.ndarray, t: float) -> tuple[float, np.ndarray | None]:
        """Step 1 (frames in order): the time used and the filtered landmarks, or None."""
        if self._track_t is not None and t <= self._track_t:
            t = self._track_t + 1e-3  # the filter needs time to move forward
        self._track_t = t
        return t, self.landmarks(rgb, t)

    def compose(self, rgb: np.ndarray, lms: np.ndarray | None
                ) -> tuple[np.ndarray, np.ndarray | None]:
        """Step 2 (any order, thread-safe): the swapped, labelled frame; None landmarks
        when nothing was swapped."""
        out = rgb
        if lms is not None:
            try:
                iod = inter_ocular(lms)
                if self.max_iod and iod > self.max_iod:
                    out = self._compose_scaled(rgb, lms, self.max_iod / iod)
                else:
                    out = merge(rgb, self.swapper.render(rgb, lms), lms, self.options,
                                self.reuse)
            except FaceError:  # the face left the frame: show the input
                lms = None
        if self.label:
            out = draw_label(out, _cache=self._labels)
        return out, lms

    def _compose_scaled(self, rgb: np.ndarray, lms: np.ndarray, scale: float) -> np.ndarray:
        """A large face (a near camera, 720p and up) rendered and merged at `scale`, then laid
        back at full size where the swap changed the picture: the work per frame stays that
        of a face `max_iod` pixels across, and the rest of the frame keeps its sharpness."""
        import cv2

        iod = inter_ocular(lms)
        h, w = rgb.shape[:2]
        x0, y0 = np.floor(lms.min(0) - [1.0 * iod, 1.4 * iod]).astype(int)
        x1, y1 = np.ceil(lms.max(0) + [1.0 * iod, 0.8 * iod]).astype(int)
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        crop = rgb[y0:y1, x0:x1]
        small = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        sy, sx = small.shape[0] / crop.shape[0], small.shape[1] / crop.shape[1]
        local = (lms - [x0, y0]) * [sx, sy]
        merged = merge(small, self.swapper.render(small, local), local, self.options,
                       self.reuse)
        # Only the box the swap changed goes back up (an upscale of the whole crop cost
        # more than the smaller merge saved on a face just over the cap).
        d = cv2.absdiff(merged, small)
        changed = (np.maximum(np.maximum(d[..., 0], d[..., 1]), d[..., 2]) > 1
                   ).astype(np.uint8)
        bx, by, bw, bh = cv2.boundingRect(changed)
        out = rgb.copy()
        if bw == 0:
            return out
        g = 4  # the dilation and blur below reach 4 px
        bx0, by0 = max(bx - g, 0), max(by - g, 0)
        bx1, by1 = min(bx + bw + g, small.shape[1]), min(by + bh + g, small.shape[0])
        weight = cv2.GaussianBlur(cv2.dilate(changed[by0:by1, bx0:bx1].astype(np.float32),
                                             np.ones((3, 3), np.uint8)), (0, 0), 1.0)
        # The box in the crop's pixels, sampled where a resize of the whole crop samples.
        cx0, cy0 = int(np.floor(bx0 / sx)), int(np.floor(by0 / sy))
        cx1 = min(int(np.ceil(bx1 / sx)), crop.shape[1])
        cy1 = min(int(np.ceil(by1 / sy)), crop.shape[0])
        back = np.float32([[sx, 0, (cx0 + 0.5) * sx - 0.5 - bx0],
                           [0, sy, (cy0 + 0.5) * sy - 0.5 - by0]])
        size = (cx1 - cx0, cy1 - cy0)
        inverse = cv2.WARP_INVERSE_MAP
        up = cv2.warpAffine(merged[by0:by1, bx0:bx1], back, size,
                            flags=cv2.INTER_CUBIC | inverse, borderMode=cv2.BORDER_REPLICATE)
        wt = np.clip(cv2.warpAffine(weight, back, size, flags=cv2.INTER_LINEAR | inverse,
                                    borderMode=cv2.BORDER_CONSTANT) * 1.5, 0, 1)
        here = (slice(y0 + cy0, y0 + cy1), slice(x0 + cx0, x0 + cx1))
        out[here] = cv2.blendLinear(up, rgb[here], wt, 1 - wt)
        return out

    def account(self, t: float, absent: bool, captured: float, cpu: float = 0.0) -> None:
        """Step 3 (frames in order): count the frame, its latency and the CPU seconds its
        tracking and swap took, note absences."""
        self._cpu.append(cpu * 1000)
        self._absence(absent, t)
        self._swapped += not absent
        self._frames += 1
        now = time.perf_counter()
        self._lat.append((now - captured) * 1000)
        if self._t_first is None:
            self._t_first = captured
        self._t_last = now
        self._last_t = t

    def _absence(self, absent: bool, t: float) -> None:
        if absent:
            if self._absent_since is None:
                self._absent_since = t
            elif self._last_t is not None:
                self._no_face_s += t - self._last_t
            if not self._noted and t - self._absent_since >= NO_FACE_NOTE_S:
                log.warning("no face in view since %.1f s: frames pass through labelled; "
                            "the swap resumes when the face returns", self._absent_since)
                self._noted = True
        else:
            if self._noted:
                log.warning("face back in view at %.1f s: swapping again", t)
            self._absent_since, self._noted = None, False

    def stats(self) -> dict:
        """Frames, swapped, dropped, fps delivered, latency p50/p95 (ms), seconds without
        a face; and `cpu_ms`, the mean CPU time one frame's tracking and swap took (what
        the machine could give at most, if nothing else ran: 1000 / cpu_ms per core)."""
        span = self._t_last - (self._t_first or self._t_last)
        lat = np.array(self._lat) if self._lat else np.zeros(1)
        return {"frames": self._frames, "swapped": self._swapped, "dropped": self.dropped,
                "fps": round((self._frames - 1) / span, 2) if span > 0 else 0.0,
                "latency_p50_ms": round(float(np.percentile(lat, 50)), 1),
                "latency_p95_ms": round(float(np.percentile(lat, 95)), 1),
                "no_face_s": round(self._no_face_s, 2),
                "cpu_ms": round(float(np.mean(self._cpu)), 1) if self._cpu else 0.0}


# -- capture ---------------------------------------------------------------------------
@dataclass
class _Captured:
    index: int
    time: float
    pts: int | None
    rgb: np.ndarray
    at: float  # perf_counter when it was released


class _Latest:
    """A one-frame slot: `put` replaces what was not yet taken (that frame is dropped)."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.item: _Captured | None = None
        self.closed = False
        self.error: str | None = None
        self.dropped: list[int] = []

    def put(self, item: _Captured, wait: bool) -> None:
        with self.cond:
            while wait and self.item is not None and not self.closed:
                self.cond.wait(0.1)
            if self.item is not None:
                self.dropped.append(self.item.index)
            self.item = item
            self.cond.notify_all()

    def take(self) -> _Captured | None:
        with self.cond:
            while self.item is None and not self.closed:
                self.cond.wait(0.1)
            item, self.item = self.item, None
            self.cond.notify_all()
            return item

    def close(self, error: str | None = None) -> None:
        with self.cond:
            self.closed, self.error = True, self.error or error
            self.cond.notify_all()


def _open_source(source: str):
    """The PyAV container for a file, URL or "FORMAT:DEVICE" camera; one error line else."""
    import av

    fmt, _, dev = source.partition(":")
    camera = fmt in CAMERA_FORMATS and bool(dev)
    if not camera and "://" not in source:
        p = Path(source)
        if not p.is_file():
            raise VideoError(f"{source}: no such file")
    try:
        container = av.open(dev if camera else source, format=fmt if camera else None,
                            options={"framerate": "30"} if fmt == "avfoundation" else {},
                            timeout=10.0)
    except (av.error.FFmpegError, OSError, UnicodeDecodeError, ValueError) as exc:
        what = "camera" if camera else "input"
        raise VideoError(f"{dev if camera else source}: the {what} could not be opened "
                         f"({exc}); check the device or path") from None
    if not container.streams.video:
        container.close()
        raise VideoError(f"{source}: holds no video stream")
    return container, camera


def _capture(container, slot: _Latest, realtime: bool, stop: threading.Event,
             max_frames: int | None, camera: bool) -> None:
    """Decode frames into `slot`; a file in realtime is released on its own timestamps."""
    import av

    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    tb = stream.time_base or Fraction(1, 90000)
    rate = float(stream.average_rate or 25)
    t0 = start = None
    n = 0
    try:
        for fr in container.decode(stream):
            if stop.is_set() or (max_frames is not None and n >= max_frames):
                break
            t = float(fr.pts * tb) if fr.pts is not None else n / rate
            if t0 is None:
                t0, start = t, time.perf_counter()
            if realtime and not camera:
                delay = start + (t - t0) - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            slot.put(_Captured(n, t, fr.pts, fr.to_ndarray(format="rgb24"),
                               time.perf_counter()), wait=not realtime)
            n += 1
        if camera and not stop.is_set() and (max_frames is None or n < max_frames):
            slot.close(f"the camera stopped delivering frames after {n}")
    except (av.error.FFmpegError, OSError) as exc:
        slot.close(f"the {'camera' if camera else 'input'} stopped delivering frames "
                   f"after {n} ({exc})")
    finally:
        slot.close(None if n else "no picture could be decoded")


# -- the live loop ---------------------------------------------------------------------
@dataclass
class LiveResult:
    """What a live run did: its stats, why it ended, where it recorded, frames dropped."""

    stats: dict
    ended: str = "end of input"
    record: Path | None = None
    dropped: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # input times of the frames output


def _virtual_camera(w: int, h: int, fps: float):
    try:
        import pyvirtualcam
    except ImportError:
        raise RetakeError("--virtual-camera needs pyvirtualcam: run `make install`") from None
    try:
        return pyvirtualcam.Camera(w, h, fps, fmt=pyvirtualcam.PixelFormat.RGB)
    except (RuntimeError, OSError, ValueError) as exc:
        raise RetakeError(f"no virtual camera device here ({exc}); on Linux load "
                          "v4l2loopback (sudo modprobe v4l2loopback exclusive_caps=1), on "
                          "macOS or Windows install OBS's virtual camera") from None


class _Sinks:
    """The record file (h264 + the input's audio) and/or the virtual camera."""

    def __init__(self, record: Path | None, tmp: str | None, virtual: bool, fps: float,
                 audio, comment: str) -> None:
        self.record, self.tmp, self.virtual = record, tmp, virtual
        self.fps, self.audio, self.comment = fps, audio, comment
        self.writer = self.cam = None
        self.t0: float | None = None

    def send(self, rgb: np.ndarray, t: float, camera: bool) -> None:
        from retake.video.media import VideoWriter

        h, w = rgb.shape[:2]
        if self.virtual and self.cam is None:
            self.cam = _virtual_camera(w, h, self.fps)
        if self.tmp is not None and self.writer is None:
            self.writer = VideoWriter(self.tmp, Fraction(self.fps).limit_denominator(1001),
                                      w, h, audio=self.audio, crf=16, preset="ultrafast",
                                      metadata={"comment": self.comment})
            self.writer.__enter__()
        if self.t0 is None:
            self.t0 = t if camera else 0.0  # a camera's clock starts anywhere
        if self.writer is not None:
            self.writer.write(rgb, t - self.t0)
        if self.cam is not None:
            self.cam.send(np.ascontiguousarray(rgb))

    def close(self, failed: bool) -> None:
        if self.cam is not None:
            self.cam.close()
        if self.writer is not None:
            exc = (RuntimeError, RuntimeError("aborted"), None) if failed else (None,) * 3
            self.writer.__exit__(*exc)


def _timed(compose: Callable) -> Callable:
    """`compose` also returning the CPU seconds it took (this thread's)."""
    def run(rgb: np.ndarray, lms: np.ndarray | None):
        c0 = time.thread_time()
        out, lms = compose(rgb, lms)
        return out, lms, time.thread_time() - c0
    return run


_WORKER: dict = {}  # inside a compose worker process only: its LiveSwap


def _init_worker(swapper, options: MergeOptions, label: bool, max_iod: float | None) -> None:
    import cv2

    # One worker per core: OpenCV's own thread pool in each would fight the others.
    cv2.setNumThreads(1)
    _WORKER["compose"] = _timed(LiveSwap(swapper, None, label=label, merge_options=options,
                                         max_iod=max_iod).compose)


def _compose_in_worker(rgb: np.ndarray, lms: np.ndarray | None):
    return _WORKER["compose"](rgb, lms)


def _process_pool(workers: int, live: LiveSwap):
    """Worker processes for the render-and-merge stage (threads would share one core: the
    merge holds the GIL for much of its time), started and warmed before capture begins;
    None when the swapper cannot be sent to a process (then threads do it)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_worker,
                               initargs=(live.swapper, live.options, live.label,
                                         live.max_iod))
    try:
        probe = np.zeros((8, 8, 3), np.uint8)
        for f in [pool.submit(_compose_in_worker, probe, None) for _ in range(workers)]:
            f.result(timeout=120)
    except Exception as exc:  # noqa: BLE001 - e.g. a model that cannot be pickled
        log.info("render workers unavailable (%s); using threads", exc)
        pool.shutdown(cancel_futures=True)
        return None
    return pool


class _Pipeline:
    """Worker threads: each takes the newest frame and tracks it (in order, one at a time),
    renders and merges it (side by side), then sends it on in capture order."""

    def __init__(self, live: LiveSwap, slot: _Latest, sinks: _Sinks, camera: bool,
                 result: LiveResult, progress, compose: Callable | None = None) -> None:
        self.live, self.slot, self.sinks, self.camera = live, slot, sinks, camera
        self.compose = compose or _timed(live.compose)
        self.result, self.progress = result, progress
        self.take_lock, self.turn = threading.Lock(), threading.Condition()
        self.seq = self.next_out = 0
        self.error: BaseException | None = None
        self.threads: list[threading.Thread] = []

    def run(self, workers: int) -> None:
        self.threads = [threading.Thread(target=self._work, daemon=True,
                                         name=f"retake-live-{i}") for i in range(workers)]
        for th in self.threads:
            th.start()
        for th in self.threads:
            while th.is_alive():
                th.join(0.2)

    def halt(self) -> None:
        """Wait for the workers to finish (the slot is closed first)."""
        with self.turn:
            self.turn.notify_all()
        for th in self.threads:
            th.join(5)

    def _work(self) -> None:
        live = self.live
        try:
            while self.error is None:
                with self.take_lock:
                    item = self.slot.take()
                    if item is None:
                        return
                    c0 = time.thread_time()
                    n, self.seq = self.seq, self.seq + 1
                    t, lms = live.track(item.rgb, item.time)
                    cpu = time.thread_time() - c0
                out, lms, spent = self.compose(item.rgb, lms)
                cpu += spent
                with self.turn:
                    while self.next_out != n and self.error is None:
                        self.turn.wait(0.1)
                    if self.error is not None:
                        return
                    try:
                        self.sinks.send(out, item.time, self.camera)
                        live.account(t, lms is None, item.at, cpu)
                        self.result.times.append(item.time)
                        live.dropped = len(self.slot.dropped)
                        if self.progress:
                            self.progress("live", live._frames, 0)
                    finally:
                        self.next_out += 1
                        self.turn.notify_all()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            with self.turn:
                self.error = self.error or exc
                self.turn.notify_all()
            self.slot.close()


def run_live(source: str, swapper, models: FaceModels, *, record: Path | None = None,
             virtual_camera: bool = False, label: bool = True, realtime: bool = True,
             progress: Callable[[str, int, int], None] | None = None,
             provenance: Provenance | None = None, keep_mouth: bool = False,
             max_frames: int | None = None, workers: int | None = None,
             max_iod: float | None = MAX_LIVE_IOD) -> LiveResult:
    """Swap faces live from `source` (a file, a stream URL or `camera_source(DEVICE)`).

    A file plays at its own rate when `realtime` (frames the swap cannot keep up with are
    dropped); without it every frame is swapped (tests, batch). Output goes to `record`
    (an mp4 with the input's timestamps and audio, signed) and/or a virtual camera.
    `label=False` needs consent recorded in `provenance`. `max_frames` stops early;
    `workers` processes render and merge frames side by side (tracking stays in order,
    in this process); default 2; 1 does it all in this process. Faces wider than `max_iod`
    pixels between the eyes are swapped at that size (None: always at full size).
    Returns the stats and why it ended ("end of input", "disconnected", "stopped").
    """
    from retake.core.atomic import atomic_group
    from retake.video.swap import DISCLOSURE

    provenance = provenance or Provenance()
    if not label and not provenance.consent:
        raise RetakeError("--label off is allowed only with consent recorded (--consent "
                          "or --consent-recording)")
    if record is None and not virtual_camera:
        raise RetakeError("nowhere to send the live output: give --record OUT.mp4 and/or "
                          "--virtual-camera")
    if record is not None and Path(record).suffix.lower() != ".mp4":
        raise RetakeError(f"{record}: the live recording is an .mp4 file")
    container, camera = _open_source(source)
    audio = None
    if record is not None and not camera and Path(source).is_file():
        from retake.video.media import read_audio_track

        audio = read_audio_track(source)
    stream = container.streams.video[0]
    fps = float(stream.average_rate or stream.guessed_rate or 25)
    live = LiveSwap(swapper, models, label=label, keep_mouth=keep_mouth, max_iod=max_iod)
    workers = max(1, workers or 2)
    slot, stop = _Latest(), threading.Event()
    thread = threading.Thread(target=_capture, daemon=True, name="retake-live-capture",
                              args=(container, slot, realtime, stop, max_frames, camera))
    result = LiveResult({}, record=Path(record) if record is not None else None)
    outs = [record] if record is not None else []
    stack = contextlib.ExitStack()
    try:
        with stack, atomic_group(outs) as tmps:
            sinks = _Sinks(result.record, tmps[0] if tmps else None, virtual_camera, fps,
                           audio, DISCLOSURE)
            failed = True
            pool = _process_pool(workers, live) if workers > 1 else None
            if pool is not None:
                stack.callback(pool.shutdown, cancel_futures=True)
            compose = None if pool is None else \
                lambda rgb, lms: pool.submit(_compose_in_worker, rgb, lms).result()
            thread.start()
            pipe = _Pipeline(live, slot, sinks, camera, result, progress, compose)
            try:
                pipe.run(workers)
                failed = pipe.error is not None
            except KeyboardInterrupt:
                result.ended, failed = "stopped", False
            finally:
                stop.set()
                slot.close()
                pipe.halt()
                thread.join(5)
                sinks.close(failed)
            if pipe.error is not None:
                raise pipe.error
            if slot.error and result.ended != "stopped":
                if live.stats()["frames"] == 0:
                    raise VideoError(f"{source}: {slot.error}")
                result.ended = "disconnected"
                log.warning("%s: %s; stopped cleanly, keeping what was recorded", source,
                            slot.error)
            if tmps and sinks.writer is None:
                raise VideoError(f"{source}: no frame arrived to record")
            if tmps:
                provenance.sign_file(
                    tmps[0], [edit_action(f"face swapped live ({swapper.name} engine)")],
                    [] if camera or not Path(source).is_file() else [source],
                    title=Path(record).name)
    finally:
        container.close()
    live.dropped = len(slot.dropped)
    result.dropped = list(slot.dropped)
    result.stats = live.stats()
    return result


__all__ = ["LABEL", "LiveResult", "LiveSwap", "camera_source", "draw_label",
           "landmark_filter", "run_live"]
