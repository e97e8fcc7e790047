"""Dubbing: a text edit of a talking-head video, end to end, into one mp4.

align (the video's own speech) → voice edit (new words in the speaker's voice, with a
TimeMap) → retime the picture with the TimeMap → re-render the mouth only where speech
changed, from the speaker's own mouths → optional face swap → mux with the edited audio.
Analysis is cached on disk (alignment and unit index by the voice editor, face tracks by
content hash), so re-running after a small change of text redoes only the edit itself.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retake.awareness.provenance import Provenance, edit_action
from retake.core.atomic import atomic_group
from retake.core.errors import FaceError, VideoError
from retake.core.progress import Progress, stage
from retake.video.lipsync import MouthFrame, _bank_from_video, phones_of, resync
from retake.video.media import VideoWriter, probe
from retake.video.retime import iter_retimed, plan_retime, source_frame_times
from retake.video.visemes import frame_visemes

DISCLOSURE = "Made with Retake: the speech in this file was edited and the mouth re-rendered " \
             "(synthetic media)."


@dataclass
class DubResult:
    """What a dub did, for the CLI and the report."""

    frames: int = 0
    mouth_frames: int = 0
    untouched: int = 0
    swapped: int = 0  # frames whose face was swapped (with a swap photo)
    edits: list[dict] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    # output frame -> source frame whose mouth was drawn there (for checks and benches)
    mouths: dict[int, int] = field(default_factory=dict)


def _landmarks(track, recipe) -> np.ndarray | None:
    """The face's landmarks in an output frame: its source's, or the blend of a dissolve's."""
    pts = [track.at(s) for s in recipe.sources]
    if any(p is None for p in pts) or not pts:
        return None
    return np.sum([w * p for w, p in zip(recipe.shape_weights, pts, strict=True)], axis=0)


def _merge(spans: list[tuple[float, float]], gap: float = 0.05) -> list[tuple[float, float]]:
    """Adjacent frame spans joined into ranges."""
    out: list[list[float]] = []
    for a, b in spans:
        if out and a - out[-1][1] <= gap:
            out[-1][1] = b
        else:
            out.append([a, b])
    return [(round(a, 3), round(b, 3)) for a, b in out]


def output_paths(out: str | os.PathLike) -> list[Path]:
    """Every file `dub` writes for OUT.mp4: the video, its alignment, time map, report and
    OpenTimelineIO timeline."""
    out = Path(out)
    stem = out.with_suffix("")
    return [out, Path(f"{stem}.json"), Path(f"{stem}.timemap.json"),
            Path(f"{stem}.report.json"), Path(f"{stem}.otio")]


def dub(video: str | os.PathLike, out: str | os.PathLike, new_text: str,
        transcript: str | None = None, editor=None, options=None, models=None,
        swap_source: str | os.PathLike | None = None, cache_dir: Path | None = None,
        progress: Progress | None = None,
        provenance: Provenance = Provenance()) -> DubResult:
    """Make the speaker in `video` say `new_text`; write OUT.mp4 plus its alignment
    (OUT.json), time map (OUT.timemap.json), edit report (OUT.report.json) and the edit as
    an OpenTimelineIO timeline (OUT.otio: video and audio tracks, cuts and new spans).

    `transcript` is what the video says now (transcribed when None). `swap_source`, a
    photo, also swaps the face (landmark engine).
    """
    from retake.align import load_audio, transcribe
    from retake.video.blend import merge
    from retake.video.faces import FaceModels
    from retake.video.track import choose, load_tracks
    from retake.voice import EditOptions, Editor
    from retake.voice.otio import relative_url, timeline

    video = Path(video)
    out = Path(out)
    info = probe(video)
    if not info.has_audio:
        raise VideoError(f"{video}: has no audio track; there is no speech to edit")
    models = models or FaceModels()
    editor = editor or Editor(cache_dir=cache_dir)

    sound = load_audio(video)
    text = transcript if transcript is not None else transcribe(sound).text
    rec = editor.load(sound, text, progress=progress)
    result = editor.edit(rec, new_text, options or EditOptions())
    # The analysed recording and the editor (with its voice models) are not needed past
    # the edit: let them go before the faces are tracked and the video is rendered (a
    # caller's own editor stays theirs).
    del sound, rec
    editor = None
    timemap = result.timemap
    tracks = load_tracks(video, models, cache_dir=cache_dir, progress=progress)
    if not tracks:
        raise FaceError(f"{video}: no face found in any of its {info.frames} frames")
    track = choose(tracks)[0]
    times = source_frame_times(video)
    recipes = plan_retime(timemap, times, info.fps)
    bank = _bank_from_video(video, track)
    out_times = np.array([r.time for r in recipes])
    visemes = frame_visemes(phones_of(result.alignment), out_times)
    swapper = None
    if swap_source is not None:
        from retake.video.media import read_image
        from retake.video.swap_landmark import LandmarkSwapper, source_face

        rgb = read_image(swap_source)
        swapper = LandmarkSwapper(rgb, source_face(rgb, models))

    res = DubResult(frames=len(recipes))
    faces = [_landmarks(track, r) for r in recipes]  # once per output frame

    def frames() -> Iterator[MouthFrame]:
        for k, t, rgb, recipe in iter_retimed(video, recipes, track):
            lms = faces[k]
            res.mouth_frames += recipe.mouth
            res.untouched += recipe.untouched
            yield MouthFrame(k, t, rgb, lms, visemes[k] if recipe.mouth else None)

    report = stage(progress, "rendering")
    _, *names = output_paths(out)
    otio_json = timeline(timemap, result.report, relative_url(video, names[-1]), float(info.fps),
                   out.name, video=True).to_json_string() + "\n"
    sidecars = dict(zip(names, (result.alignment.to_json(), timemap.to_json(),
                                result.report.to_json(), otio_json), strict=True))
    # The mp4 is signed before the group (mp4 + sidecars) is published: never an unsigned dub.
    with atomic_group([out, *sidecars]) as (tmp, *tmp_sidecars):
        with VideoWriter(tmp, info.fps, info.width, info.height,
                         audio=(result.samples, result.sample_rate),
                         metadata={"comment": DISCLOSURE}) as writer:
            for k, rgb in enumerate(resync(frames(), bank, chosen_log=res.mouths)):
                if swapper is not None:
                    lms = faces[k]
                    if lms is not None:
                        rgb = merge(rgb, swapper.render(rgb, lms), lms)
                        res.swapped += 1
                writer.write(rgb, float(out_times[k]))
                if report:
                    report(k + 1, len(recipes))
        # Let the faces and mouths go before signing.
        del writer, tracks, bank
        fps = float(info.fps)
        mouth = [(recipes[i].time, recipes[i].time + 1 / fps) for i in range(len(recipes))
                 if recipes[i].mouth]
        actions = [edit_action("mouth re-rendered where the speech changed", _merge(mouth))]
        edited = [video]
        if swap_source is not None:
            actions.append(edit_action("face swapped (landmark engine)"))
            edited.append(Path(swap_source))
        provenance.sign_file(tmp, actions, edited,
                             synthetic_spans=[(e.start, e.end)
                                              for e in result.report.synthesized],
                             title=out.name)
        for tmp_path, body in zip(tmp_sidecars, sidecars.values(), strict=True):
            Path(tmp_path).write_text(body, encoding="utf-8")
    res.outputs.extend(str(p) for p in sidecars)
    res.outputs.insert(0, str(out))
    res.edits = json.loads(result.report.to_json()).get("edits", [])
    return res
