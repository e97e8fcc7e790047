"""Lip-sync: make a face's mouth say a given speech track, from the video's own mouths.

`resync` is the engine every caller shares: it takes frames in order, each flagged with the
viseme it must show (None: leave the frame untouched), gathers runs of flagged frames,
chooses real mouths for each run from a `MouthBank` and paints them in. `lipsync` drives it
with a whole new audio track (aligned to its transcript) over a video, looping the picture
forward and back when the speech is longer, or over a still photo (a talking photo).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from retake.awareness.provenance import Provenance, edit_action
from retake.core.atomic import atomic_group
from retake.core.errors import FaceError
from retake.core.progress import Progress
from retake.video.mouth import MouthBank, MouthRenderer, mouth_box, paste, pose_of, select_mouths
from retake.video.visemes import frame_visemes

log = logging.getLogger(__name__)

DISCLOSURE = "Made with Retake: the mouth in this file was re-rendered to new speech " \
             "(synthetic media)."


@dataclass
class MouthFrame:
    """One frame on its way out: pixels, face landmarks (or None) and the viseme to show."""

    index: int
    time: float
    rgb: np.ndarray
    landmarks: np.ndarray | None
    viseme: str | None


def phones_of(alignment) -> list[tuple[float, float, str]]:
    """(start, end, ARPAbet label) of every aligned phone, in time order."""
    return sorted((p.start, p.end, p.label) for p in alignment.phones())


def guessed_phones(alignment, speech: np.ndarray, rate: int
                   ) -> tuple[list[tuple[float, float, str]], int]:
    """Dictionary phones for the words the aligner could not place, spread evenly over the
    speech between their aligned neighbours (so the mouth still moves through a word the
    aligner lost, where a still mouth would say nothing), and how many words that was."""
    from retake.align.g2p import g2p

    words = alignment.words
    lost = [i for i, w in enumerate(words) if not w.aligned]
    if not lost:
        return [], 0
    active = _speaking(speech, rate)
    out: list[tuple[float, float, str]] = []
    i = 0
    while i < len(words):
        if words[i].aligned:
            i += 1
            continue
        j = i
        while j < len(words) and not words[j].aligned:
            j += 1
        a = words[i - 1].end if i > 0 else 0.0
        b = words[j].start if j < len(words) else alignment.duration
        a, b = _speech_within(active, a, b)
        labels = []
        for w in words[i:j]:
            try:
                labels += g2p(w.text, alignment.language)
            except Exception:  # noqa: BLE001 - a word with no pronunciation adds nothing
                continue
        if labels and b - a > 0.05:
            step = (b - a) / len(labels)
            out += [(a + k * step, a + (k + 1) * step, lab) for k, lab in enumerate(labels)]
        i = j
    return out, len(lost)


def _speaking(x: np.ndarray, rate: int) -> np.ndarray:
    """Per 10 ms frame: whether it is louder than the quiet floor by 15 dB (speech)."""
    n = max(1, int(0.01 * rate))
    frames = x[: len(x) // n * n].reshape(-1, n) if len(x) >= n else x.reshape(1, -1)
    db = 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-10)
    return db > np.percentile(db, 10) + 15


def _speech_within(active: np.ndarray, a: float, b: float) -> tuple[float, float]:
    """The first and last speaking moments inside [a, b] (an empty interval if none)."""
    lo, hi = int(a / 0.01), int(np.ceil(b / 0.01))
    idx = np.flatnonzero(active[lo:hi])
    if not len(idx):
        return a, a
    return (lo + idx[0]) * 0.01, (lo + idx[-1] + 1) * 0.01


def _same_picture(a: MouthFrame | None, b: MouthFrame) -> bool:
    """Whether frame b shows exactly frame a's picture and face (a held source frame)."""
    return (a is not None and a.landmarks is not None and b.landmarks is not None
            and np.array_equal(a.landmarks, b.landmarks) and np.array_equal(a.rgb, b.rgb))


# The most pixels a run of frames waiting for their mouths may hold (bytes): 250 frames of
# a 512x512 video, 30 of a 1080p one (a talking photo's frames are the photo's size).
RUN_BYTES = 200 * 2**20


def resync(frames: Iterable[MouthFrame], bank: MouthBank, longest: int = 250,
           progress: Progress | None = None, total: int = 0,
           chosen_log: dict[int, int] | None = None,
           max_bytes: int = RUN_BYTES) -> Iterator[np.ndarray]:
    """Yield each frame's pixels, with the mouth re-rendered on flagged frames.

    Runs of flagged frames are solved together (at most `longest` frames and `max_bytes` of
    pixels at a time, each chunk joined to the last mouth of the previous one), so memory
    stays bounded whatever the frame size. A flagged frame
    that repeats the previous one's picture (a hold dwelling at its turning point) never
    gets the previous frame's mouth again, even in silence: that would be an exact copy of
    the frame before, which no camera makes.
    `chosen_log`, if given, receives {frame index: bank frame number} of every mouth drawn.
    """
    renderer = MouthRenderer(bank)
    run: list[MouthFrame] = []
    still: list[bool] = []
    last: int | None = None
    previous: MouthFrame | None = None

    def flush() -> Iterator[np.ndarray]:
        nonlocal last
        if not run:
            return
        chosen = select_mouths(bank, [f.viseme or "rest" for f in run], before=last,
                               poses=[pose_of(f.landmarks) for f in run], still=still)
        for f, s in zip(run, chosen, strict=True):
            r = renderer.render(f.rgb, f.landmarks, s, f.viseme or "rest")
            if chosen_log is not None and r is not None:
                chosen_log[f.index] = bank.samples[s].frame
            yield paste(f.rgb, r) if r is not None else f.rgb
        last = chosen[-1]
        run.clear()
        still.clear()

    for done, f in enumerate(frames, start=1):
        if f.viseme is not None and f.landmarks is not None:
            still.append(_same_picture(previous, f))
            run.append(f)
            if len(run) >= longest or len(run) * f.rgb.nbytes >= max_bytes:
                yield from flush()
        else:
            yield from flush()
            last = None
            yield f.rgb
        previous = f
        if progress:
            progress("lip-sync", done, total)
    yield from flush()


# The most pixels a mouth bank keeps (bytes): its 1500 mouths of a long 512x512 video took
# ~340 MB, of a 1080p one ~2 GB; evenly spread, a few hundred serve as well.
BANK_BYTES = 160 * 2**20


def _bank_from_video(path: str | os.PathLike, track, limit: int = 1500,
                     frames: Iterable | None = None,
                     max_bytes: int = BANK_BYTES) -> MouthBank:
    """The mouths of a video's tracked face (at most `limit` and about `max_bytes` of
    pixels, evenly spread); `frames`, if the caller already decoded them, saves decoding
    the video again."""
    from retake.video.media import read_frames

    bank = MouthBank([], 1.0)
    if track.frames:  # the crops' size from the track (unclipped: a little over)
        some = track.landmarks[:: max(1, len(track.frames) // 50)]
        boxes = [mouth_box(lms, (1 << 30, 1 << 30)) for lms in some]
        crop = float(np.mean([(x1 - x0) * (y1 - y0) * 3 for x0, y0, x1, y1 in boxes]))
        limit = max(50, min(limit, int(max_bytes / max(crop, 1.0))))
    step = max(1, len(track.frames) // limit)
    for fr in frames if frames is not None else read_frames(path):
        lms = track.at(fr.index)
        if lms is not None and fr.index % step == 0:
            bank.add(fr.index, fr.rgb, lms)
    return bank.finish()


def ping_pong(path: str | os.PathLike, n_out: int) -> Iterator:
    """`n_out` frames of a video played forward, then backward, then forward again (the
    picture under a longer speech track), decoded as they are needed: forward passes read
    the file in order, backward passes in pieces (`read_frames_backward`)."""
    from retake.video.media import frame_pts, read_frames, read_frames_backward

    index = frame_pts(path)
    n = len(index[0])
    given = 0
    forward = True
    while given < n_out:
        if forward:
            run = read_frames(path)
        else:  # back from the last-but-one frame to the second: the ends are not doubled
            run = read_frames_backward(path, n - 1, 1, index=index) if n > 2 else iter(())
        for fr in run:
            if given >= n_out:
                return
            yield fr
            given += 1
        forward = n == 1 or not forward  # a single frame is held


def _mark(samples: np.ndarray, rate: int, text: str) -> np.ndarray:
    """Every re-rendered mouth frame carries its audio's mark: the whole track is marked."""
    import hashlib

    from retake.awareness.watermark import Payload, WatermarkError, embed, version_code
    from retake.core.version import __version__

    edit_id = int.from_bytes(hashlib.sha256(f"lipsync|{text}".encode()).digest()[:3], "big")
    try:
        return embed(samples, rate, Payload(version_code(__version__), edit_id))
    except WatermarkError as exc:
        log.warning("could not watermark the lip-synced audio: %s", exc)
        return samples


def lipsync(face: str | os.PathLike, audio: str | os.PathLike, out: str | os.PathLike,
            transcript: str | None = None, models=None, cache_dir=None,
            fps: Fraction = Fraction(25),
            progress: Progress | None = None,
            close_bilabials: bool = True,
            provenance: Provenance = Provenance()) -> dict:
    """Re-render the mouth of `face` (a video or a photo) to say `audio`; write an mp4.

    The speech is aligned to `transcript` (transcribed first when None). A video's picture
    runs forward then backward as long as the speech needs; a photo is held, blinking, its
    head swaying slightly and nodding with the speech (`video/head_motion.py`). Returns a
    summary: frames written, speech duration, words aligned.

    `close_bilabials=False` imitates the many lip-sync generators that miss M/B/P
    closures (the mouth stays half open around them): for awareness demos and to test
    `retake detect`; never the default.
    """
    from retake.align import align, load_audio, transcribe
    from retake.video.faces import FaceModels
    from retake.video.media import VideoWriter, is_image, probe, read_image
    from retake.video.track import choose, load_tracks

    models = models or FaceModels()
    speech = load_audio(audio)
    text = transcript if transcript is not None else transcribe(speech).text
    al = align(speech, text)
    guessed, lost = guessed_phones(al, speech.samples, speech.sample_rate)
    phones = sorted(phones_of(al) + guessed)
    if not phones:
        raise FaceError(f"{audio}: no words to lip-sync were found in the speech (is it "
                        "silent, or is the transcript empty?)")
    if lost:
        log.warning("%d of %d words could not be aligned; their mouth shapes are spread "
                    "over the speech by dictionary", lost, len(al.words))
    n_out = max(1, int(round(speech.duration * float(fps))))
    if is_image(face):
        rgb = read_image(face)
        boxes = models.detect(rgb, upsample=1 if max(rgb.shape[:2]) < 500 else 0, full=True)
        if not boxes:
            raise FaceError(f"{face}: no face found in the photo")
        lms = models.landmarks(rgb, boxes[0])
        bank = MouthBank([], 1.0)
        bank.add(0, rgb, lms)
        bank.finish()
        width, height, rate = rgb.shape[1], rgb.shape[0], fps
        from retake.video.blink import blink_schedule, close_eyes
        from retake.video.head_motion import HeadMover, head_motion, loudness_per_frame

        blinks = blink_schedule(n_out, float(fps))  # a photo that never blinks gives it away
        # ... nor one whose head never moves: a slow sway, nodding with the speech.
        poses = head_motion(n_out, float(fps), loudness_per_frame(
            speech.samples, speech.sample_rate, n_out, float(fps)))
        mover = HeadMover(rgb, lms)

        def source(k: int) -> tuple[np.ndarray, np.ndarray | None]:
            return mover.move(close_eyes(rgb, lms, float(blinks[k])), lms, poses[k])
    else:
        info = probe(face)
        rate = info.fps
        width, height = info.width, info.height
        tracks = load_tracks(face, models, cache_dir=cache_dir)
        if not tracks:
            raise FaceError(f"{face}: no face found in any of its {info.frames} frames")
        track = choose(tracks)[0]
        bank = _bank_from_video(face, track)
        if not bank.samples:
            raise FaceError(f"{face}: no face found to lip-sync")
        n_out = max(1, int(round(speech.duration * float(rate))))
        frames = ping_pong(face, n_out)  # streamed: a long face video is never held

        def source(k: int) -> tuple[np.ndarray, np.ndarray | None]:
            fr = next(frames)
            return fr.rgb, track.at(fr.index)

    times = np.arange(n_out) / float(rate)
    visemes = frame_visemes(phones, times)
    if not close_bilabials:
        shut = [i for i, v in enumerate(visemes) if v == "closed"]
        for i in shut:
            for j in range(max(0, i - 2), min(len(visemes), i + 3)):
                visemes[j] = "mid"

    def stream() -> Iterator[MouthFrame]:
        for k in range(n_out):
            rgb, lms = source(k)
            yield MouthFrame(k, float(times[k]), rgb, lms, visemes[k])

    audio_track = (_mark(speech.samples, speech.sample_rate, text), speech.sample_rate)
    with atomic_group([out]) as (tmp,):  # signed before it is published
        with VideoWriter(tmp, rate, width, height, audio=audio_track,
                         metadata={"comment": DISCLOSURE}) as writer:
            for k, rgb in enumerate(resync(stream(), bank, progress=progress, total=n_out)):
                writer.write(rgb, float(times[k]))
        provenance.sign_file(tmp, [edit_action("mouth re-rendered to say the audio track",
                                               [(0.0, round(n_out / float(rate), 3))])],
                             [face, audio], title=Path(out).name)
    return {"frames": n_out, "speech_s": round(speech.duration, 3),
            "words": len(al.words), "words_guessed": lost, "bank": len(bank.samples)}
