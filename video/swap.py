"""Face swap on a video or a still image: track, render with an engine, merge, mux.

Frames are decoded twice (once to track faces, cached on disk; once to swap), so memory
stays bounded for long videos. The output keeps the input's frame timing, size and audio,
and its metadata says it was made with Retake. Frames where the chosen face is absent are
copied unchanged and reported.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retake.awareness.provenance import Provenance, edit_action
from retake.core.atomic import atomic_group
from retake.core.errors import FaceError
from retake.core.progress import Progress, stage
from retake.video.blend import REUSE_EVERY, MergeOptions, Reuse, merge
from retake.video.brows import refine_brows
from retake.video.faces import FaceModels
from retake.video.media import (
    VideoWriter,
    is_image,
    probe,
    read_audio_track,
    read_frames,
    read_image,
    write_image,
)
from retake.video.swappers import Swapper
from retake.video.track import TrackOptions, choose, load_tracks

log = logging.getLogger(__name__)

DISCLOSURE = "Made with Retake: the face in this file was swapped (synthetic media)."


@dataclass
class SwapResult:
    """What a swap did: frames written, frames swapped, frames with no face."""

    frames: int = 0
    swapped: int = 0
    missing: list[int] = field(default_factory=list)
    seconds: float = 0.0

    def missing_ranges(self) -> str:
        """Frames without a face as compact ranges, e.g. '12-30, 41'."""
        out, run = [], []
        for f in self.missing + [None]:
            if run and (f is None or f != run[-1] + 1):
                out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
                run = []
            if f is not None:
                run.append(f)
        return ", ".join(out)


@dataclass(frozen=True)
class FaceChoice:
    """Which target face(s) to swap: largest, all, reference (embedding) or position."""

    how: str = "largest"
    reference: np.ndarray | None = None
    position: tuple[float, float] | None = None


def _sign(tmp: str, out: str | os.PathLike, target: str | os.PathLike, swapper: Swapper,
          provenance: Provenance) -> None:
    provenance.sign_file(tmp, [edit_action(f"face swapped ({swapper.name} engine)")],
                         [target], title=Path(out).name)


def swap_image(target: str | os.PathLike, out: str | os.PathLike, swapper: Swapper,
               models: FaceModels, choice: FaceChoice | None = None,
               merge_options: MergeOptions | None = None,
               provenance: Provenance = Provenance()) -> SwapResult:
    """Swap the face(s) in a still image and write the result atomically."""
    from retake.video.track import FaceTrack

    rgb = read_image(target)
    boxes = models.detect(rgb, upsample=1 if max(rgb.shape[:2]) < 500 else 0, full=True)
    if not boxes:
        raise FaceError(f"{target}: no face found in the image")
    tracks = []
    for i, b in enumerate(boxes):
        lms = refine_brows(rgb, models.landmarks(rgb, b))
        t = FaceTrack(i, [0], [0.0], [b], [lms], [lms])
        if choice and choice.how == "reference":
            t.embeddings[0] = models.embed(rgb, lms)
        tracks.append(t)
    c = choice or FaceChoice()
    chosen = choose(tracks, c.how, c.reference, c.position, (rgb.shape[1], rgb.shape[0]))
    frame = rgb
    for t in chosen:
        frame = merge(frame, swapper.render(frame, t.landmarks[0]), t.landmarks[0],
                      merge_options)
    with atomic_group([out]) as (tmp,):  # signed before it is published
        write_image(tmp, frame)
        _sign(tmp, out, target, swapper, provenance)
    return SwapResult(1, 1)


def swap_video(target: str | os.PathLike, out: str | os.PathLike, swapper: Swapper,
               models: FaceModels, choice: FaceChoice | None = None,
               merge_options: MergeOptions | None = None,
               track_options: TrackOptions | None = None, cache_dir: Path | None = None,
               progress: Progress | None = None,
               provenance: Provenance = Provenance()) -> SwapResult:
    """Swap the chosen face through a video; same timing, size and audio; h264 + aac mp4.

    `progress(stage, done, total)` reports 'tracking' then 'swapping'.
    """
    import time

    t0 = time.perf_counter()
    info = probe(target)
    c = choice or FaceChoice()

    tracks = load_tracks(target, models, track_options, cache_dir, progress)
    if not tracks:
        raise FaceError(f"{target}: no face found in any of its {info.frames} frames")
    chosen = choose(tracks, c.how, c.reference, c.position, (info.width, info.height))
    audio = read_audio_track(target)
    result = SwapResult()
    report = stage(progress, "swapping")
    # Per face, the merge's slow-changing decisions (softening, hairline, edge light) are
    # measured every few frames, as live does: a fifth less work a frame, the same look.
    reuse = [Reuse(every=REUSE_EVERY) for _ in chosen]
    with atomic_group([out]) as (tmp,):  # signed before it is published
        with VideoWriter(tmp, info.fps, info.width, info.height, audio=audio,
                         metadata={"comment": DISCLOSURE}) as writer:
            for fr in read_frames(target):
                frame = fr.rgb
                hit = False
                for t, kept in zip(chosen, reuse, strict=True):
                    lms = t.at(fr.index)
                    if lms is None:
                        continue
                    frame = merge(frame, swapper.render(frame, lms), lms, merge_options,
                                  kept)
                    hit = True
                if hit:
                    result.swapped += 1
                else:
                    result.missing.append(fr.index)
                writer.write(frame, fr.time)
                result.frames += 1
                if report:
                    report(result.frames, info.frames)
        del audio, writer, tracks, chosen  # not needed to sign: let them go first
        _sign(tmp, out, target, swapper, provenance)
    if result.missing:
        log.warning("%s: no face in frames %s (copied unchanged)", target,
                    result.missing_ranges())
    result.seconds = time.perf_counter() - t0
    return result


def swap(target: str | os.PathLike, out: str | os.PathLike, swapper: Swapper,
         models: FaceModels, **kwargs) -> SwapResult:
    """Swap a video or a still image, chosen by the target's file type."""
    if is_image(target):
        kwargs.pop("track_options", None)
        kwargs.pop("cache_dir", None)
        kwargs.pop("progress", None)
        return swap_image(target, out, swapper, models, **kwargs)
    return swap_video(target, out, swapper, models, **kwargs)


__all__ = ["DISCLOSURE", "FaceChoice", "SwapResult", "swap",
           "swap_image", "swap_video"]
