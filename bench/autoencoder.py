"""Autoencoder face-swap benchmark: what 10 / 30 / 60 minutes of CPU training buy.

src = the retalking_2 speaker (every frame of video/retalking_2.mp4); dst = the Katie Hill
clip (WDA_KatieHill_000.mp4, 200 frames at 512 px). ONE training run of a 64 px model
(`--resolution`) pauses at each cumulative budget of `--budgets` (default 10 30 60 minutes
of training time; the run resumes from its checkpoint between budgets through
`TrainOptions.time_limit`), and at each mark swaps the whole dst clip with the model
(`AutoencoderSwapper`, learned mask, default merge) and measures the output video:

- identity: dlib embedding distance of the output face to the src person (the mean of the
  src faceset's embeddings): mean, share below 0.6 ("same person" for dlib) and share of
  frames nearer the src person than the frame's own original face (every `--every`th
  frame);
- expression (every frame, `bench/faceswap.py`'s measures): Pearson correlation of the
  output's eye openness (EAR) with the target's, target blinks kept, and mouth-opening
  correlation; landmark error (output vs target landmarks / inter-ocular);
- sharpness ratio: variance of the Laplacian of the grey face region (the target's 'face'
  mask, eroded off the seam), output over target frame, mean over frames (1 = as sharp as
  the target; both are decoded from h264 video); and the same without the grown mouth
  region (`sharpness_ratio_no_mouth`), since every engine's open mouth shows the target's
  own interior, whose teeth edges dominate the Laplacian. The src clip is itself soft
  (its faceset's median blur score is ~18 against ~600 for the dst's, same 256 px crops),
  so no engine that paints the src person's face gets near 1;
- skin ΔE2000 of the output against the target (`video/swap_quality.py`);
- steps done, steps/s and the training loss (mean of the last 50 steps).

The row to beat is the `landmark` engine (default options) fed one sharp frontal frame of
the src clip (the src faceset's sharpest face with |yaw| < 0.15, the full frame), measured
the same way on the same clip. Each budget gets a contact sheet,
bench/results/autoencoder/budget_NNmin.jpg: full-resolution face crops of the target's
blink frame (lowest EAR), closed-mouth frame, open-mouth frame and most frontal frame;
columns: target | landmark engine | autoencoder at that budget. The model's own training
preview at the last budget is copied to bench/results/autoencoder.png.

Training runs with `torch.set_num_threads(--threads)` (default 1, so a shared machine keeps
a core); everything is seeded (`--seed`). `--minutes M` is the old single-budget run (the
same as `--budgets M`: the Makefile's `--minutes 10` still works, now with the landmark row
and one sheet). Writes bench/results/autoencoder.json and the sheets; `--out DIR` writes
them under DIR instead (for smoke runs), leaving the committed results alone. `--work DIR`
keeps the facesets, model and swapped videos for a look afterwards.

`--model FOLDER [FOLDER ...]` trains nothing: it measures models trained elsewhere (on the
GPU machine, `bench/autoencoder_gpu.py`) on the same clip beside the landmark row, writes
bench/results/autoencoder_gpu.json and one sheet, bench/results/autoencoder/gpu.jpg
(target | landmark engine | each model), and copies each model's training preview.

    .venv/bin/python bench/autoencoder.py                 # 10 / 30 / 60 min (~75 min wall)
    .venv/bin/python bench/autoencoder.py --model model_a model_b      # trained elsewhere
    .venv/bin/python bench/autoencoder.py --budgets 0.5 1 --out /tmp/ae_smoke   # smoke
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
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


def _seed(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def sharpness(rgb: np.ndarray, mask: np.ndarray) -> float:
    """Variance of the Laplacian of the grey image inside a boolean mask."""
    import cv2

    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    lap = cv2.Laplacian(grey, cv2.CV_64F)
    return float(lap[mask].var())


def face_core(shape: tuple[int, ...], lms: np.ndarray) -> np.ndarray:
    """The target's face region, eroded by 0.15 inter-ocular so the seam is left out."""
    import cv2

    from retake.video.geometry import inter_ocular, region_mask

    m = (region_mask(shape[:2], lms, "face") > 0.5).astype(np.uint8)
    k = max(3, int(0.15 * inter_ocular(lms)) | 1)
    return cv2.erode(m, np.ones((k, k), np.uint8)).astype(bool)


def without_mouth(core: np.ndarray, lms: np.ndarray) -> np.ndarray:
    """`core` less the (grown) mouth, whose interior every engine takes from the target."""
    from retake.video.geometry import region_mask

    return core & (region_mask(core.shape, lms, "mouth") < 0.05)


def detect_all(models, frames: list) -> dict[int, np.ndarray]:
    """dlib landmarks of the largest face of each frame ({index: (68, 2)})."""
    from bench.faceswap import _face

    out = {}
    for fr in frames:
        lms = _face(models, fr.rgb)
        if lms is not None:
            out[fr.index] = lms
    return out


def measure(models, ins: list, in_lms: dict, out_video: Path, src_emb: np.ndarray,
            every: int, keep: set[int]) -> tuple[dict, dict[int, np.ndarray]]:
    """Identity, expression, landmark, sharpness and colour measures of a swapped video.

    Returns the measures and the output frames listed in `keep` ({index: rgb}).
    """
    from bench.faceswap import _corr, _face, blinks_kept
    from retake.video.expression import eye_openness, mouth_opening
    from retake.video.geometry import inter_ocular
    from retake.video.media import read_frames
    from retake.video.swap_quality import skin_delta_e

    d_src, d_dst, lm_err, sharp, sharp_nm, d_e = [], [], [], [], [], []
    ear_in, ear_out, mouth_in, mouth_out, seen = [], [], [], [], []
    kept: dict[int, np.ndarray] = {}
    by_index = {f.index: f for f in ins}
    for fo in read_frames(out_video):
        if fo.index in keep:
            kept[fo.index] = fo.rgb
        fi, li = by_index.get(fo.index), in_lms.get(fo.index)
        if fi is None or li is None:
            continue
        lo = _face(models, fo.rgb)
        if lo is None:
            continue
        seen.append(fo.index)
        iod = inter_ocular(li)
        lm_err.append(float(np.linalg.norm(lo - li, axis=1).mean() / iod))
        ear_in.append(eye_openness(li))
        ear_out.append(eye_openness(lo))
        mouth_in.append(mouth_opening(li))
        mouth_out.append(mouth_opening(lo))
        if fo.index % every == 0:
            eo = models.embed(fo.rgb, lo)
            d_src.append(float(np.linalg.norm(eo - src_emb)))
            d_dst.append(float(np.linalg.norm(eo - models.embed(fi.rgb, li))))
            core = face_core(fi.rgb.shape, li)
            sharp.append(sharpness(fo.rgb, core) / max(sharpness(fi.rgb, core), 1e-9))
            nm = without_mouth(core, li)
            sharp_nm.append(sharpness(fo.rgb, nm) / max(sharpness(fi.rgb, nm), 1e-9))
            d_e.append(skin_delta_e(fo.rgb, fi.rgb, li))
    d_src_a, d_dst_a = np.array(d_src), np.array(d_dst)
    blinks = blinks_kept(ear_in, ear_out, seen)
    return {
        "frames_measured": len(seen), "identity_frames": len(d_src),
        "identity_to_src_mean": round(float(d_src_a.mean()), 3),
        "identity_below_0_6_share": round(float((d_src_a < 0.6).mean()), 3),
        "nearer_src_than_dst_share": round(float((d_src_a < d_dst_a).mean()), 3),
        "identity_to_dst_mean": round(float(d_dst_a.mean()), 3),
        "eye_openness_corr": _corr(ear_in, ear_out),
        **blinks,
        "mouth_opening_corr": _corr(mouth_in, mouth_out),
        "landmark_error_iod": round(float(np.mean(lm_err)), 4),
        "sharpness_ratio": round(float(np.mean(sharp)), 3),
        "sharpness_ratio_min": round(float(np.min(sharp)), 3),
        "sharpness_ratio_no_mouth": round(float(np.mean(sharp_nm)), 3),
        "skin_delta_e": round(float(np.nanmean(d_e)), 2),
    }, kept


def sheet_rows(in_lms: dict[int, np.ndarray]) -> dict[str, int]:
    """The target frames a contact sheet shows: blink, closed and open mouth, frontal."""
    from retake.video.expression import eye_openness, mouth_opening
    from retake.video.faceset import yaw_estimate

    idx = sorted(in_lms)
    ear = [eye_openness(in_lms[k]) for k in idx]
    mouth = [mouth_opening(in_lms[k]) for k in idx]
    yaw = [abs(yaw_estimate(in_lms[k])) for k in idx]
    return {"blink (lowest EAR)": idx[int(np.argmin(ear))],
            "mouth closed": idx[int(np.argmin(mouth))],
            "mouth open": idx[int(np.argmax(mouth))],
            "most frontal": idx[int(np.argmin(yaw))]}


def contact_sheet(rows: dict[str, int], in_lms: dict[int, np.ndarray],
                  columns: list[tuple[str, dict[int, np.ndarray]]], title: str,
                  out: Path) -> None:
    """Full-resolution face crops, one row per chosen frame, one column per image source."""
    from PIL import Image, ImageDraw

    from retake.video.geometry import inter_ocular

    tiles = []
    for label, k in rows.items():
        lms = in_lms[k]
        iod = inter_ocular(lms)
        h, w = next(iter(columns))[1][k].shape[:2]
        x0, y0 = np.floor(lms.min(0) - [0.4 * iod, 1.0 * iod]).astype(int).clip(0)
        x1, y1 = np.ceil(lms.max(0) + 0.4 * iod).astype(int)
        x1, y1 = min(x1, w), min(y1, h)
        tiles.append((f"frame {k}: {label}", [c[k][y0:y1, x0:x1] for _, c in columns]))
    tw = max(c.shape[1] for _, cs in tiles for c in cs)
    heights = [max(c.shape[0] for c in cs) + 18 for _, cs in tiles]
    n = len(columns)
    sheet = Image.new("RGB", (n * tw + 4 * (n - 1), sum(heights) + 34), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((2, 2), title, fill="black")
    for j, (name, _) in enumerate(columns):
        draw.text((j * (tw + 4) + 2, 18), name, fill="black")
    y = 34
    for (label, crops), hh in zip(tiles, heights, strict=True):
        draw.text((2, y), label, fill="black")
        for j, c in enumerate(crops):
            sheet.paste(Image.fromarray(np.ascontiguousarray(c)), (j * (tw + 4), y + 16))
        y += hh
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, quality=90)


def src_photo(src_clip: Path, fs) -> tuple[np.ndarray, dict]:
    """The full src frame holding the faceset's sharpest near-frontal face."""
    from retake.video.media import read_frames

    frontal = [r for r in fs.records if abs(r.yaw) < 0.15] or fs.records
    best = max(frontal, key=lambda r: r.blur)
    for fr in read_frames(src_clip):
        if fr.index == best.frame:
            return fr.rgb, {"frame": best.frame, "blur": round(best.blur, 1),
                            "yaw": round(best.yaw, 3)}
    raise RuntimeError(f"frame {best.frame} of {src_clip} not found")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budgets", type=float, nargs="+", default=[10.0, 30.0, 60.0],
                        help="cumulative training minutes to stop and measure at")
    parser.add_argument("--minutes", type=float, default=None,
                        help="one budget only (the old single run; same as --budgets M)")
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (training)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--every", type=int, default=2,
                        help="identity, sharpness and colour on every Nth frame")
    parser.add_argument("--out", type=Path, default=None,
                        help="write the json and sheets here instead of bench/results")
    parser.add_argument("--model", type=Path, nargs="+", default=None,
                        help="measure these trained model folders instead of training")
    parser.add_argument("--work", type=Path, default=None,
                        help="keep facesets, model and videos here (default: a temp dir)")
    args = parser.parse_args()
    budgets = sorted([args.minutes] if args.minutes is not None else args.budgets)
    src_clip = MEDIA / "video" / "retalking_2.mp4"
    dst_clip = MEDIA / "video" / "WDA_KatieHill_000.mp4"
    if not src_clip.is_file() or not dst_clip.is_file():
        print(f"skipped: {MEDIA} is absent")
        return
    import cv2
    import torch

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(1)
    _seed(args.seed)

    from retake.video.autoencoder import TrainOptions, pick_device, train
    from retake.video.faces import FaceModels
    from retake.video.faceset import extract
    from retake.video.media import read_frames
    from retake.video.swap import swap_video
    from retake.video.swap_autoencoder import AutoencoderSwapper
    from retake.video.swap_landmark import LandmarkSwapper, source_face

    results = args.out or RESULTS
    sheets = results / "autoencoder"
    log = print
    models = FaceModels()
    tmp_ctx = tempfile.TemporaryDirectory() if args.work is None else None
    t = Path(tmp_ctx.name) if tmp_ctx else args.work
    t.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        src_fs = extract([src_clip], t / "src", models)
        extract([dst_clip], t / "dst", models)
        log(f"extracted {len(src_fs.records)} src faces in {time.perf_counter() - t0:.0f} s")
        src_emb = np.mean([r.embedding for r in src_fs.records if r.embedding], axis=0)

        ins = list(read_frames(dst_clip))
        in_lms = detect_all(models, ins)
        rows = sheet_rows(in_lms)
        keep = set(rows.values())
        target_frames = {f.index: f.rgb for f in ins if f.index in keep}

        # The row to beat: the landmark engine with one sharp frontal src frame.
        photo, photo_info = src_photo(src_clip, src_fs)
        lsw = LandmarkSwapper(photo, source_face(photo, models))
        t0 = time.perf_counter()
        res = swap_video(dst_clip, t / "landmark.mp4", lsw, models)
        land_fps = res.frames / (time.perf_counter() - t0)
        land, land_frames = measure(models, ins, in_lms, t / "landmark.mp4", src_emb,
                                    args.every, keep)
        land = {"engine": "landmark (default options)", "source_frame": photo_info,
                "swap_fps": round(land_fps, 1), **land}
        log(json.dumps(land))
        if args.model:
            evaluate_models(args.model, dst_clip, t, models, ins, in_lms, src_emb, rows,
                            keep, target_frames, land, land_frames, args.every, results)
            return

        opts = TrainOptions(resolution=args.resolution, steps=10**7, preview_every=500,
                            device=args.device, seed=args.seed)
        trained_s, out_rows, hist = 0.0, [], {"step": [0], "loss": [float("nan")]}
        for budget in budgets:
            opts.time_limit = max(0.0, budget * 60 - trained_s)
            t0 = time.perf_counter()
            hist = train(t / "src", t / "dst", t / "model", opts)
            seg_s = time.perf_counter() - t0
            seg_steps = hist["step"][-1] - (out_rows[-1]["steps"] if out_rows else 0)
            trained_s += seg_s
            steps = hist["step"][-1]
            t0 = time.perf_counter()
            out = t / f"ae_{budget:g}.mp4"
            res = swap_video(dst_clip, out, AutoencoderSwapper(t / "model"), models)
            swap_fps = res.frames / (time.perf_counter() - t0)
            m, ae_frames = measure(models, ins, in_lms, out, src_emb, args.every, keep)
            row = {"budget_minutes": budget, "train_s": round(trained_s, 1), "steps": steps,
                   "steps_per_s": round(steps / trained_s, 3),
                   "segment_steps_per_s": round(seg_steps / seg_s, 3),
                   "loss_last50": round(float(np.mean(hist["loss"][-50:])), 4),
                   "src_loss_last50": round(float(np.mean(hist["src"][-50:])), 4),
                   "dst_loss_last50": round(float(np.mean(hist["dst"][-50:])), 4),
                   "swap_fps": round(swap_fps, 1), **m,
                   "sheet": f"autoencoder/budget_{budget:g}min.jpg"}
            out_rows.append(row)
            log(json.dumps(row))
            contact_sheet(rows, in_lms,
                          [("target", target_frames), ("landmark engine", land_frames),
                           (f"autoencoder, {budget:g} min ({steps} steps)", ae_frames)],
                          f"{dst_clip.name}: target | landmark engine | autoencoder "
                          f"{args.resolution} px after {budget:g} min CPU",
                          sheets / f"budget_{budget:g}min.jpg")
            preview = t / "model" / "previews" / "latest.png"
            if preview.is_file():
                shutil.copy(preview, sheets / f"preview_{budget:g}min.png")
        if preview.is_file():
            shutil.copy(preview, results / "autoencoder.png")
    finally:
        if tmp_ctx:
            tmp_ctx.cleanup()
    n = len(hist["step"])
    marks = sorted({min(n - 1, i) for i in (0, 50, 100, 200, 400, 800, 1600, 3200, 6400,
                                            n - 1)})
    summary = {
        "device": str(pick_device(args.device)), "resolution": args.resolution,
        "seed": args.seed, "torch_threads": args.threads, "cpu_cores": os.cpu_count(),
        "machine_note": "shared machine: 2 CPU cores, other jobs running at the same time; "
                        "steps/s and so steps per budget are lower than on an idle machine",
        "src": src_clip.name, "dst": dst_clip.name, "budgets_minutes": budgets,
        "sheet_rows": rows,
        "landmark_engine": land,
        "autoencoder": out_rows,
        "loss_curve": [[hist["step"][i], round(hist["loss"][i], 4)] for i in marks],
    }
    print(json.dumps(summary, indent=1))
    results.mkdir(parents=True, exist_ok=True)
    (results / "autoencoder.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(f"wrote {results / 'autoencoder.json'}")
    print(table(summary))


def evaluate_models(folders: list[Path], dst_clip: Path, work: Path, models, ins: list,
                    in_lms: dict, src_emb: np.ndarray, rows: dict, keep: set[int],
                    target_frames: dict, land: dict, land_frames: dict, every: int,
                    results: Path) -> None:
    """Swap the dst clip with each trained model, measure it, write json, sheet, table."""
    from retake.video.autoencoder import model_info
    from retake.video.swap import swap_video
    from retake.video.swap_autoencoder import AutoencoderSwapper

    out_rows, columns = [], [("target", target_frames), ("landmark engine", land_frames)]
    for folder in folders:
        meta = model_info(folder)
        t0 = time.perf_counter()
        out = work / f"{folder.name}.mp4"
        res = swap_video(dst_clip, out, AutoencoderSwapper(folder), models)
        swap_fps = res.frames / (time.perf_counter() - t0)
        m, frames = measure(models, ins, in_lms, out, src_emb, every, keep)
        loss = json.loads((folder / "loss.json").read_text())
        row = {"model": folder.name, "resolution": meta["resolution"], "arch": meta["arch"],
               "steps": meta["steps"], "trained_on": meta.get("trained_on"),
               "batch_size": meta.get("options", {}).get("batch_size"),
               "loss_last200": round(float(np.mean(loss["loss"][-200:])), 4),
               "swap_fps_cpu": round(swap_fps, 1), **m}
        out_rows.append(row)
        print(json.dumps(row))
        columns.append((f"{meta['resolution']} px, {meta['steps']} steps", frames))
        preview = folder / "previews" / "latest.png"
        if preview.is_file():
            shutil.copy(preview, results / "autoencoder" / f"preview_{folder.name}.png")
    contact_sheet(rows, in_lms, columns, f"{dst_clip.name}: target | landmark engine | "
                  "autoencoder models trained on a GPU", results / "autoencoder" / "gpu.jpg")
    summary = {"dst": dst_clip.name, "sheet_rows": rows, "landmark_engine": land,
               "models": out_rows}
    (results / "autoencoder_gpu.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(f"wrote {results / 'autoencoder_gpu.json'}")


def table(summary: dict) -> str:
    """The README's markdown table of a budget run."""
    head = ("| engine | steps | loss | identity to src | < 0.6 | nearer src | EAR corr | "
            "blinks kept | mouth corr | landmark err / IOD | sharpness ratio | "
            "sharpness, no mouth |")
    lines = [head, "|" + "---|" * 12]

    def cells(r: dict) -> str:
        return (f"{r['identity_to_src_mean']:.3f} | {r['identity_below_0_6_share']:.2f} | "
                f"{r['nearer_src_than_dst_share']:.2f} | {r['eye_openness_corr']:.2f} | "
                f"{r['blinks_kept']}/{r['blinks_in']} | {r['mouth_opening_corr']:.2f} | "
                f"{r['landmark_error_iod']:.3f} | {r['sharpness_ratio']:.2f} | "
                f"{r['sharpness_ratio_no_mouth']:.2f} |")

    for r in summary["autoencoder"]:
        lines.append(f"| autoencoder {summary['resolution']} px, {r['budget_minutes']:g} min "
                     f"| {r['steps']} | {r['loss_last50']:.3f} | " + cells(r))
    lines.append("| landmark engine (one src frame) | – | – | " + cells(summary["landmark_engine"]))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
