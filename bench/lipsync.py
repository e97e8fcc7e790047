"""Lip-sync benchmark on the talking-face clips in ../shared/media/video.

For each clip, its speech is transcribed (pocketsphinx draft) and aligned; then
- the whole mouth track is re-rendered to the clip's own speech (`retake lipsync` on itself)
  and we measure bilabial closure (share of M/B/P phones whose frame shows the lips closed:
  inner-lip gap below 0.1 of mouth width, landmarks from the tracker's unsmoothed output)
  and audio-visual sync (median offset of the mouth's closures and openings from their
  phones, in frames), next to the same figure for the untouched clip;
- a one-word edit is dubbed (`retake dub`) and we measure the seams at the edges of the
  re-rendered spans (landmark and colour jump) against the natural frame-to-frame change,
  and the end-to-end time (cold cache);
- mouth re-rendering speed in frames/s on the clip's own frames;
- (d) frozen and jumping pictures, on that replacement, on a one-word insertion and on
  a stress case (the word across which the head moves most, replaced by "seventeenth"): the
  longest run of output frames showing the same bank mouth, the output frames inside
  re-rendered stretches that repeat the frame before exactly, and the largest per-frame
  head motion among the steps the edit made (px/frame: mean displacement of the jaw
  sides, nose and eyes, from dlib on the decoded output; a step between untouched copies,
  or one that replays consecutive source frames, is the clip's own motion and left out),
  also as a multiple of the same measure's p99 over the untouched clip, and over 3 frames
  running as a multiple of the clip's p90 of that; and the most motion an edit added to a
  step beyond the source's own motion it carries (`_carried`).
Writes bench/results/lipsync.json (`--clip NAME` runs only clips whose name contains NAME,
`--out FILE` writes elsewhere under bench/results).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MEDIA = ROOT.parent / "shared" / "media"
RESULTS = ROOT / "bench" / "results"

warnings.filterwarnings("ignore")

CLOSED = 0.1
EDITS = ("replace", "insert", "stress")  # the dubs (d) is measured on
# Landmarks that move with the head, never with speech: jaw sides by the ears, nose, eyes.
HEAD = [0, 1, 2, 3, 13, 14, 15, 16, *range(27, 48)]


def _raw_landmarks(path: Path, models) -> dict[int, np.ndarray]:
    from retake.video.media import read_frames
    from retake.video.track import track_faces

    track = track_faces(read_frames(path), models)[0]
    return dict(zip(track.frames, track.raw, strict=True))


def _energy(path: Path, times: np.ndarray) -> np.ndarray:
    """Speech-band (300-3400 Hz) loudness in dB over 40 ms around each frame time."""
    from scipy.signal import butter, sosfiltfilt

    from retake.video.media import read_audio_track

    samples, rate = read_audio_track(path)
    mono = samples.mean(1) if samples.ndim == 2 else samples
    mono = sosfiltfilt(butter(4, [300, 3400], "bandpass", fs=rate, output="sos"), mono)
    half = int(0.02 * rate)
    out = []
    for t in times:
        c = int(t * rate)
        seg = mono[max(0, c - half):c + half]
        out.append(10 * np.log10(np.mean(seg ** 2) + 1e-10) if len(seg) else -100.0)
    return np.array(out)


def _opening(lms: np.ndarray) -> float:
    """Mouth opening: outer plus inner lip height over mouth width."""
    width = np.linalg.norm(lms[54] - lms[48]) + 1e-9
    return float((np.linalg.norm(lms[57] - lms[51]) + np.linalg.norm(lms[66] - lms[62]))
                 / width)


def _detrend(x: np.ndarray, n: int) -> np.ndarray:
    kernel = np.ones(n) / n
    x = x - np.convolve(np.pad(x, n // 2, mode="edge"), kernel, mode="same")[n // 2:-(n // 2)
                                                                              or None]
    return (x - x.mean()) / (x.std() + 1e-9)


def av_lag(path: Path, models, phones: list[tuple[float, float, str]],
           frames: dict[int, np.ndarray] | None = None) -> float:
    """Median offset, in frames, of the mouth's events from the speech's (+: mouth late).

    Events: each M/B/P should show the mouth's local minimum of opening, each open vowel
    (AA, AE, AO, AW, AY) its local maximum; we find the extreme within ±5 frames of the
    phone's middle and take the median offset. Frame-level loudness correlation was tried
    first and was too noisy on natural speech to measure anything (±6 frames).
    """
    from retake.video.media import read_frames

    lms = frames or _raw_landmarks(path, models)
    times = {f.index: f.time for f in read_frames(path)}
    idx = np.array(sorted(lms))
    t_idx = np.array([times[i] for i in idx])
    opening = np.array([_opening(lms[i]) for i in idx])
    offsets = []
    fps = len(idx) / max(t_idx[-1] - t_idx[0], 1e-3)
    for s, e, lab in phones:
        base = lab.rstrip("012")
        if base in {"M", "B", "P"}:
            pick = np.argmin
        elif base in {"AA", "AE", "AO", "AW", "AY"}:
            pick = np.argmax
        else:
            continue
        mid = (s + e) / 2
        c = int(np.argmin(np.abs(t_idx - mid)))
        lo, hi = max(0, c - 5), min(len(idx), c + 6)
        if hi - lo < 5:
            continue
        j = lo + int(pick(opening[lo:hi]))
        offsets.append((t_idx[j] - mid) * fps)
    return round(float(np.median(offsets)), 2) if offsets else float("nan")


def head_motion(lms: dict[int, np.ndarray]) -> dict[int, float]:
    """Per frame k: mean displacement (px) of the HEAD points since frame k - 1."""
    return {k: float(np.linalg.norm(v[HEAD] - lms[k - 1][HEAD], axis=1).mean())
            for k, v in sorted(lms.items()) if k - 1 in lms}


def longest_same_mouth(mouths: dict[int, int]) -> int:
    """Longest run of consecutive output frames that show the same bank mouth."""
    best = run = 0
    for k in sorted(mouths):
        run = run + 1 if k - 1 in mouths and mouths[k - 1] == mouths[k] else 1
        best = max(best, run)
    return best


def _replays_a_step(before, after, times: list[float], period: float) -> bool:
    """Whether output frames before -> after show the source's own motion as it was: both
    drawn (nearly) wholly to single source frames, the second later than the first by at
    most 1.5 output frame periods (a variable-rate source re-gridded to a constant rate
    steps over a frame now and then). That motion is the clip's own, however fast; every
    other step (holds, slides, cuts) is one the edit made."""
    def main(r) -> tuple[int, float]:
        w = r.shape_weights if hasattr(r, "shape_weights") else r.weights
        j = int(np.argmax(w))
        return r.sources[j], w[j]

    (a, wa), (b, wb) = main(before), main(after)
    return min(wa, wb) >= 0.95 and b > a and times[b] - times[a] <= 1.5 * period


def _checked_dub(clip: Path, said: str, models, tmp: Path, source_times: list[float], fps,
                 natural: dict[str, float], source_steps: dict[int, float], name: str,
                 text: str) -> dict:
    """Dub `clip` to say `text` and measure (d) on the result."""
    from retake.video.dub import dub
    from retake.video.media import read_frames
    from retake.video.retime import plan_retime
    from retake.video.track import track_faces
    from retake.voice.timemap import TimeMap

    res = dub(clip, tmp / f"{name}.mp4", text, transcript=said, models=models,
              cache_dir=tmp / "cache")
    plan = plan_retime(TimeMap.from_json((tmp / f"{name}.timemap.json").read_text()),
                       source_times, fps)
    pics = [f.rgb for f in read_frames(tmp / f"{name}.mp4")]
    found = track_faces(iter_frames(pics, fps), models)[0]
    return frozen_and_jumps(plan, pics, dict(zip(found.frames, found.raw, strict=True)),
                            getattr(res, "mouths", None), natural, source_times, fps,
                            source_steps)


def _widest_word(alignment, lms: dict[int, np.ndarray], times: list[float],
                 count: int) -> int | None:
    """Index of the inner aligned word across which the head moves most (HEAD points'
    displacement from its first frame to its last), or None when the alignment's words
    are not the transcript's."""
    words = alignment.words
    if len(words) != count:
        return None
    best, pick = -1.0, None
    for i, w in enumerate(words[1:-1], start=1):
        a = int(np.argmin(np.abs(np.asarray(times) - w.start)))
        b = int(np.argmin(np.abs(np.asarray(times) - w.end)))
        if not w.aligned or a not in lms or b not in lms:
            continue
        moved = float(np.linalg.norm(lms[b][HEAD] - lms[a][HEAD], axis=1).mean())
        if moved > best:
            best, pick = moved, i
    return pick


def _carried(before, after, steps: dict[int, float]) -> float:
    """The source's own motion that output step before -> after shows: each source of
    `after` that continues one of `before` (the same frame, or the next one) brings its
    own step, weighted by its share of the face's shape; a source that jumps brings none."""
    def shares(r):
        return zip(r.sources, r.shape_weights if hasattr(r, "shape_weights") else r.weights,
                   strict=True)

    prev = set(before.sources)
    return sum(w * (steps.get(s, 0.0) if s - 1 in prev else 0.0)
               for s, w in shares(after) if s in prev or s - 1 in prev)


def frozen_and_jumps(recipes, frames: list[np.ndarray], lms: dict[int, np.ndarray],
                     mouths: dict[int, int] | None, natural: dict[str, float],
                     times: list[float], fps, source_steps: dict[int, float]) -> dict:
    """(d) of one dub: longest same-mouth run, exact repeats among re-rendered frames, and
    the largest head motion of a step the edit made (not between two untouched copies, nor
    one replaying a source step), per frame and as a mean over 3 frames running (a slide,
    not one noisy step)."""
    motion = head_motion(lms)
    edited = [k for k in motion
              if not (recipes[k - 1].untouched and recipes[k].untouched)
              and not _replays_a_step(recipes[k - 1], recipes[k], times, 1 / float(fps))]
    worst = max(edited, key=motion.get, default=None)
    top = motion[worst] if worst is not None else 0.0
    runs = [np.mean([motion[j] for j in (k - 1, k, k + 1)]) for k in edited
            if k - 1 in motion and k + 1 in motion]
    top3 = float(max(runs, default=0.0))
    excess = [motion[k] - _carried(recipes[k - 1], recipes[k], source_steps) for k in edited]
    return {
        "mouth_hold_longest": longest_same_mouth(mouths) if mouths is not None else None,
        "repeated_frames": sum(1 for k in range(1, len(frames)) if recipes[k].mouth
                               and np.array_equal(frames[k], frames[k - 1])),
        "face_motion_max_px": round(top, 2),
        "face_motion_max_x_p99": round(top / natural["p99"], 2),
        "face_motion_max_at": worst,
        "face_motion_3frames_max_px": round(top3, 2),
        "face_motion_3frames_max_x_p90": round(top3 / natural["p90_3"], 2),
        "face_motion_added_max_px": round(float(max(excess, default=0.0)), 2),
        "face_motion_added_max_x_p99": round(float(max(excess, default=0.0))
                                             / natural["p99"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clip", action="append", default=[],
                        help="only clips whose file name contains this (repeatable)")
    parser.add_argument("--out", default="lipsync.json", help="results file name")
    args = parser.parse_args()
    clips = sorted((MEDIA / "video").glob("*.mp4")) if (MEDIA / "video").is_dir() else []
    if args.clip:
        clips = [c for c in clips if any(n in c.name for n in args.clip)]
    if not clips:
        print(f"skipped: no clips under {MEDIA}")
        return
    from retake.align import align, load_audio, transcribe
    from retake.video.dub import dub
    from retake.video.faces import FaceModels
    from retake.video.lipsync import MouthFrame, _bank_from_video, lipsync, phones_of, resync
    from retake.video.media import probe, read_frames
    from retake.video.track import track_faces
    from retake.video.visemes import BILABIAL, lip_gap

    models = FaceModels()
    rows = []
    for clip in clips:
        info = probe(clip)
        speech = load_audio(clip)
        said = transcribe(speech).text
        al = align(speech, said)
        phones = phones_of(al)
        with tempfile.TemporaryDirectory() as tmp:
            t = Path(tmp)
            self_sync = t / "self.mp4"
            lipsync(clip, clip, self_sync, transcript=said, models=models)
            raw = _raw_landmarks(self_sync, models)
            fps = float(probe(self_sync).fps)
            closed = total = 0
            for s, e, lab in phones:
                if lab.rstrip("012") not in BILABIAL:
                    continue
                k = int(round(((s + e) / 2 - 0.03) * fps))
                near = [lip_gap(raw[j]) for j in (k - 1, k, k + 1) if j in raw]
                if near:
                    total += 1
                    closed += min(near) < CLOSED
            lag_rerendered = av_lag(self_sync, models, phones, raw)
            source_lm = _raw_landmarks(clip, models)
            lag_natural = av_lag(clip, models, phones, source_lm)
            steps = np.array(list(head_motion(source_lm).values()))
            untouched_motion = {"p99": float(np.percentile(steps, 99)),
                       "p90_3": float(np.percentile(np.convolve(steps, np.ones(3) / 3,
                                                                "valid"), 90))}
            repeats_natural = sum(1 for a, b in zip(read_frames(clip), read_frames(clip, start=1),
                                                    strict=False)
                                  if np.array_equal(a.rgb, b.rgb))
            # One-word dub: replace a middle word with "maybe" (two bilabials).
            words = said.split()
            k = len(words) // 2
            new = " ".join(words[:k] + ["maybe"] + words[k + 1:])
            t0 = time.perf_counter()
            dubbed = t / "dub.mp4"
            res = dub(clip, dubbed, new, transcript=said, models=models, cache_dir=t / "cache")
            dub_s = time.perf_counter() - t0
            from retake.video.retime import plan_retime, source_frame_times
            from retake.voice.timemap import TimeMap

            tm = TimeMap.from_json((t / "dub.timemap.json").read_text())
            source_times = source_frame_times(clip)
            recipes = plan_retime(tm, source_times, info.fps)
            out_frames = [f.rgb for f in read_frames(dubbed)]
            track = track_faces(iter_frames(out_frames, info.fps), models)[0]
            lm = dict(zip(track.frames, track.raw, strict=True))
            seams, natural = [], []
            for i in range(1, len(recipes)):
                if i not in lm or i - 1 not in lm:
                    continue
                jump = float(np.linalg.norm(lm[i] - lm[i - 1], axis=1).mean())
                colour = float(np.abs(out_frames[i].astype(np.int16)
                                      - out_frames[i - 1].astype(np.int16)).mean())
                if recipes[i].mouth != recipes[i - 1].mouth:
                    seams.append((jump, colour))
                elif recipes[i].untouched and recipes[i - 1].untouched:
                    natural.append((jump, colour))
            source_steps = head_motion(source_lm)
            checks = {"replace": frozen_and_jumps(recipes, out_frames, lm,
                                                  getattr(res, "mouths", None), untouched_motion,
                                                  source_times, info.fps, source_steps)}
            # (d) again on an insertion: "really" before the middle word.
            common = (clip, said, models, t, source_times, info.fps, untouched_motion,
                      source_steps)
            checks["insert"] = _checked_dub(*common, "ins",
                                            " ".join(words[:k] + ["really"] + words[k:]))
            # And on the hardest replacement: the word across which the head moves most,
            # replaced by a longer one (its hold, then the old word cut: the picture must
            # travel between the two poses around the old word).
            w = _widest_word(al, source_lm, source_times, len(words))
            if w is not None:
                checks["stress"] = _checked_dub(*common, "stress", " ".join(
                    words[:w] + ["seventeenth"] + words[w + 1:]))
            # Mouth re-rendering speed on the clip's own frames.
            frames = list(read_frames(clip))
            track0 = track_faces(frames, models)[0]
            bank = _bank_from_video(clip, track0)
            vis = ["open" if i % 3 else "closed" for i in range(len(frames))]
            seq = [MouthFrame(f.index, f.time, f.rgb, track0.at(f.index), vis[i])
                   for i, f in enumerate(frames)]
            t0 = time.perf_counter()
            n = sum(1 for _ in resync(iter(seq), bank))
            render_fps = n / (time.perf_counter() - t0)
        nat = np.array(natural) if natural else np.zeros((1, 2))
        seam = np.array(seams) if seams else np.zeros((1, 2))
        row = {
            "clip": clip.name, "size": f"{info.width}x{info.height}",
            "bilabials": total, "bilabial_closed_share": round(closed / max(total, 1), 3),
            "av_lag_frames_natural": lag_natural, "av_lag_frames_rerendered": lag_rerendered,
            "seam_landmark_jump_px": round(float(seam[:, 0].mean()), 2),
            "natural_landmark_jump_px_p90": round(float(np.percentile(nat[:, 0], 90)), 2),
            "seam_colour_jump": round(float(seam[:, 1].mean()), 2),
            "natural_colour_jump_p90": round(float(np.percentile(nat[:, 1], 90)), 2),
            "mouth_frames": res.mouth_frames, "dub_one_word_s": round(dub_s, 1),
            "mouth_render_fps": round(render_fps, 1),
            "natural_face_motion_p99_px": round(untouched_motion["p99"], 2),
            "natural_face_motion_3frames_p90_px": round(untouched_motion["p90_3"], 2),
            "natural_repeated_frames": repeats_natural,
            **{f"{edit}_{key}": value for edit, d in checks.items() for key, value in d.items()},
        }
        print(json.dumps(row))
        rows.append(row)
    total_b = sum(r["bilabials"] for r in rows)
    summary = {
        "clips": len(rows),
        "bilabial_closed_share": round(sum(r["bilabial_closed_share"] * r["bilabials"]
                                           for r in rows) / max(total_b, 1), 3),
        "av_lag_rerendered_max_abs": max(abs(r["av_lag_frames_rerendered"]) for r in rows),
        "av_lag_natural_max_abs": max(abs(r["av_lag_frames_natural"]) for r in rows),
        # The offset measure carries the alignment's own error (draft transcripts): the
        # untouched clips read up to ±1.8 frames, so the difference is the sharper figure.
        "av_lag_rerendered_minus_natural_max_abs": round(max(
            abs(r["av_lag_frames_rerendered"] - r["av_lag_frames_natural"]) for r in rows), 2),
        "mouth_render_fps_512": next((r["mouth_render_fps"] for r in rows
                                      if r["size"] == "512x512"), None),
        "dub_one_word_8s_clip_s": next((r["dub_one_word_s"] for r in rows
                                        if r["clip"].startswith("WDA")), None),
        "dub_mouth_hold_longest": max((r[f"{e}_mouth_hold_longest"] or 0 for r in rows
                                       for e in EDITS if f"{e}_mouth_hold_longest" in r),
                                      default=0),
        "dub_repeated_frames": sum(r[f"{e}_repeated_frames"] for r in rows
                                   for e in EDITS if f"{e}_repeated_frames" in r),
        "dub_face_motion_max_x_p99": max(r[f"{e}_face_motion_max_x_p99"] for r in rows
                                         for e in EDITS if f"{e}_face_motion_max_x_p99" in r),
        "dub_face_motion_added_max_x_p99": max(
            r[f"{e}_face_motion_added_max_x_p99"] for r in rows
            for e in EDITS if f"{e}_face_motion_added_max_x_p99" in r),
        "dub_face_motion_3frames_max_x_p90": max(
            r[f"{e}_face_motion_3frames_max_x_p90"] for r in rows
            for e in EDITS if f"{e}_face_motion_3frames_max_x_p90" in r),
    }
    goals = {
        "bilabial closure >= 90%": summary["bilabial_closed_share"] >= 0.9,
        "A/V sync within 1 frame (re-rendered)": summary["av_lag_rerendered_max_abs"] <= 1,
        "mouth re-rendering >= 10 fps at 512": (summary["mouth_render_fps_512"] or 0) >= 10,
        "one-word dub of the 8 s clip <= 20 s": (summary["dub_one_word_8s_clip_s"] or 99) <= 20,
        "no mouth shown more than 2 frames running": summary["dub_mouth_hold_longest"] <= 2,
        "no exact repeated frame where mouths are re-rendered":
            summary["dub_repeated_frames"] == 0,
        "edits add no more head motion than the clip's own p99":
            summary["dub_face_motion_added_max_x_p99"] <= 1,
    }
    print(json.dumps(summary, indent=1))
    for k, v in goals.items():
        print(f"  {'PASS' if v else 'MISS'}  {k}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / args.out).write_text(json.dumps(
        {"summary": summary, "goals": goals, "clips": rows}, indent=1) + "\n")
    print(f"wrote {RESULTS / args.out}")


def iter_frames(frames: list[np.ndarray], fps):
    """Frames as `Frame` objects at a constant rate (for re-tracking an output)."""
    from retake.video.media import Frame

    for i, rgb in enumerate(frames):
        yield Frame(i, i / float(fps), rgb)


if __name__ == "__main__":
    main()
