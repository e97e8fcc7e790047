"""Video and image I/O at the edges: decode frames with PyAV, write h264 + aac mp4 atomically.

Frames inside the library are RGB uint8 arrays of shape (height, width, 3), each with its
presentation time in seconds. Writing keeps each frame's own timestamp, so variable frame
rate input stays in sync, and copies the source's audio (re-encoded to AAC).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from retake.core.atomic import atomic_path
from retake.core.errors import VideoError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}


@dataclass(frozen=True)
class VideoInfo:
    """What a video holds: size, nominal rate, frame count (estimated), duration, audio."""

    width: int
    height: int
    fps: Fraction
    frames: int
    duration: float
    has_audio: bool


@dataclass
class Frame:
    """One decoded picture: its index in decode order, time in seconds and RGB pixels."""

    index: int
    time: float
    rgb: np.ndarray
    pts: int | None = None


def is_image(path: str | os.PathLike) -> bool:
    """True when the path names a still image by its suffix."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read a still image as RGB uint8 (alpha dropped, EXIF rotation applied)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    p = Path(path)
    if not p.is_file():
        raise VideoError(f"{p}: no such file")
    try:
        with Image.open(p) as im:
            im = ImageOps.exif_transpose(im)
            return np.asarray(im.convert("RGB")).copy()
    except (UnidentifiedImageError, OSError) as exc:
        raise VideoError(f"{p}: not a readable image ({exc})") from None


def write_image(path: str | os.PathLike, rgb: np.ndarray, fast: bool = False) -> None:
    """Write an RGB image atomically; the format follows the suffix.

    `fast` trades PNG size for speed (zlib level 1: ~5x faster, ~30% larger), for bulk
    writes such as faceset crops.
    """
    import cv2

    suffix = Path(path).suffix.lower()
    if suffix in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, 95]
    elif suffix == ".webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, 95]
    else:
        suffix, params = ".png", [cv2.IMWRITE_PNG_COMPRESSION, 1 if fast else 6]
    ok, data = cv2.imencode(suffix, np.ascontiguousarray(rgb[..., ::-1]), params)
    if not ok:
        raise VideoError(f"{path}: could not encode the image")
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data.tobytes())


def _open(path: str | os.PathLike):
    import av

    p = Path(path)
    if not p.is_file():
        raise VideoError(f"{p}: no such file")
    if p.stat().st_size == 0:
        raise VideoError(f"{p}: the file is empty")
    try:
        container = av.open(str(p))
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise VideoError(f"{p}: not a readable video ({exc})") from None
    if not container.streams.video:
        container.close()
        raise VideoError(f"{p}: holds no video stream")
    return container


def probe(path: str | os.PathLike) -> VideoInfo:
    """Read a video's header: size, rate, estimated frame count, duration, audio presence."""
    container = _open(path)
    try:
        v = container.streams.video[0]
        fps = v.average_rate or v.guessed_rate or Fraction(25)
        if v.duration is not None and v.time_base is not None:
            duration = float(v.duration * v.time_base)
        elif container.duration:
            duration = container.duration / 1e6
        else:
            duration = 0.0
        frames = v.frames or round(duration * float(fps))
        return VideoInfo(v.codec_context.width, v.codec_context.height, Fraction(fps),
                         int(frames), duration, bool(container.streams.audio))
    finally:
        container.close()


def read_frames(path: str | os.PathLike, start: int = 0) -> Iterator[Frame]:
    """Decode a video's frames in order as RGB, from frame index `start` on.

    A damaged packet is skipped with a warning; a file that yields no frame at all is an error.
    """
    import av

    container = _open(path)
    n = 0
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        tb = stream.time_base
        packets = container.demux(stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.error.FFmpegError as exc:
                log.warning("%s: stopped reading at a damaged packet (%s)", path, exc)
                break
            try:
                frames = packet.decode()
            except av.error.FFmpegError as exc:
                log.warning("%s: skipped a damaged packet (%s)", path, exc)
                continue
            for fr in frames:
                t = float(fr.pts * tb) if fr.pts is not None else n / float(stream.average_rate
                                                                          or 25)
                if n >= start:
                    yield Frame(n, t, fr.to_ndarray(format="rgb24"), fr.pts)
                n += 1
    finally:
        container.close()
    if n == 0:
        raise VideoError(f"{path}: no picture could be decoded")


def frame_pts(path: str | os.PathLike) -> tuple[list[int], list[int]]:
    """Presentation times of every video frame in order, and the frame numbers of the
    keyframes, from one demux pass (no decoding: a few ms per thousand frames)."""
    with contextlib.closing(_open(path)) as c:
        s = c.streams.video[0]
        pts, keys = [], []
        for pkt in c.demux(s):
            if pkt.pts is None or pkt.size == 0:
                continue
            pts.append(int(pkt.pts))
            if pkt.is_keyframe:
                keys.append(int(pkt.pts))
    order = sorted(pts)
    if len(set(order)) != len(order):
        raise VideoError(f"{path}: frames share presentation times; cannot split it")
    index = {p: i for i, p in enumerate(order)}
    return order, sorted(index[k] for k in keys)


def read_range(path: str | os.PathLike, start: int, stop: int, pts: list[int],
               keys: list[int]) -> Iterator[Frame]:
    """Frames `start` <= index < `stop`, decoded from the keyframe at or before `start`.

    Frame numbers and times equal `media.read_frames`' (numbered by presentation order)."""
    index = {p: i for i, p in enumerate(pts)}
    key = max((k for k in keys if k <= start), default=0)
    with contextlib.closing(_open(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        tb = s.time_base
        if key > 0:
            c.seek(pts[key], stream=s, backward=True, any_frame=False)
        seen_start = False
        for fr in c.decode(s):
            i = index.get(fr.pts)
            if i is None:
                raise VideoError(f"{path}: decoded a frame with an unknown time ({fr.pts})")
            if i < start:
                continue
            if i >= stop:
                break
            if not seen_start and i != start:
                raise VideoError(f"{path}: seeking landed after frame {start}")
            seen_start = True
            yield Frame(i, float(fr.pts * tb), fr.to_ndarray(format="rgb24"), fr.pts)


def read_frames_backward(path: str | os.PathLike, stop: int, start: int = 0,
                         budget_bytes: int = 256 << 20,
                         index: tuple[list[int], list[int]] | None = None) -> Iterator[Frame]:
    """Frames stop-1, stop-2, ..., start of a video, in that order, without decoding it all
    into memory: pieces of about `budget_bytes` are decoded from the keyframe before them
    (`read_range`) and given back reversed. `index` is `frame_pts(path)` if known."""
    pts, keys = index or frame_pts(path)
    info = probe(path)
    cap = max(8, budget_bytes // max(1, info.width * info.height * 3))
    end = stop
    while end > start:
        first = max(start, end - cap)
        yield from reversed(list(read_range(path, first, end, pts, keys)))
        end = first


def read_audio_track(path: str | os.PathLike) -> tuple[np.ndarray, int] | None:
    """The video's first audio stream as (float32 samples × channels, rate), or None."""
    import av

    container = _open(path)
    try:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        chunks = []
        rate = stream.codec_context.sample_rate
        for fr in container.decode(stream):
            a = fr.to_ndarray()
            if a.dtype != np.float32:
                a = a.astype(np.float32) / (np.iinfo(a.dtype).max if a.dtype.kind == "i" else 1)
            if fr.format.is_planar:
                a = a.T
            else:
                a = a.reshape(-1, fr.layout.nb_channels if hasattr(fr.layout, "nb_channels")
                              else len(fr.layout.channels))
            chunks.append(a)
        if not chunks:
            return None
        return np.concatenate(chunks).astype(np.float32, copy=False), rate
    except av.error.FFmpegError as exc:
        log.warning("%s: audio could not be decoded (%s); writing without it", path, exc)
        return None
    finally:
        container.close()


class VideoWriter:
    """Write RGB frames to an h264 (yuv420p) mp4, with optional AAC audio, atomically.

    Use as a context manager; nothing appears at `path` unless the block completes.
    The default quality (CRF 10) keeps frames a dub leaves untouched at ≥ 40 dB PSNR from
    their decoded source (CRF 18 gives ~37 dB on talking-head footage); pass a higher
    `crf` for smaller files.
    Frames given with a time keep it (variable rate stays in sync with the audio);
    frames without one are spaced by `fps`.
    """

    def __init__(self, path: str | os.PathLike, fps: Fraction | float, width: int, height: int,
                 audio: tuple[np.ndarray, int] | None = None, crf: int = 10,
                 preset: str = "veryfast", metadata: dict[str, str] | None = None) -> None:
        self.path = Path(path)
        self.fps = Fraction(fps).limit_denominator(100000)
        self.width, self.height = width + width % 2, height + height % 2
        self.audio = audio
        self.crf, self.preset = crf, preset
        self.metadata = metadata or {}
        self._ctx = None
        self._n = 0
        self._last_pts = -1

    def __enter__(self) -> VideoWriter:
        import av

        self._ctx = atomic_path(self.path)
        tmp = self._ctx.__enter__()
        self.container = av.open(tmp, mode="w", format="mp4")
        for k, v in self.metadata.items():
            self.container.metadata[k] = v
        self.stream = self.container.add_stream("libx264", rate=self.fps)
        self.stream.width, self.stream.height = self.width, self.height
        self.stream.pix_fmt = "yuv420p"
        self.stream.time_base = Fraction(1, 90000)
        # The encoder's clock too: else timestamps snap to the 1/fps grid (VFR drifts and
        # frames closer than 1/fps are refused).
        self.stream.codec_context.time_base = Fraction(1, 90000)
        self.stream.codec_context.options = {"crf": str(self.crf), "preset": self.preset}
        self.audio_stream = None
        if self.audio is not None:
            rate = self.audio[1]
            channels = 1 if self.audio[0].ndim == 1 else min(self.audio[0].shape[1], 2)
            self.audio_stream = self.container.add_stream("aac", rate=rate)
            self.audio_stream.layout = "mono" if channels == 1 else "stereo"
            self.audio_stream.bit_rate = 128000
        return self

    def write(self, rgb: np.ndarray, time: float | None = None) -> None:
        """Append one frame, shown at `time` seconds (default: index / fps)."""
        import av

        if rgb.shape[0] != self.height or rgb.shape[1] != self.width:
            rgb = np.pad(rgb, ((0, self.height - rgb.shape[0]), (0, self.width - rgb.shape[1]),
                               (0, 0)), mode="edge")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        t = self._n / self.fps if time is None else Fraction(time).limit_denominator(90000)
        pts = max(int(round(t * 90000)), self._last_pts + 1)
        frame.pts, frame.time_base = pts, Fraction(1, 90000)
        self._last_pts = pts
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self._n += 1

    def _write_audio(self) -> None:
        import av

        samples, rate = self.audio
        if samples.ndim == 1:
            samples = samples[:, None]
        samples = samples[:, :2]
        layout = "mono" if samples.shape[1] == 1 else "stereo"
        stream = self.audio_stream
        # A second at a time: an hour's track as one frame took four copies of it.
        for start in range(0, len(samples), rate):
            part = np.clip(samples[start:start + rate], -1, 1).astype(np.float32)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(part.T), format="fltp",
                                               layout=layout)
            frame.sample_rate = rate
            frame.pts = start
            frame.time_base = Fraction(1, rate)
            for packet in stream.encode(frame):
                self.container.mux(packet)
        for packet in stream.encode(None):
            self.container.mux(packet)

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                for packet in self.stream.encode(None):
                    self.container.mux(packet)
                if self._n == 0:
                    raise VideoError(f"{self.path}: no frames to write")
                if self.audio_stream is not None:
                    self._write_audio()
        finally:
            self.container.close()
            self._ctx.__exit__(exc_type, exc, tb)
