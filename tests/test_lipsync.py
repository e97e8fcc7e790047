"""Lip-sync: visemes, mouth choice, forced closure, untouched frames, talking photo/video."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import media

from retake.video.faces import FaceModels
from retake.video.media import probe, read_frames
from retake.video.visemes import BILABIAL, frame_visemes, lip_gap, phone_viseme

warnings.filterwarnings("ignore", category=UserWarning)

TEXT = "My mom bought a purple umbrella. Maybe both of them will pop by."


@pytest.fixture(scope="module")
def models() -> FaceModels:
    return FaceModels()


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> tuple[Path, object]:
    from retake.align.audio import write_wav
    from retake.align.espeak import synthesize

    s = synthesize(TEXT, rate_wpm=150)
    path = tmp_path_factory.mktemp("speech") / "speech.wav"
    write_wav(path, s.audio, s.sample_rate)
    return path, s


def test_phone_to_viseme_and_bilabials_always_seen() -> None:
    assert phone_viseme("M") == phone_viseme("B") == phone_viseme("P") == "closed"
    assert phone_viseme("AA1") == "open" and phone_viseme("SIL") == "rest"
    # A 20 ms /p/ between frames still gets a closed frame.
    phones = [(0.0, 0.30, "AA"), (0.30, 0.32, "P"), (0.32, 0.6, "AA")]
    times = np.arange(0, 0.6, 0.04)
    vis = frame_visemes(phones, times)
    assert vis.count("closed") == 1


def test_close_lips_and_shape_mouth() -> None:
    from retake.video.geometry import TEMPLATE
    from retake.video.mouth import close_lips, shape_mouth

    face = TEMPLATE * 200
    opened = shape_mouth(face, 0.35, 1.0)
    assert lip_gap(opened) == pytest.approx(0.35, abs=0.03)
    assert lip_gap(close_lips(opened)) < 0.01
    wide = shape_mouth(face, 0.1, 1.2)
    assert np.linalg.norm(wide[54] - wide[48]) > 1.15 * np.linalg.norm(face[54] - face[48])


def _katie_bank(models: FaceModels):
    from retake.video.mouth import MouthBank
    from retake.video.track import track_faces

    frames = list(read_frames(media("video", "WDA_KatieHill_000.mp4")))[:100]
    track = track_faces(frames, models)[0]
    bank = MouthBank([], 1.0)
    for f in frames:
        bank.add(f.index, f.rgb, track.at(f.index))
    return frames, track, bank.finish()


def test_mouth_choice_closes_on_bilabials_and_leaves_other_frames(models: FaceModels) -> None:
    from retake.video.lipsync import MouthFrame, resync

    frames, track, bank = _katie_bank(models)
    vis = [None] * 5 + ["closed"] * 3 + ["open"] * 4 + ["closed"] * 3 + [None] * 5
    seq = [MouthFrame(i, i / 25, frames[40 + i].rgb, track.at(40 + i), v)
           for i, v in enumerate(vis)]
    out = list(resync(iter(seq), bank))
    assert len(out) == len(seq)
    for f, o in zip(seq, out, strict=True):
        if f.viseme is None:
            assert o is f.rgb or np.array_equal(o, f.rgb)  # untouched, bit for bit
    gaps = []
    for f, o in zip(seq, out, strict=True):
        if f.viseme is not None:
            lms = models.landmarks(o, models.detect(o)[0])
            gaps.append((f.viseme, lip_gap(lms)))
    closed = [g for v, g in gaps if v == "closed"]
    opened = [g for v, g in gaps if v == "open"]
    assert np.median(closed) < 0.08 and np.median(opened) > 0.15, gaps


def test_lipsync_photo_to_speech(models: FaceModels, speech, tmp_path: Path) -> None:
    import skimage.data
    from PIL import Image

    from retake.video.lipsync import lipsync

    photo = tmp_path / "astro.png"
    Image.fromarray(skimage.data.astronaut()).save(photo)
    wav, synth = speech
    out = tmp_path / "talk.mp4"
    res = lipsync(photo, wav, out, transcript=TEXT, models=models)
    info = probe(out)
    duration = len(synth.audio) / synth.sample_rate
    assert info.has_audio
    assert info.frames == res["frames"] == round(duration * 25)
    assert abs(info.duration - duration) < 0.1
    # The mouth opens and shuts as dlib sees it (the head also sways, so compare shapes,
    # not pixels): its inner-lip gap spans far more than the photo's eye openness does.
    gaps, eyes = [], []
    for f in read_frames(out):
        if f.index % 3:
            continue
        boxes = models.detect(f.rgb, full=True)
        p = models.landmarks(f.rgb, boxes[0])
        gaps.append(lip_gap(p))
        eyes.append(np.linalg.norm(p[37] - p[41]) / np.linalg.norm(p[36] - p[39]))
    assert np.ptp(gaps) > 0.15
    assert np.percentile(gaps, 90) > 0.1 and min(gaps) < 0.05  # opens wide, closes
    assert np.median(np.abs(np.diff(eyes))) < 0.05  # eyes steady but for blinks


def test_lipsync_video_keeps_timing_and_closes_lips(models: FaceModels, speech,
                                                    tmp_path: Path) -> None:
    from retake.video.lipsync import lipsync, phones_of

    clip = media("video", "WDA_KatieHill_000.mp4")
    wav, _ = speech
    out = tmp_path / "ls.mp4"
    res = lipsync(clip, wav, out, transcript=TEXT, models=models)
    info = probe(out)
    assert info.frames == res["frames"] and info.has_audio
    from retake.align import align, load_audio

    phones = phones_of(align(load_audio(wav), TEXT))
    frames = {f.index: f.rgb for f in read_frames(out)}
    closed = 0
    bilabials = [(s + e) / 2 for s, e, lab in phones if lab.rstrip("012") in BILABIAL]
    for t in bilabials:
        k = int(round((t - 0.03) * 25))
        if k in frames:
            img = frames[k]
            lms = models.landmarks(img, models.detect(img)[0])
            closed += lip_gap(lms) < 0.12
    assert closed >= 0.75 * len(bilabials), (closed, len(bilabials))


def test_words_the_aligner_lost_still_move_the_mouth() -> None:
    """A word with no aligned phones gets its dictionary phones spread over the speech
    between its neighbours (a still mouth would say nothing); silence gets none."""
    from retake.align.types import Alignment, Phone, Word
    from retake.video.lipsync import guessed_phones

    rate = 16000
    t = np.arange(int(2.0 * rate)) / rate
    x = (0.2 * np.sin(2 * np.pi * 150 * t) * (t < 1.6)).astype(np.float32)
    x += np.random.default_rng(0).normal(0, 1e-4, len(x)).astype(np.float32)
    words = [Word("hello", 0.0, 0.5, 1.0, [Phone("HH", 0.0, 0.1), Phone("AH", 0.1, 0.5)]),
             Word("brave", 0.5, 0.5, 0.0, aligned=False),
             Word("world", 1.2, 1.6, 1.0, [Phone("W", 1.2, 1.6)]),
             Word("maybe", 1.6, 1.6, 0.0, aligned=False)]
    phones, lost = guessed_phones(Alignment(words, 2.0), x, rate)
    assert lost == 2
    assert [p[2].rstrip("012") for p in phones] == ["B", "R", "EY", "V"]
    assert phones[0][0] >= 0.5 - 1e-6 and phones[-1][1] <= 1.2 + 1e-6
    assert phones[-1][1] - phones[0][0] > 0.6  # spread over the gap, not piled up


def test_lipsync_refuses_speech_with_no_words(models: FaceModels, tmp_path: Path) -> None:
    import skimage.data
    from PIL import Image

    from retake.align.audio import write_wav
    from retake.core.errors import AudioError
    from retake.video.lipsync import lipsync

    photo = tmp_path / "astro.png"
    Image.fromarray(skimage.data.astronaut()).save(photo)
    wav = tmp_path / "quiet.wav"
    write_wav(wav, np.zeros(32000, np.float32), 16000)
    out = tmp_path / "talk.mp4"
    with pytest.raises(AudioError, match="silent"):
        lipsync(photo, wav, out, transcript="hello there", models=models)
    assert not out.exists()


def test_a_dub_never_holds_one_mouth_while_speaking() -> None:
    """One bank mouth fits "open" best by far: a run of open frames still never repeats a
    mouth more than twice (a frozen mouth while the speech goes on), while a silent run may
    rest on one."""
    from retake.video.mouth import MouthBank, MouthSample, select_mouths
    from retake.video.visemes import VISEMES

    want = VISEMES["open"].openness
    gaps = [want] + [want + 0.02 * k for k in range(1, 6)] + [0.0, 0.01]
    samples = [MouthSample(10 * i, np.zeros((1, 1, 3), np.uint8), (0, 0), np.zeros((68, 2)),
                           g, 1.0, None, np.full((20, 2), 0.02 * i), np.zeros(2))
               for i, g in enumerate(gaps)]
    bank = MouthBank(samples, 1.0)

    def longest_hold(chosen: list[int]) -> int:
        best = run = 1
        for a, b in zip(chosen, chosen[1:], strict=False):
            run = run + 1 if a == b else 1
            best = max(best, run)
        return best

    speaking = select_mouths(bank, ["open"] * 10)
    assert longest_hold(speaking) <= 2 and speaking.count(0) >= 3, speaking
    assert longest_hold(select_mouths(bank, ["rest"] * 10)) == 10


def test_redrawn_lips_keep_their_colour_whatever_mouth_they_come_from(models: FaceModels
                                                                       ) -> None:
    """Closed lips drawn from an open bank mouth and from a closed one are the same red
    (colour statistics from skin alone: with the whole lower face, the lipsticked lips of
    the KatieHill clip alternated between pale and red, a* 24 against 36)."""
    import cv2

    from retake.video.lipsync import _bank_from_video
    from retake.video.media import read_frames
    from retake.video.mouth import MouthRenderer, paste
    from retake.video.track import choose, load_tracks

    clip = media("video", "WDA_KatieHill_000.mp4")
    track = choose(load_tracks(clip, models))[0]
    frames = list(read_frames(clip))
    bank = _bank_from_video(clip, track, frames=frames)
    gaps = np.array([s.gap for s in bank.samples])
    renderer = MouthRenderer(bank)

    def redness(k: int, frame) -> float:
        r = renderer.render(frame.rgb, track.at(frame.index), k, "closed")
        img = paste(frame.rgb, r)
        mask = np.zeros(img.shape[:2], np.uint8)
        cv2.fillPoly(mask, [np.round(r.landmarks[48:60]).astype(np.int32)], 255)
        cv2.fillPoly(mask, [np.round(r.landmarks[60:68]).astype(np.int32)], 0)
        lab = cv2.cvtColor(img.astype(np.float32) / 255, cv2.COLOR_RGB2LAB)
        return float(lab[mask > 0, 1].mean())

    gaps_order = np.argsort(gaps)
    for frame in (frames[10], frames[120]):
        opened = np.mean([redness(int(k), frame) for k in gaps_order[-5:]])
        shut = np.mean([redness(int(k), frame) for k in gaps_order[:5]])
        assert abs(opened - shut) < 7.5, (opened, shut)


def test_a_talking_photo_opens_onto_teeth_and_a_mouth_not_a_block(models: FaceModels
                                                                   ) -> None:
    """Opened wider than the photo, the mouth keeps the photo's teeth at their size under
    the upper lip (warping them with the lips drew vertical streaks) and shows a shaded
    cavity below them, not a flat block."""
    import cv2
    import skimage.data

    from retake.video.mouth import MouthBank, MouthRenderer

    rgb = skimage.data.astronaut()
    lms = models.landmarks(rgb, models.detect(rgb, full=True)[0])
    bank = MouthBank([], 1.0)
    bank.add(0, rgb, lms)
    bank.finish()
    r = MouthRenderer(bank).render(rgb, lms, 0, "open")
    local = r.landmarks - [r.x0, r.y0]

    def teeth_rows(img: np.ndarray, pts: np.ndarray) -> tuple[int, int, float]:
        inner = np.zeros(img.shape[:2], np.uint8)
        cv2.fillPoly(inner, [np.round(pts[60:68]).astype(np.int32)], 255)
        lum = cv2.cvtColor(np.clip(img, 0, 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)
        rows = [y for y in range(img.shape[0]) if (inner[y] > 0).sum() > 3]
        bright = [y for y in rows if (lum[y][inner[y] > 0] > 150).mean() > 0.3]
        return len(rows), len(bright), float(lum[inner > 0].std())

    src_rows, src_teeth, _ = teeth_rows(rgb, lms)
    out_rows, out_teeth, spread = teeth_rows(r.rgb, local)
    width = np.linalg.norm(local[64] - local[60]) / np.linalg.norm(lms[64] - lms[60])
    assert out_rows > 1.5 * src_rows * width  # opened well beyond the photo
    assert src_teeth > 2 and out_teeth <= 1.3 * src_teeth * width + 1  # teeth not stretched
    assert spread > 20  # teeth over a dark cavity, not one flat colour


def test_a_talking_photo_blinks(models: FaceModels) -> None:
    """Scheduled blinks close both eyes as dlib sees them, then open them again."""
    import skimage.data

    from retake.video.blink import blink_schedule, close_eyes

    rgb = skimage.data.astronaut()
    lms = models.landmarks(rgb, models.detect(rgb, full=True)[0])
    plan = blink_schedule(250, 25.0)
    starts = np.flatnonzero(np.diff((plan > 0).astype(int)) == 1)
    assert 1 <= len(starts) <= 5 and (plan == 1).sum() >= 2 * len(starts)  # 10 s: 2-4 blinks
    assert np.array_equal(plan, blink_schedule(250, 25.0))  # seeded

    def ear(img: np.ndarray) -> float:
        p = models.landmarks(img, models.detect(img, full=True)[0])
        return float(np.mean([(np.linalg.norm(p[i + 1] - p[i + 5])
                               + np.linalg.norm(p[i + 2] - p[i + 4]))
                              / (2 * np.linalg.norm(p[i] - p[i + 3])) for i in (36, 42)]))

    shut = close_eyes(rgb, lms, 1.0)
    assert ear(shut) < 0.6 * ear(rgb)
    assert np.array_equal(close_eyes(rgb, lms, 0.0), rgb)
    # only the eyes moved
    diff = np.abs(shut.astype(int) - rgb).sum(2) > 30
    ys, xs = np.nonzero(diff)
    assert ys.max() < lms[30, 1] and ys.min() > lms[19, 1] - 0.3 * (lms[8, 1] - lms[19, 1])


def test_a_held_picture_never_gets_the_same_mouth_twice() -> None:
    """Where the retimed picture dwells on one source frame (`still`), the mouth before is
    never drawn again, even in silence where a mouth may otherwise rest: the frame would be
    an exact copy of the one before."""
    from retake.video.mouth import MouthBank, MouthSample, select_mouths

    samples = [MouthSample(10 * i, np.zeros((1, 1, 3), np.uint8), (0, 0), np.zeros((68, 2)),
                           0.02 * i, 1.0, None, np.full((20, 2), 0.02 * i), np.zeros(2))
               for i in range(4)]
    bank = MouthBank(samples, 1.0)
    assert len(set(select_mouths(bank, ["rest"] * 6))) == 1  # silence may rest...
    chosen = select_mouths(bank, ["rest"] * 6, before=0, still=[True] * 6)
    assert all(a != b for a, b in zip([0, *chosen], chosen, strict=False)), chosen


def test_resync_never_repeats_a_frame_exactly(models: FaceModels) -> None:
    """A hold's turning point shows one source frame several times in a row; re-rendered,
    no output frame equals the one before it (silent or speaking)."""
    from retake.video.lipsync import MouthFrame, resync

    frames, track, bank = _katie_bank(models)
    seq = [MouthFrame(0, 0.0, frames[49].rgb, track.at(49), None)]
    seq += [MouthFrame(i, i / 25, frames[50].rgb, track.at(50), v)
            for i, v in enumerate(["rest"] * 4 + ["open"] * 3, start=1)]
    out = list(resync(iter(seq), bank))
    assert not any(np.array_equal(a, b) for a, b in zip(out, out[1:], strict=False))


def test_resync_holds_no_more_pixels_than_its_budget(models: FaceModels) -> None:
    """A run of speaking frames waits for its mouths in chunks of at most `max_bytes` of
    pixels (a talking photo's 1200x1200 frames held 250 at a time took 1.35 GB), and every
    chunk still closes on its bilabials and never repeats a frame."""
    from retake.video.lipsync import MouthFrame, resync

    frames, track, bank = _katie_bank(models)
    vis = (["closed"] * 2 + ["open"] * 3 + ["mid"] * 2) * 4
    seq = [MouthFrame(i, i / 25, frames[40 + i].rgb, track.at(40 + i), v)
           for i, v in enumerate(vis)]
    pulled = []

    def source():
        for f in seq:
            pulled.append(f.index)
            yield f

    budget = 5 * seq[0].rgb.nbytes
    out = []
    for o in resync(source(), bank, max_bytes=budget):
        assert len(pulled) - len(out) <= 5  # never more than 5 frames waiting
        out.append(o)
    assert len(out) == len(seq)
    assert not any(np.array_equal(a, b) for a, b in zip(out, out[1:], strict=False))
    for f, o in zip(seq, out, strict=True):
        if f.viseme == "closed":
            assert lip_gap(models.landmarks(o, models.detect(o)[0])) < 0.1


def test_a_talking_photo_moves_its_head_not_the_background(models: FaceModels) -> None:
    """The head sways and nods a few pixels, smoothly; the frame's far corners stay put and
    dlib finds the landmarks where the move says they are."""
    import skimage.data

    from retake.video.geometry import inter_ocular
    from retake.video.head_motion import HeadMover, head_motion, loudness_per_frame

    rgb = skimage.data.astronaut()
    lms = models.landmarks(rgb, models.detect(rgb, full=True)[0])
    fps, n = 25.0, 125
    rate = 16000
    t = np.arange(n * rate // 25) / rate
    loud = np.sin(2 * np.pi * 150 * t) * (np.sin(2 * np.pi * 1.5 * t) > 0)  # syllables
    level = loudness_per_frame(loud, rate, n, fps)
    assert level.max() > 0.8 and level.min() < 0.2
    poses = head_motion(n, fps, level)
    assert poses == head_motion(n, fps, level)  # seeded
    mover = HeadMover(rgb, lms)
    nose, found = [], []
    for k in range(0, n, 5):
        out, moved = mover.move(rgb, lms, poses[k])
        assert out is not rgb or k == 0
        nose.append(moved[30])
        box = models.detect(out, full=True)[0]
        found.append(models.landmarks(out, box)[30])
        # far corners (background) untouched
        for y, x in ((5, 5), (5, -5), (-5, 5), (-5, -5)):
            assert np.abs(out[y, x].astype(int) - rgb[y, x]).max() <= 2
    nose, found = np.array(nose), np.array(found)
    iod = inter_ocular(lms)
    spread = np.ptp(nose, axis=0)
    assert spread.max() > 0.03 * iod  # it visibly moves ...
    assert spread.max() < 0.25 * iod  # ... slightly
    step = np.abs(np.diff(np.array([(p.dx, p.dy) for p in poses]), axis=0)).max()
    assert step < 0.015  # smooth: 1.5% of the inter-ocular distance per frame at most
    # dlib sees the nose where the move put it (within its own noise)
    assert np.median(np.linalg.norm(found - nose, axis=1)) < 0.06 * iod
