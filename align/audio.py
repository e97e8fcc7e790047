"""Audio in and out at the edges of the library: decode anything FFmpeg reads, write wav atomically.

Inside the library audio is a mono float32 numpy array plus an explicit sample rate. Decoding
uses PyAV (FFmpeg inside the wheel), so wav, flac, mp3, ogg, m4a and the audio of a video
all work without system libraries. Decoded frames are placed by their timestamps, so a
damaged packet leaves a gap of silence rather than shifting everything after it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retake.core.errors import AudioError

log = logging.getLogger(__name__)

#: Sample rate the aligners work at.
ALIGN_RATE = 16000


@dataclass(frozen=True)
class Audio:
    """Mono float32 samples in [-1, 1] at `sample_rate` Hz, plus what went wrong reading them."""

    samples: np.ndarray
    sample_rate: int
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / float(self.sample_rate)


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample mono float32 audio with soxr's high-quality filter."""
    if from_rate == to_rate:
        return samples.astype(np.float32, copy=False)
    import soxr

    return soxr.resample(samples.astype(np.float32, copy=False), from_rate, to_rate, "HQ")


def resampled_blocks(samples: np.ndarray, from_rate: int, to_rate: int,
                     block: int = 1 << 20) -> Iterator[np.ndarray]:
    """`resample(samples, from_rate, to_rate)` a block at a time, never held whole: the same
    samples (soxr's stream gives what its one-shot call gives, to the bit)."""
    if from_rate == to_rate:
        for a in range(0, len(samples), block):
            yield samples[a:a + block].astype(np.float32, copy=False)
        return
    import soxr

    stream = soxr.ResampleStream(from_rate, to_rate, 1, dtype="float32", quality="HQ")
    for a in range(0, len(samples), block):
        piece = samples[a:a + block].astype(np.float32, copy=False)
        yield stream.resample_chunk(piece, last=a + block >= len(samples))


LOW_RATE = 16000  # below this, speech is band-limited (telephone, old recorders)
CLIP_LEVEL = 0.999  # of full scale
CLIP_RUN = 3  # consecutive samples at full scale: a flattened peak, not a loud sample


def clipped_runs(samples: np.ndarray, block: int = 1 << 20) -> int:
    """How many times the waveform sits flat at full scale for CLIP_RUN samples or more
    (looked at block by block, so a long recording costs no copy of itself)."""
    hot = [np.flatnonzero(np.abs(samples[a:a + block]) >= CLIP_LEVEL) + a
           for a in range(0, len(samples), block)]
    idx = np.concatenate(hot) if hot else np.zeros(0, np.int64)
    if not len(idx):
        return 0
    breaks = np.flatnonzero(np.diff(idx) != 1)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks + 1, [len(idx)]))
    return int(np.count_nonzero(ends - starts >= CLIP_RUN))


class _Buffer:
    """A float32 buffer written front to back, grown by a quarter when it is too short."""

    def __init__(self, capacity: int) -> None:
        self.data = np.zeros(max(1, capacity), np.float32)

    def put(self, at: int, values: np.ndarray) -> None:
        end = at + len(values)
        if end > len(self.data):
            grown = np.zeros(max(end, len(self.data) + len(self.data) // 4), np.float32)
            grown[:len(self.data)] = self.data
            self.data = grown
        self.data[at:end] = values

    def take(self, n: int) -> np.ndarray:
        """The first n samples, the rest of the buffer given back."""
        if n >= len(self.data):
            return self.data
        out = self.data
        out.resize(n, refcheck=False)
        return out


def load_audio(path: str | os.PathLike, sample_rate: int | None = None) -> Audio:
    """Decode the first audio stream of any file FFmpeg reads into mono float32.

    `sample_rate=None` keeps the file's own rate. Raises AudioError with a one-line reason for
    a missing, unreadable, empty or audio-less file.
    """
    import av

    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: the file is empty (0 bytes)")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise AudioError(
            f"{path}: not a readable audio or video file ({_reason(exc)})"
        ) from None
    warnings: list[str] = []
    with container:
        if not container.streams.audio:
            raise AudioError(f"{path}: has no audio stream (it holds {_describe(container)})")
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate or stream.rate
        if not rate:
            raise AudioError(f"{path}: the audio stream has no sample rate")
        mono = av.AudioResampler(format="flt", layout="mono", rate=rate)
        declared = float(container.duration) / 1e6 if container.duration else None
        # One buffer sized from the declared length (grown if the file holds more), so a
        # long recording is held once, not as decoded pieces plus their concatenation.
        buf = _Buffer(int(min(declared, 3 * 3600) * rate * 1.01) + rate if declared
                      else 60 * rate)
        cursor = 0
        origin: float | None = None
        damaged = 0
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                damaged += 1
                continue
            for frame in frames:
                when = frame.time
                for out in mono.resample(frame):
                    data = out.to_ndarray().reshape(-1)
                    if when is not None:
                        if origin is None:
                            origin = min(when, 0.0) if when < 0.05 else 0.0
                        at = int(round((when - origin) * rate))
                        if at > cursor + rate // 100:  # a gap of more than 10 ms: damaged data
                            cursor = at
                        when = None
                    buf.put(cursor, data)
                    cursor += len(data)
        for out in mono.resample(None):
            data = out.to_ndarray().reshape(-1)
            buf.put(cursor, data)
            cursor += len(data)
    if damaged:
        warnings.append(
            f"{path}: {damaged} damaged audio packet(s) skipped; gaps filled with silence"
        )
    if cursor == 0:
        raise AudioError(f"{path}: holds no audio samples (empty or truncated)")
    samples = buf.take(cursor)
    got = cursor / rate
    if declared and got < 0.9 * declared - 0.5:
        warnings.append(
            f"{path}: the file says {declared:.2f} s but only {got:.2f} s could be decoded "
            "(truncated?)"
        )
    clipped = clipped_runs(samples)
    if clipped:
        warnings.append(
            f"{path}: the audio is clipped in {clipped} place(s) (recorded too loud); new words "
            "next to them may sound harsher than the rest"
        )
    if rate < LOW_RATE:
        warnings.append(
            f"{path}: recorded at {rate} Hz (telephone quality); it is edited at that rate, "
            "and recognition and alignment are less sure"
        )
    np.clip(samples, -1.0, 1.0, out=samples)
    if sample_rate and sample_rate != rate:
        samples = resample(samples, rate, sample_rate)
        rate = sample_rate
    for w in warnings:
        log.warning(w)
    return Audio(samples, int(rate), tuple(warnings))


_IMAGE_CODECS = {"png", "mjpeg", "bmp", "gif", "webp", "tiff", "jpeg2000"}


def _describe(container) -> str:
    kinds = set()
    for s in container.streams:
        name = getattr(s.codec_context, "name", "") if s.type == "video" else ""
        kinds.add("an image" if name in _IMAGE_CODECS else f"{s.type}")
    return ", ".join(sorted(kinds)) or "nothing"


def _reason(exc: Exception) -> str:
    text = str(exc)
    if "Invalid data" in text:
        return "invalid or damaged data"
    return text.split(":")[0].strip() or type(exc).__name__


def write_wav(path: str | os.PathLike, samples: np.ndarray, sample_rate: int) -> None:
    """Write 16-bit PCM wav atomically (temp file, then rename)."""
    import soundfile as sf

    from retake.core.atomic import atomic_path

    with atomic_path(path) as tmp:
        sf.write(tmp, np.clip(samples, -1, 1), sample_rate, subtype="PCM_16", format="WAV")


def codec_roundtrip(x: np.ndarray, sr: int, codec: str, bitrate: int = 64000) -> np.ndarray:
    """Encode mono float audio with PyAV ('libmp3lame' or 'aac') in memory and decode it.

    What a file goes through when it is shared; used to test that marks and measures
    survive ordinary handling. Returns audio at `sr` (the codec may pad the start).
    """
    import io
    from fractions import Fraction

    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format={"libmp3lame": "mp3", "aac": "adts"}[codec]) as out:
        stream = out.add_stream(codec, rate=sr)
        stream.layout = "mono"
        stream.bit_rate = bitrate
        size = stream.codec_context.frame_size or 1152
        for i in range(0, len(x), size):
            chunk = np.zeros((1, size), np.float32)
            chunk[0, :len(x[i:i + size])] = x[i:i + size]
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = sr, i, Fraction(1, sr)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    buf.seek(0)
    with av.open(buf) as inp:
        frames = list(inp.decode(audio=0))
    y = np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(np.float32)
    return resample(y, frames[0].sample_rate, sr)
