"""Face-swap benchmark: identity moved, pose and expression kept, stability, throughput.

On ../shared/media: every source photo in faces/ onto every talking clip in video/ with the
`landmark` engine. Per sampled output frame, dlib finds the face again and we measure
- identity: embedding distance of the swapped face to the source photo (< 0.6 is "same
  person" for dlib) and to the target frame's original face;
- pose/expression: mean landmark error between output and input frame / inter-ocular, and
  its floor: the same error for the smoothed, tracked landmarks the face is rendered to
  (dlib's own frame-to-frame noise, which no renderer can go below);
- stability: landmark jitter (second difference / inter-ocular) of output vs input;
- expression: over time, the Pearson correlation between the target's and the output's eye
  openness (EAR, the mean of both eyes' eye aspect ratio) and mouth opening (inner-lip
  height / inter-ocular); and blinks kept: a target blink is a run of 2 frames to 0.5 s
  whose EAR is below 70% of its median over the surrounding second (`dips`); it is kept
  when the output blinks by the same rule from one frame before the run to one after it.
  Output blinks with no target blink within a frame are counted too; gaze: the same
  correlation for where the irises sit sideways (`swap_quality.gaze_judge`, a darkest-
  pixel centroid: not the swap's own iris finder), averaged over the clips whose gaze
  moves (spread >= `GAZE_MOVES`: the others look at the camera throughout); brow raise:
  the same correlation for how high the brows sit (`swap_quality.brow_judge`, the darkest
  band above each eye; dlib's brow points, reported too, read a raised brow as resting
  on the expressive clip);
- landmarks region by region (jaw, brows, nose, eyes, mouth), the error without the
  brows (the photo's brows sit where the photo has them), and the brows' motion error
  (each brow point's height error less the pair's median error at that point);
- colour and seams (`video/swap_quality.py`), on every `--every`th frame re-rendered and
  merged from the tracked landmarks (no codec in between): skin ΔE2000 between output and
  target (mean colour of cheek and forehead patches), the hue of the output's brow hair
  and irises against the source photo's (mean a*, b* of their darkest quarter where the
  blend shows the new face, alpha >= `SHOWN`: the shift, and the source's own spread as
  its natural range), and seam energy along the blend's
  boundary (squared lightness derivative across it, output over target frame); with the
  time to render and merge one frame;
and throughput of extraction and swapping at 512x512 and 720p on this machine.
Writes bench/results/faceswap.json and contact sheets under bench/results/faceswap/ (full
runs only: runs limited by --quick, --source, --target, --photo-expression or
--previous-merge print only); --expression-sheet writes expression_SOURCE_on_TARGET.png
(blinks and mouths, before/now); --colour-sheet writes colour_SOURCE_on_TARGET.png
(frontal and turned heads, brows and eyes: target, the merge before, now);
--readme-sheet writes readme_sheet.png (the README's: blink, closed and open mouth, most
turned frame, target above output, for `README_PAIRS`).
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


# The README sheet's pairs: light and dark skin, both ways, frontal and expressive clips.
README_PAIRS = (("obama.jpg", "WDA_KatieHill_000.mp4"), ("biden2.jpg", "liveportrait_d10.mp4"),
                ("astronaut.png", "retalking_1.mp4"))


def _face(models, rgb):
    boxes = models.detect(rgb)
    if not boxes:
        return None
    return models.landmarks(rgb, boxes[0])


def _jitter(lms: list[np.ndarray]) -> float:
    from retake.video.geometry import inter_ocular

    a = np.array(lms)
    d2 = a[2:] - 2 * a[1:-1] + a[:-2]
    iod = np.array([inter_ocular(x) for x in a[1:-1]])
    return float(np.mean(np.linalg.norm(d2, axis=2).mean(1) / iod))


def dips(values: list[float], frames: list[int], fps: float = 25.0, share: float = 0.7,
         window_s: float = 1.0, shortest: int = 2, longest_s: float = 0.5
         ) -> list[tuple[int, int]]:
    """Blinks: runs (first, last frame) where `values` (eye openness) fall below `share` x
    their median over the surrounding `window_s` seconds, lasting from `shortest` frames to
    `longest_s` seconds. A local baseline, not the clip's median: an expressive face's
    narrowed eyes while smiling, or a long look down, are not blinks; nor is a one-frame
    landmark glitch (a blink takes 100-400 ms)."""
    v, f = np.asarray(values, float), np.asarray(frames)
    half = window_s * fps
    base = np.array([np.median(v[np.abs(f - x) <= half]) for x in f])
    runs: list[tuple[int, int]] = []
    for x, low in zip(f.tolist(), (v < share * base).tolist(), strict=True):
        if not low:
            continue
        if runs and x == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], x)
        else:
            runs.append((x, x))
    return [(a, b) for a, b in runs if shortest <= b - a + 1 <= longest_s * fps]


def blinks_kept(ear_in: list[float], ear_out: list[float], frames: list[int],
                fps: float = 25.0) -> dict:
    """Target blinks the output also shows (within ±1 frame), and output blinks with none."""
    want, got = dips(ear_in, frames, fps), dips(ear_out, frames, fps)
    near = [any(b0 - 1 <= g1 and g0 <= b1 + 1 for g0, g1 in got) for b0, b1 in want]
    extra = [not any(b0 - 1 <= g1 and g0 <= b1 + 1 for b0, b1 in want) for g0, g1 in got]
    return {"blinks_in": len(want), "blinks_kept": int(sum(near)),
            "blinks_extra": int(sum(extra))}


def _as_in_the_clip(swapper, track, k: int, frames: dict | None = None) -> None:
    """Show the swapper the tracked face of the frames before frame `k` (each state's own
    window), as rendering the clip in order would have: a frame rendered alone has no
    open-eye level of the target's (`expression.OpenEyes`), so its eyes are judged by the
    photo only, nor a resting height of its brows (`brows.RestingBrows`); given the clip's
    `frames` ({index: rgb}), nor where its eyes rest (`gaze.Gazes`)."""
    for name in ("resting_brows", "open_eyes", "gazes"):
        state = getattr(swapper, name, None)
        if state is None or (name == "gazes" and frames is None):
            continue
        for j in track.frames:
            if k - state.window <= j < k:
                if name == "gazes":
                    state.update(frames[j], track.at(j))
                else:
                    state.update(track.at(j))


GAZE_MOVES = 0.05  # eye widths: a clip whose gaze spreads this much looks about


def _corr(a: list[float], b: list[float]) -> float:
    return round(float(np.corrcoef(a, b)[0, 1]), 3) if len(a) > 2 and np.std(a) > 0 \
        and np.std(b) > 0 else float("nan")


SHOWN = 0.95  # blend alpha from which a pixel is the new face's, for feature colour


def colour_and_seams(swapper, src: np.ndarray, src_lms: np.ndarray, frames: dict,
                     track, merge_options=None) -> dict:
    """Colour, feature hue, seam and time measures over `frames` ({index: rgb})."""
    from retake.video.blend import merge_parts
    from retake.video.swap_quality import (
        feature_chroma,
        feature_hue,
        hue_difference,
        seam_ratio,
        skin_delta_e,
    )

    brow_src, brow_spread = feature_chroma(src, src_lms, "brows")
    eye_src, eye_spread = feature_chroma(src, src_lms, "eyes")
    hue_src = {f: feature_hue(src, src_lms, f) for f in ("brows", "eyes")}
    hues: dict = {"brows": [], "eyes": []}
    d_e, brows, eyes, seams, times = [], [], [], [], []
    for k, rgb in frames.items():
        lms = track.at(k)
        if lms is None:
            continue
        t0 = time.perf_counter()
        patch = swapper.render(rgb, lms)
        merged = merge_parts(rgb, patch, lms, merge_options)
        times.append(time.perf_counter() - t0)
        d_e.append(skin_delta_e(merged.frame, rgb, lms))
        # The new face's own brows and irises: where the blend shows it (a brow tail that
        # runs out over the target's hair is laid into that hair, a matter of seams).
        shown = np.zeros(rgb.shape[:2], bool)
        ah, aw = merged.alpha.shape
        shown[merged.y0:merged.y0 + ah, merged.x0:merged.x0 + aw] = merged.alpha >= SHOWN
        brows.append(feature_chroma(merged.frame, patch.landmarks, "brows", shown)[0])
        eyes.append(feature_chroma(merged.frame, patch.landmarks, "eyes", shown)[0])
        for f in hues:
            hues[f].append(hue_difference(
                feature_hue(merged.frame, patch.landmarks, f, shown)[0], hue_src[f][0]))
        seams.append(seam_ratio(merged.frame, rgb, merged.alpha, merged.x0, merged.y0))
    brow_out, eye_out = np.nanmean(brows, 0), np.nanmean(eyes, 0)
    shift = [float(np.linalg.norm(b - brow_src)) for b in brows]
    return {
        "colour_frames": len(d_e),
        "skin_delta_e": round(float(np.nanmean(d_e)), 2),
        "skin_delta_e_max": round(float(np.nanmax(d_e)), 2),
        "brow_ab_source": [round(float(v), 1) for v in brow_src],
        "brow_ab_out": [round(float(v), 1) for v in brow_out],
        "brow_ab_shift": round(float(np.nanmean(shift)), 2),
        "brow_ab_spread_source": round(brow_spread, 2),
        "eye_ab_source": [round(float(v), 1) for v in eye_src],
        "eye_ab_out": [round(float(v), 1) for v in eye_out],
        "eye_ab_shift": round(float(np.linalg.norm(eye_out - eye_src)), 2),
        "eye_ab_spread_source": round(eye_spread, 2),
        **{f"{f[:-1] if f == 'brows' else 'eye'}_hue_{k}": v for f in hues for k, v in (
            ("source_deg", round(hue_src[f][0], 1)),
            ("spread_source_deg", round(hue_src[f][1], 1)),
            ("shift_deg", round(float(np.nanmean(hues[f])), 1)))},
        "seam_ratio": round(float(np.nanmean(seams)), 3),
        "seam_ratio_max": round(float(np.nanmax(seams)), 3),
        "render_merge_ms": round(1000 * float(np.median(times)), 1),
    }


def evaluate_pair(source: Path, target: Path, shape: float, every: int, sheet: Path | None,
                  merge_options=None, photo_expression: bool = False) -> dict:
    """Swap one photo onto one clip and measure the output.

    `photo_expression` with `MergeOptions(keep_inner_mouth=False)` is the engine as it was
    before the target's closed eyes and mouth interior were carried through (for A/B).
    """
    from PIL import Image

    from retake.video.expression import eye_openness, mouth_opening
    from retake.video.faces import FaceModels
    from retake.video.geometry import inter_ocular
    from retake.video.media import probe, read_frames, read_image
    from retake.video.swap import swap_video
    from retake.video.swap_landmark import LandmarkSwapper, source_face
    from retake.video.swap_quality import brow_judge, gaze_judge

    models = FaceModels()
    src = read_image(source)
    src_lms = source_face(src, models)
    src_emb = models.embed(src, src_lms)
    swapper = LandmarkSwapper(src, src_lms, shape=shape, target_eyes=not photo_expression,
                              photo_teeth=photo_expression)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.mp4"
        t0 = time.perf_counter()
        res = swap_video(target, out, swapper, models, merge_options=merge_options)
        swap_s = time.perf_counter() - t0
        ins = list(read_frames(target))
        outs = list(read_frames(out))
    from retake.video.track import track_faces

    track = track_faces(ins, models)[0]
    colour = colour_and_seams(swapper, src, src_lms,
                              {f.index: f.rgb for f in ins if f.index % every == 0}, track,
                              merge_options)
    d_src, d_tgt, lm_err, lin, lout, thumbs, floor = [], [], [], [], [], [], []
    gazes: list[tuple[float, float]] = []
    brow_heights: list[tuple[float, float]] = []  # brow_judge: target, output
    seen: list[int] = []
    for fi, fo in zip(ins, outs, strict=False):
        li, lo = _face(models, fi.rgb), _face(models, fo.rgb)
        if li is None or lo is None:
            continue
        lin.append(li)
        lout.append(lo)
        seen.append(fi.index)
        lm_err.append(float(np.linalg.norm(lo - li, axis=1).mean() / inter_ocular(li)))
        brow_heights.append((brow_judge(fi.rgb, li), brow_judge(fo.rgb, lo)))
        g_in, g_out = gaze_judge(fi.rgb, li), gaze_judge(fo.rgb, lo)
        if g_in is not None and g_out is not None:
            gazes.append((g_in, g_out))
        rendered_to = track.at(fi.index)
        if rendered_to is not None:
            floor.append(float(np.linalg.norm(rendered_to - li, axis=1).mean()
                               / inter_ocular(li)))
        if fi.index % every == 0:
            eo = models.embed(fo.rgb, lo)
            d_src.append(float(np.linalg.norm(eo - src_emb)))
            d_tgt.append(float(np.linalg.norm(eo - models.embed(fi.rgb, li))))
            if len(thumbs) < 4 and fi.index % (every * 8) == 0:
                thumbs.append(np.concatenate([fi.rgb, fo.rgb], 0))
    if sheet is not None and thumbs:
        h = min(t.shape[0] for t in thumbs)
        grid = np.concatenate([t[:h] for t in thumbs], 1)
        im = Image.fromarray(grid)
        im.thumbnail((1600, 800))
        sheet.parent.mkdir(parents=True, exist_ok=True)
        im.save(sheet)
    d_src_a, d_tgt_a = np.array(d_src), np.array(d_tgt)
    ear_in, ear_out = [eye_openness(x) for x in lin], [eye_openness(x) for x in lout]
    regions = landmark_regions(lin, lout)
    blinks = blinks_kept(ear_in, ear_out, seen, float(probe(target).fps))
    return {
        "source": source.name, "target": target.name, "frames": res.frames,
        "swap_fps": round(res.frames / swap_s, 2),
        "identity_to_source_mean": round(float(d_src_a.mean()), 3),
        "identity_below_0_6_share": round(float((d_src_a < 0.6).mean()), 3),
        "nearer_source_than_target_share": round(float((d_src_a < d_tgt_a).mean()), 3),
        "identity_to_target_mean": round(float(d_tgt_a.mean()), 3),
        "landmark_error_iod": round(float(np.mean(lm_err)), 4),
        "landmark_floor_iod": round(float(np.mean(floor)), 4),
        **regions,
        "jitter_in": round(_jitter(lin), 4), "jitter_out": round(_jitter(lout), 4),
        "eye_openness_corr": _corr(ear_in, ear_out),
        **blinks,
        "mouth_opening_corr": _corr([mouth_opening(x) for x in lin],
                                    [mouth_opening(x) for x in lout]),
        "gaze_corr": _corr([g for g, _ in gazes], [g for _, g in gazes]),
        # The brows' raise over time by an independent judge (the darkest band above each
        # eye): the target's against the output's.
        "brow_raise_corr": _corr([b for b, _ in brow_heights], [b for _, b in brow_heights]),
        "gaze_spread_in": round(float(np.std([g for g, _ in gazes])), 4) if gazes else 0.0,
        **colour,
    }


REGIONS = {"jaw": slice(0, 17), "brows": slice(17, 27), "nose": slice(27, 36),
           "eyes": slice(36, 48), "mouth": slice(48, 68)}


def landmark_regions(lin: list[np.ndarray], lout: list[np.ndarray]) -> dict:
    """Landmark error region by region, without the brows, and the brows' motion.

    The landmark engine puts the photo's brows where the photo has them (much of a face's
    likeness) and moves them as the target's move, so the 68-point error counts the
    photo's brow placement as error. `landmark_error_no_brows_iod` leaves the brows out;
    `brow_raise_corr_dlib` correlates dlib's mean brow height over time (target vs
    output; no judge on `liveportrait_d10`, see `swap_quality.brow_judge`), and
    `brow_motion_error_iod` is each brow point's height error less the pair's median
    error at that point (what is left once the photo's placement is taken out).
    `landmark_tracking_error_iod` does that for all 68 points in both directions: each
    point's offset from the target's, in the target face's frame, less its median over the
    clip. The raw error cannot reach the target's landmarks and keep the photo's likeness
    (a face's shape is much of who it is: at --shape 0.40 FaceNet found one pair nearer
    the source on 85% of frames); the tracking error is whether the face moves as the
    target's does: pose, expression, speech.
    """
    from retake.video.brows import point_heights
    from retake.video.geometry import inter_ocular

    if not lin:
        return {}
    a, b = np.array(lin), np.array(lout)
    iod = np.array([inter_ocular(x) for x in lin])[:, None]
    err = np.linalg.norm(b - a, axis=2) / iod  # (frames, 68)
    keep = np.ones(68, bool)
    keep[REGIONS["brows"]] = False
    h_in = np.array([point_heights(x) for x in lin])
    h_out = np.array([point_heights(x) for x in lout])
    off = h_out - h_in
    # Offsets in the target face's own frame (eye line, its normal; inter-ocular units),
    # less each point's median offset over the clip: the photo's shape, carried on purpose.
    eyes_l, eyes_r = a[:, 36:42].mean(1), a[:, 42:48].mean(1)
    x_axis = (eyes_r - eyes_l) / np.linalg.norm(eyes_r - eyes_l, axis=1, keepdims=True)
    y_axis = np.stack([-x_axis[:, 1], x_axis[:, 0]], 1)
    d = (b - a) / iod[:, :, None]
    local = np.stack([np.einsum("fpc,fc->fp", d, x_axis), np.einsum("fpc,fc->fp", d, y_axis)],
                     2)
    tracking = np.linalg.norm(local - np.median(local, 0), axis=2)
    return {
        "landmark_tracking_error_iod": round(float(tracking.mean()), 4),
        "landmark_error_by_region": {k: round(float(err[:, r].mean()), 4)
                                     for k, r in REGIONS.items()},
        "landmark_error_no_brows_iod": round(float(err[:, keep].mean()), 4),
        "brow_raise_corr_dlib": _corr(list(h_in.mean(1)), list(h_out.mean(1))),
        "brow_motion_error_iod": round(float(np.abs(off - np.median(off, 0)).mean()), 4),
    }


def expression_sheet(source: Path, target: Path, out: Path) -> dict:
    """A contact sheet of the frames that test expression, at full resolution.

    Rows: the target's most closed eyes (lowest EAR), most open eyes, most closed and most
    open mouth (by the tracked landmarks the face is rendered to). Columns: the target's
    face, the swap with the photo's eyes and mouth interior (as before), the swap now.
    Returns the chosen frame indices.
    """
    from PIL import Image, ImageDraw

    from retake.video.blend import MergeOptions, merge
    from retake.video.expression import eye_openness, mouth_opening
    from retake.video.faces import FaceModels
    from retake.video.media import read_frames, read_image
    from retake.video.swap_landmark import LandmarkSwapper, source_face
    from retake.video.track import track_faces

    models = FaceModels()
    src = read_image(source)
    src_lms = source_face(src, models)
    track = track_faces(read_frames(target), models)[0]
    ear = [eye_openness(x) for x in track.landmarks]
    mouth = [mouth_opening(x) for x in track.landmarks]
    rows = {"eyes closed": track.frames[int(np.argmin(ear))],
            "eyes open": track.frames[int(np.argmax(ear))],
            "mouth closed": track.frames[int(np.argmin(mouth))],
            "mouth open": track.frames[int(np.argmax(mouth))]}
    old = (LandmarkSwapper(src, src_lms, target_eyes=False, photo_teeth=True),
           MergeOptions(keep_inner_mouth=False))
    new = (LandmarkSwapper(src, src_lms), MergeOptions())
    frames = {f.index: f.rgb for f in read_frames(target) if f.index in rows.values()}
    tiles = []
    for label, k in rows.items():
        lms = track.at(k)
        x0, y0 = np.floor(lms.min(0)).astype(int) - 12
        x1, y1 = np.ceil(lms.max(0)).astype(int) + 12
        x0, y0 = max(x0, 0), max(y0, 0)
        crops = [frames[k][y0:y1, x0:x1]]
        _as_in_the_clip(new[0], track, k)
        for sw, opts in (old, new):
            crops.append(merge(frames[k], sw.render(frames[k], lms), lms, opts)[y0:y1, x0:x1])
        tiles.append((f"frame {k}: {label}", crops))
    th = max(c[0].shape[0] for _, c in tiles) + 18
    tw = max(c[0].shape[1] for _, c in tiles)
    sheet = Image.new("RGB", (3 * tw + 8, len(tiles) * th + 18), "white")
    draw = ImageDraw.Draw(sheet)
    for j, name in enumerate(("target", "photo's eyes and mouth (before)", "now")):
        draw.text((j * (tw + 4) + 2, 2), name, fill="black")
    for i, (label, crops) in enumerate(tiles):
        draw.text((2, 18 + i * th), label, fill="black")
        for j, c in enumerate(crops):
            sheet.paste(Image.fromarray(np.ascontiguousarray(c)), (j * (tw + 4), 18 + i * th + 16))
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return rows


def colour_sheet(source: Path, target: Path, out: Path) -> dict:
    """A contact sheet for colour and seams, at full resolution.

    Rows: the target's most frontal frame, its most turned frame each way (`blend.turn`),
    then the frontal frame's image-left brow and eye, enlarged (nearest neighbour).
    Columns: the target, the merge before (`blend.PREVIOUS`: Reinhard colour, wide
    feather), the merge now. Returns the chosen frame indices with their turn.
    """
    import cv2
    from PIL import Image, ImageDraw

    from retake.video.blend import PREVIOUS, MergeOptions, merge, turn
    from retake.video.faces import FaceModels
    from retake.video.geometry import inter_ocular
    from retake.video.media import read_frames, read_image
    from retake.video.swap_landmark import LandmarkSwapper, source_face
    from retake.video.track import track_faces

    models = FaceModels()
    src = read_image(source)
    swapper = LandmarkSwapper(src, source_face(src, models))
    track = track_faces(read_frames(target), models)[0]
    turns = [turn(x) for x in track.landmarks]
    rows = {"frontal": track.frames[int(np.argmin(np.abs(turns)))],
            "turned, far cheek image-left": track.frames[int(np.argmin(turns))],
            "turned, far cheek image-right": track.frames[int(np.argmax(turns))]}
    frames = {f.index: f.rgb for f in read_frames(target) if f.index in rows.values()}
    tiles = []
    for label, k in rows.items():
        lms = track.at(k)
        iod = inter_ocular(lms)
        x0, y0 = np.floor(lms.min(0) - [0.4 * iod, 1.0 * iod]).astype(int).clip(0)
        x1, y1 = np.ceil(lms.max(0) + 0.4 * iod).astype(int)
        patch = swapper.render(frames[k], lms)
        crops = [frames[k]] + [merge(frames[k], patch, lms, o) for o in (PREVIOUS, MergeOptions())]
        tiles.append((f"frame {k}: {label} (turn {turn(lms):+.2f})",
                      [c[y0:y1, x0:x1] for c in crops]))
        if label == "frontal":
            one = lms[np.r_[17:22, 36:42]]  # the image-left brow and eye
            bx0, by0 = np.floor(one.min(0) - 0.25 * iod).astype(int).clip(0)
            bx1, by1 = np.ceil(one.max(0) + 0.25 * iod).astype(int)
            zoom = max(1, (x1 - x0) // (bx1 - bx0))  # as wide as the faces, whole pixels
            brows = [cv2.resize(c[by0:by1, bx0:bx1], None, fx=zoom, fy=zoom,
                                interpolation=cv2.INTER_NEAREST) for c in crops]
    tiles.append((f"frame {rows['frontal']}: brow and eye ({zoom}x)", brows))
    tw = max(c.shape[1] for _, cs in tiles for c in cs)
    heights = [max(c.shape[0] for c in cs) + 18 for _, cs in tiles]
    sheet = Image.new("RGB", (3 * tw + 8, sum(heights) + 18), "white")
    draw = ImageDraw.Draw(sheet)
    for j, name in enumerate(("target", "before (Reinhard colour, wide feather)", "now")):
        draw.text((j * (tw + 4) + 2, 2), name, fill="black")
    y = 18
    for (label, crops), h in zip(tiles, heights, strict=True):
        draw.text((2, y), label, fill="black")
        for j, c in enumerate(crops):
            sheet.paste(Image.fromarray(np.ascontiguousarray(c)), (j * (tw + 4), y + 16))
        y += h
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return {label: {"frame": k, "turn": round(turns[track.frames.index(k)], 3)}
            for label, k in rows.items()}


def readme_sheet(pairs: list[tuple[Path, Path]], out: Path, tile: int = 200) -> list[dict]:
    """The README's contact sheet: per pair, the target's blink (lowest eye openness),
    closed and widest mouth and most turned frame, and where its eyes look about (gaze
    spread at least `GAZE_MOVES`) its widest glance, as target above output, face crops
    scaled to `tile` px high (from full resolution). Returns the frames chosen."""
    import cv2
    from PIL import Image, ImageDraw

    from retake.video.blend import merge, turn
    from retake.video.expression import eye_openness, mouth_opening
    from retake.video.faces import FaceModels
    from retake.video.geometry import inter_ocular
    from retake.video.media import read_frames, read_image
    from retake.video.swap_landmark import LandmarkSwapper, source_face
    from retake.video.swap_quality import gaze_judge
    from retake.video.track import track_faces

    models = FaceModels()
    columns, chosen = [], []
    for source, target in pairs:
        src = read_image(source)
        src_lms = source_face(src, models)
        track = track_faces(read_frames(target), models)[0]
        lm = track.landmarks
        pick = {"blink": int(np.argmin([eye_openness(x) for x in lm])),
                "closed mouth": int(np.argmin([mouth_opening(x) for x in lm])),
                "open mouth": int(np.argmax([mouth_opening(x) for x in lm])),
                "turned": int(np.argmax([abs(turn(x)) for x in lm]))}
        frames = {f.index: f.rgb for f in read_frames(target)}
        looks = np.array([np.nan if g is None else g for g in
                          (gaze_judge(frames[k], track.at(k)) for k in track.frames)])
        if np.nanstd(looks) >= GAZE_MOVES:
            pick["glance"] = int(np.nanargmax(np.abs(looks - np.nanmedian(looks))))
        for name, i in pick.items():
            k = track.frames[i]
            lms = track.at(k)
            iod = inter_ocular(lms)
            x0, y0 = np.floor(lms.min(0) - [0.35 * iod, 0.8 * iod]).astype(int).clip(0)
            x1, y1 = np.ceil(lms.max(0) + 0.35 * iod).astype(int)
            swapper = LandmarkSwapper(src, src_lms)  # fresh: each frame's own history
            _as_in_the_clip(swapper, track, k, frames)
            swapped = merge(frames[k], swapper.render(frames[k], lms), lms)
            pair = []
            for img in (frames[k], swapped):
                c = np.ascontiguousarray(img[y0:y1, x0:x1])
                w = int(round(c.shape[1] * tile / c.shape[0]))
                pair.append(cv2.resize(c, (w, tile), interpolation=cv2.INTER_AREA))
            columns.append((f"{source.stem} on {target.stem[:14]}: {name} ({k})",
                            np.concatenate(pair, 0)))
            chosen.append({"source": source.name, "target": target.name, "row": name,
                           "frame": k})
    gap = 4
    width = sum(c.shape[1] for _, c in columns) + gap * (len(columns) - 1)
    sheet = Image.new("RGB", (width, 2 * tile + 30), "white")
    draw = ImageDraw.Draw(sheet)
    x = 0
    for label, c in columns:
        sheet.paste(Image.fromarray(c), (x, 30))
        draw.text((x + 2, 2), label[: c.shape[1] // 6], fill="black")
        draw.text((x + 2, 15), label.split(": ")[1], fill="black")
        x += c.shape[1] + gap
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return chosen


def throughput(target: Path, size: tuple[int, int], source: Path) -> dict:
    """Extraction and landmark-swap frames/s for a clip resized to `size` (w, h)."""
    import cv2

    from retake.video.faces import FaceModels
    from retake.video.faceset import extract
    from retake.video.media import VideoWriter, probe, read_frames, read_image
    from retake.video.swap import swap_video
    from retake.video.swap_landmark import LandmarkSwapper, source_face

    info = probe(target)
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.mp4"
        w, h = size
        with VideoWriter(clip, info.fps, w, h) as wr:
            for fr in read_frames(target):
                s = min(w / fr.rgb.shape[1], h / fr.rgb.shape[0])
                im = cv2.resize(fr.rgb, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
                canvas = np.zeros((h, w, 3), np.uint8)
                y0, x0 = (h - im.shape[0]) // 2, (w - im.shape[1]) // 2
                canvas[y0:y0 + im.shape[0], x0:x0 + im.shape[1]] = im
                wr.write(canvas, fr.time)
        models = FaceModels()
        models.landmarks(np.zeros((64, 64, 3), np.uint8), np.array([0, 0, 63, 63]))  # load
        models.embed(np.zeros((64, 64, 3), np.uint8), np.random.default_rng(0).random((68, 2)))
        t0 = time.perf_counter()
        fs = extract([clip], Path(tmp) / "faces", models)
        ext = len(fs.records) / (time.perf_counter() - t0)
        src = read_image(source)
        sw = LandmarkSwapper(src, source_face(src, models))
        t0 = time.perf_counter()
        res = swap_video(clip, Path(tmp) / "out.mp4", sw, models)
        sw_fps = res.frames / (time.perf_counter() - t0)
    return {"size": f"{w}x{h}", "extract_fps": round(ext, 1), "swap_fps": round(sw_fps, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shape", type=float, default=None,
                        help="landmark engine shape weight (default: the engine's)")
    parser.add_argument("--every", type=int, default=3, help="embed every Nth frame")
    parser.add_argument("--quick", action="store_true", help="one pair, no throughput")
    parser.add_argument("--source", action="append", default=None,
                        help="only this source photo (file name; repeatable)")
    parser.add_argument("--target", action="append", default=None,
                        help="only this target clip (file name; repeatable)")
    parser.add_argument("--photo-expression", action="store_true",
                        help="A/B: the photo's eyes and mouth interior everywhere (the "
                             "engine before the target's were carried through)")
    parser.add_argument("--expression-sheet", action="store_true",
                        help="only write expression_SOURCE_on_TARGET.png (blink and mouth "
                             "frames, before and now) for the first chosen pair")
    parser.add_argument("--previous-merge", action="store_true",
                        help="A/B: the merge before skin-only colour and the contour-"
                             "following multi-band boundary (blend.PREVIOUS)")
    parser.add_argument("--colour-sheet", action="store_true",
                        help="only write colour_SOURCE_on_TARGET.png (frontal and turned "
                             "heads, brows and eyes: target, before, now) for each chosen "
                             "pair")
    parser.add_argument("--readme-sheet", action="store_true",
                        help="only write readme_sheet.png (blink, closed and open mouth, "
                             "turned head; target above output) for README_PAIRS")
    args = parser.parse_args()
    if not (MEDIA / "faces").is_dir() or not (MEDIA / "video").is_dir():
        print(f"skipped: {MEDIA} is absent")
        return
    from retake.video.swap_landmark import LandmarkSwapper

    shape = args.shape if args.shape is not None else \
        LandmarkSwapper.__init__.__defaults__[0]
    sources = sorted((MEDIA / "faces").glob("*.jpg")) + sorted((MEDIA / "faces").glob("*.png"))
    targets = sorted((MEDIA / "video").glob("*.mp4"))
    if args.source:
        sources = [p for p in sources if p.name in args.source]
    if args.target:
        targets = [p for p in targets if p.name in args.target]
    if args.quick:
        sources, targets = sources[:1], targets[:1]
    partial = args.quick or bool(args.source or args.target)
    if args.expression_sheet:
        path = RESULTS / "faceswap" / f"expression_{sources[0].stem}_on_{targets[0].stem}.png"
        print(json.dumps(expression_sheet(sources[0], targets[0], path)), f"wrote {path}")
        return
    if args.readme_sheet:
        pairs = [(MEDIA / "faces" / s, MEDIA / "video" / t) for s, t in README_PAIRS]
        path = RESULTS / "faceswap" / "readme_sheet.png"
        print(json.dumps(readme_sheet(pairs, path)), f"wrote {path}")
        return
    if args.colour_sheet:
        for s in sources:
            for t in targets:
                path = RESULTS / "faceswap" / f"colour_{s.stem}_on_{t.stem}.png"
                print(json.dumps(colour_sheet(s, t, path)), f"wrote {path}")
        return
    from dataclasses import replace

    from retake.video.blend import PREVIOUS, MergeOptions

    old = {"merge_options": MergeOptions(keep_inner_mouth=False), "photo_expression": True} \
        if args.photo_expression else {}
    if args.previous_merge:
        base = old.get("merge_options", MergeOptions())
        old["merge_options"] = replace(base, colour=PREVIOUS.colour, blend=PREVIOUS.blend,
                                       contour=PREVIOUS.contour)
    partial = partial or args.photo_expression or args.previous_merge
    rows = []
    for s in sources:
        for t in targets:
            # Partial runs leave the committed sheets (and faceswap.json) alone.
            row = evaluate_pair(s, t, shape, args.every, None if partial else
                                RESULTS / "faceswap" / f"{s.stem}_on_{t.stem}.jpg", **old)
            print(json.dumps(row))
            rows.append(row)
    speed = [] if partial else [
        throughput(targets[0], (512, 512), sources[0]),
        throughput(targets[0], (1280, 720), sources[0]),
    ]
    for s in speed:
        print(json.dumps(s))

    def mean(k: str) -> float:
        return round(float(np.mean([r[k] for r in rows])), 4)

    summary = {
        "pairs": len(rows), "shape": shape,
        "identity_to_source_mean": mean("identity_to_source_mean"),
        "identity_below_0_6_share": mean("identity_below_0_6_share"),
        "nearer_source_than_target_share_min": min(r["nearer_source_than_target_share"]
                                                   for r in rows),
        "landmark_error_iod_mean": mean("landmark_error_iod"),
        "landmark_error_iod_max": max(r["landmark_error_iod"] for r in rows),
        "landmark_floor_iod_mean": mean("landmark_floor_iod"),
        "landmark_error_no_brows_iod_max": max(r["landmark_error_no_brows_iod"]
                                               for r in rows),
        "landmark_tracking_error_iod_mean": mean("landmark_tracking_error_iod"),
        "landmark_tracking_error_iod_max": max(r["landmark_tracking_error_iod"] for r in rows),
        "landmark_error_by_region_mean": {
            k: round(float(np.mean([r["landmark_error_by_region"][k] for r in rows])), 4)
            for k in REGIONS},
        "brow_raise_corr_mean": mean("brow_raise_corr"),
        "brow_raise_corr_min": min(r["brow_raise_corr"] for r in rows),
        "brow_raise_corr_dlib_mean": mean("brow_raise_corr_dlib"),
        "brow_motion_error_iod_max": max(r["brow_motion_error_iod"] for r in rows),
        "jitter_ratio_mean": round(float(np.mean([r["jitter_out"] / r["jitter_in"]
                                                  for r in rows])), 3),
        "eye_openness_corr_mean": mean("eye_openness_corr"),
        "blinks_in": sum(r["blinks_in"] for r in rows),
        "blinks_kept_share": round(sum(r["blinks_kept"] for r in rows)
                                   / max(sum(r["blinks_in"] for r in rows), 1), 3),
        "blinks_extra": sum(r["blinks_extra"] for r in rows),
        "mouth_opening_corr_mean": mean("mouth_opening_corr"),
        # Where the target looks about (the expressive clip): the others hold the camera.
        "gaze_corr_where_it_moves": round(float(np.mean(
            [r["gaze_corr"] for r in rows if r["gaze_spread_in"] >= GAZE_MOVES] or [np.nan])),
            3),
        "skin_delta_e_mean": mean("skin_delta_e"),
        "skin_delta_e_pair_max": max(r["skin_delta_e"] for r in rows),
        "brow_ab_shift_mean": mean("brow_ab_shift"),
        "brow_shift_over_spread_max": round(max(r["brow_ab_shift"] / r["brow_ab_spread_source"]
                                                for r in rows), 3),
        "eye_ab_shift_mean": mean("eye_ab_shift"),
        "brow_hue_shift_deg_abs_max": max(abs(r["brow_hue_shift_deg"]) for r in rows),
        "brow_hue_shift_over_spread_max": round(max(
            abs(r["brow_hue_shift_deg"]) / max(r["brow_hue_spread_source_deg"], 1e-6)
            for r in rows), 3),
        "eye_hue_shift_deg_abs_max": max(abs(r["eye_hue_shift_deg"]) for r in rows),
        "eye_hue_shift_over_spread_max": round(max(
            abs(r["eye_hue_shift_deg"]) / max(r["eye_hue_spread_source_deg"], 1e-6)
            for r in rows), 3),
        "seam_ratio_mean": mean("seam_ratio"),
        "seam_ratio_pair_max": max(r["seam_ratio"] for r in rows),
        "render_merge_ms_mean": mean("render_merge_ms"),
        "speed": speed,
    }
    s512 = next((s for s in speed if s["size"] == "512x512"), None)
    goals = {
        "identity < 0.6 on >= 90% of frames": summary["identity_below_0_6_share"] >= 0.9,
        # issue 14 (e): nearer the source than the target on >= 90% of every clip's frames
        "nearer to source than target on >= 90% of frames (each pair)":
            summary["nearer_source_than_target_share_min"] >= 0.9,
        # The photo's shape is carried on purpose (identity above); the goal of 0.05 is
        # held by how the landmarks follow the target's (raw error in the summary).
        "landmark tracking error <= 0.05 (each pair)":
            summary["landmark_tracking_error_iod_max"] <= 0.05,
        "jitter below the input's": summary["jitter_ratio_mean"] < 1.0,
        "target blinks kept >= 90%": summary["blinks_kept_share"] >= 0.9,
        "skin ΔE2000 <= 6 (each pair's mean)": summary["skin_delta_e_pair_max"] <= 6,
        # The issue asks for the hue of brows and eyes; the (a*, b*) distance above also
        # counts the chroma a face loses with its light, and is kept as information.
        "brow hue within the source's range (each pair)":
            summary["brow_hue_shift_over_spread_max"] <= 1.0,
        "eye hue within the source's range (each pair)":
            summary["eye_hue_shift_over_spread_max"] <= 1.0,
        "seam energy <= 1.3x the target's (each pair's mean)":
            summary["seam_ratio_pair_max"] <= 1.3,
    }
    if s512:
        goals["extraction >= 20 fps at 512"] = s512["extract_fps"] >= 20
        goals["swap >= 10 fps at 512"] = s512["swap_fps"] >= 10
    print(json.dumps(summary, indent=1))
    for k, v in goals.items():
        print(f"  {'PASS' if v else 'MISS'}  {k}")
    if not partial:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "faceswap.json").write_text(json.dumps(
            {"summary": summary, "goals": goals, "pairs": rows}, indent=1) + "\n")
        print(f"wrote {RESULTS / 'faceswap.json'}")


if __name__ == "__main__":
    main()
