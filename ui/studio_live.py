"""The studio's Live tab: the browser's camera streams to this machine, the swapped frames
stream back, with the frame rate and delay measured as they come.

Each browser gets its own live swapper (video/live.py: causal landmark smoothing, the visible
"synthetic" label on every frame) for the source photo it gave; like every face edit, only
with the consent box ticked. Frames that arrive while one is being swapped are answered with
the newest result rather than queued, so the delay never grows.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import gradio as gr
import numpy as np

from retake.core.errors import RetakeError
from retake.ui.session import GENERATED, IMAGE_TYPES, check_type

STREAM_EVERY = 0.04  # seconds between the frames the page sends (25 per second at most)
TIME_LIMIT = 600  # seconds one stream may run before the page must start it again


@dataclass
class Live:
    """One browser's live swap: the photo it is for, the swapper, when it started."""

    photo: str
    swap: object  # video.live.LiveSwap
    started: float = field(default_factory=time.monotonic)
    busy: threading.Lock = field(default_factory=threading.Lock)
    last: np.ndarray | None = None


class LiveJobs:
    """The Live tab's jobs (a part of `Studio`)."""

    def _live(self, s, photo: str) -> Live:
        """The session's live swapper for `photo` (a new one when the photo changes)."""
        from retake.video.engines import build_swapper
        from retake.video.faces import FaceModels
        from retake.video.live import LiveSwap

        live = getattr(s, "live", None)
        if live is None or live.photo != photo:
            models = FaceModels()  # its own: a dlib detector is not shared between threads
            swapper = build_swapper("landmark", models, source=photo)
            live = Live(photo, LiveSwap(swapper, models, label=True))
            s.live = live
        return live

    def live_frame(self, frame: np.ndarray | None, photo: str | None, agreed: bool,
                   request) -> tuple[np.ndarray | None, str]:
        """One camera frame in, the swapped frame and the measured rate out."""
        if frame is None:
            return None, "Waiting for the camera…"
        if not agreed:
            return None, "Tick the consent box above to start the live swap."
        s = self.session(request)
        src = check_type(photo, IMAGE_TYPES, "a source face photo")
        live = self._live(s, str(src))
        if not live.busy.acquire(blocking=False):  # still on the previous frame: never queue
            return (live.last if live.last is not None else None), stats_line(live.swap)
        try:
            out = live.swap.frame(np.ascontiguousarray(frame[..., :3]),
                                  time.monotonic() - live.started)
            live.last = out
        finally:
            live.busy.release()
        return out, stats_line(live.swap)

    def live_stop(self, request) -> str:
        """The camera stopped: forget the swapper, say what the stream did."""
        s = self.session(request)
        live = getattr(s, "live", None)
        s.live = None
        return ("Stopped. " + stats_line(live.swap)) if live is not None else ""


def stats_line(swap) -> str:
    """The live swap's rate and delay in words."""
    st = swap.stats()
    if not st.get("frames"):
        return "Starting…"
    share = st.get("swapped", 0) / max(1, st["frames"])
    line = (f"**{st.get('fps', 0):.1f} fps** delivered · delay {st.get('latency_p50_ms', 0):.0f} "
            f"ms typical, {st.get('latency_p95_ms', 0):.0f} ms at worst (p95) · face swapped "
            f"on {share:.0%} of {st['frames']} frames")
    if st.get("no_face_s", 0) >= 1:
        line += f" · no face in view for {st['no_face_s']:.0f} s: show your face to the camera"
    return line + f" · {GENERATED}"


def inline(rgb: np.ndarray) -> str:
    """A frame as an <img> with a JPEG data URL (about 4 ms at 640x480)."""
    import base64
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=82)
    data = base64.b64encode(buf.getvalue()).decode()
    return (f'<div style="font-size:12px;color:#666">Live ({GENERATED})</div>'
            f'<img alt="live swap, {GENERATED}" style="width:100%;height:auto" '
            f'src="data:image/jpeg;base64,{data}">')


def live_tab(studio, agreed) -> None:
    """The Live tab's widgets and events."""
    self, guard = studio, studio.guard
    with gr.Tab("Live"):
        gr.Markdown("Swap your face live, from this browser's camera: pick a source photo, "
                    "tick the consent box, start the camera. Every frame carries a visible "
                    "\"synthetic\" label; nothing is recorded.")
        with gr.Row():
            photo = gr.Image(label="Source face (photo)", type="filepath",
                             elem_id="live-photo")
            cam = gr.Image(label="Camera", sources=["webcam"], streaming=True,
                           type="numpy", elem_id="live-cam")
            # Frames go back inline (a JPEG data URL), never as files: the studio serves
            # files only to their owner, and 25 files a second would fill its cache.
            out = gr.HTML(label=f"Live ({GENERATED})", elem_id="live-out",
                          min_height=240)
        stats = gr.Markdown(elem_id="live-stats")

        @guard
        def do_frame(frame, p, ok, request: gr.Request):
            try:
                img, line = self.live_frame(frame, p, ok, request)
            except RetakeError as exc:
                return gr.skip(), str(exc)
            return (inline(img) if img is not None else gr.skip()), line

        def do_stop(request: gr.Request):
            return self.live_stop(request)

        cam.stream(do_frame, [cam, photo, agreed], [out, stats], stream_every=STREAM_EVERY,
                   time_limit=TIME_LIMIT, concurrency_limit=None, show_progress="hidden")
        cam.clear(do_stop, None, stats)
