"""Helpers for tests: encode generated audio (and video) into real container formats, and
place a face at a known size and place in a generated frame."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np


def encode_audio(path: Path, samples: np.ndarray, rate: int, codec: str, channels: int = 1,
                 out_rate: int | None = None, video: bool = False) -> Path:
    """Write mono float samples with PyAV as `codec` in the container `path` implies.

    channels=2 writes the same signal (slightly attenuated on the right) to both channels;
    video=True adds a small moving test picture, as in a screen recording.
    """
    import av

    out_rate = out_rate or rate
    if out_rate != rate:
        from retake.align.audio import resample

        samples = resample(samples, rate, out_rate)
    layout = "stereo" if channels == 2 else "mono"
    with av.open(str(path), "w") as container:
        vstream = None
        if video:
            vstream = container.add_stream("libx264", rate=25)
            vstream.width, vstream.height, vstream.pix_fmt = 64, 48, "yuv420p"
        astream = container.add_stream(codec, rate=out_rate)
        astream.layout = layout
        fmt = astream.codec_context.codec.audio_formats[0].name
        data = np.stack([samples, samples * 0.9]) if channels == 2 else samples[None, :]
        frame_size = astream.codec_context.frame_size or 1024
        pts = 0
        for i in range(0, data.shape[1], frame_size):
            chunk = np.ascontiguousarray(data[:, i:i + frame_size].astype(np.float32))
            if chunk.shape[1] < frame_size and codec in ("aac", "libmp3lame", "libopus"):
                chunk = np.pad(chunk, ((0, 0), (0, frame_size - chunk.shape[1])))
            frame = av.AudioFrame.from_ndarray(
                chunk if fmt.endswith("p") else chunk.T.reshape(1, -1).copy(),
                format="fltp" if fmt.endswith("p") else "flt", layout=layout)
            frame.sample_rate = out_rate
            frame.pts = pts
            frame.time_base = Fraction(1, out_rate)
            pts += chunk.shape[1]
            for packet in astream.encode(frame):
                container.mux(packet)
        for packet in astream.encode(None):
            container.mux(packet)
        if vstream is not None:
            n = int(len(samples) / out_rate * 25)
            for k in range(n):
                img = np.full((48, 64, 3), 40, np.uint8)
                img[:, (k * 2) % 64] = 255
                vf = av.VideoFrame.from_ndarray(img, format="rgb24")
                for packet in vstream.encode(vf):
                    container.mux(packet)
            for packet in vstream.encode(None):
                container.mux(packet)
    return path


def place_face(canvas: np.ndarray, rgb: np.ndarray, box: np.ndarray, width: int,
               centre: tuple[int, int]) -> np.ndarray:
    """Paste the face of `rgb` (detector `box`) into `canvas`, scaled to `width` px wide
    and centred on `centre`, with 1.2 face widths of its surroundings; the box it now has.
    """
    import cv2

    k = width / (box[2] - box[0])
    small = cv2.resize(rgb, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    b = np.asarray(box, float) * k
    cx, cy = round((b[0] + b[2]) / 2), round((b[1] + b[3]) / 2)
    pad = round(1.2 * width)
    y0, y1 = max(0, cy - pad), min(small.shape[0], cy + pad)
    x0, x1 = max(0, cx - pad), min(small.shape[1], cx + pad)
    dx, dy = centre[0] - cx, centre[1] - cy
    canvas[dy + y0:dy + y1, dx + x0:dx + x1] = small[y0:y1, x0:x1]
    return b + [dx, dy, dx, dy]
