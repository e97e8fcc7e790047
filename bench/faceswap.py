"""Face-swap benchmark: identity moved, pose and expression kept, stability, throughput.

On ../shared/media: every source photo in faces/ onto every talking clip in video/ with the
`landmark` engine. Per sampled output frame, dlib finds the face again and we measure
- identity: embedding distance of the swapped face to the source photo (< 0.6 is "same
  person" for dlib) and to the target frame's original face;
- pose/expression: mean landmark error between output and input frame / inter-ocular, and
  its floor: the same error for the smoothed, tracked landmarks the face is rendered to
  (dlib's own frame-to-frame noise, which no renderer can go below);
- stability: landmark jitter (second difference / inter-ocular) of output vs input;
and throughput of extraction and swapping at 512x512 and 720p on this machine.
Writes bench/results/faceswap.json and contact sheets under bench/results/faceswap/.
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


def evaluate_pair(source: Path, target: Path, shape: float, every: int, sheet: Path | None,
                  merge_options=None) -> dict:
    """Swap one photo onto one clip and measure the output."""
    from PIL import Image

    from retake.video.faces import FaceModels
    from retake.video.geometry import inter_ocular
    from retake.video.media import read_frames, read_image
    from retake.video.swap import swap_video
    from retake.video.swap_landmark import LandmarkSwapper, source_face

    models = FaceModels()
    src = read_image(source)
    src_lms = source_face(src, models)
    src_emb = models.embed(src, src_lms)
    swapper = LandmarkSwapper(src, src_lms, shape=shape)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.mp4"
        t0 = time.perf_counter()
        res = swap_video(target, out, swapper, models, merge_options=merge_options)
        swap_s = time.perf_counter() - t0
        ins = list(read_frames(target))
        outs = list(read_frames(out))
    from retake.video.track import track_faces

    track = track_faces(ins, models)[0]
    d_src, d_tgt, lm_err, lin, lout, thumbs, floor = [], [], [], [], [], [], []
    for fi, fo in zip(ins, outs, strict=False):
        li, lo = _face(models, fi.rgb), _face(models, fo.rgb)
        if li is None or lo is None:
            continue
        lin.append(li)
        lout.append(lo)
        lm_err.append(float(np.linalg.norm(lo - li, axis=1).mean() / inter_ocular(li)))
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
    return {
        "source": source.name, "target": target.name, "frames": res.frames,
        "swap_fps": round(res.frames / swap_s, 2),
        "identity_to_source_mean": round(float(d_src_a.mean()), 3),
        "identity_below_0_6_share": round(float((d_src_a < 0.6).mean()), 3),
        "nearer_source_than_target_share": round(float((d_src_a < d_tgt_a).mean()), 3),
        "identity_to_target_mean": round(float(d_tgt_a.mean()), 3),
        "landmark_error_iod": round(float(np.mean(lm_err)), 4),
        "landmark_floor_iod": round(float(np.mean(floor)), 4),
        "jitter_in": round(_jitter(lin), 4), "jitter_out": round(_jitter(lout), 4),
    }


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
    args = parser.parse_args()
    if not (MEDIA / "faces").is_dir() or not (MEDIA / "video").is_dir():
        print(f"skipped: {MEDIA} is absent")
        return
    from retake.video.swap_landmark import LandmarkSwapper

    shape = args.shape if args.shape is not None else \
        LandmarkSwapper.__init__.__defaults__[0]
    sources = sorted((MEDIA / "faces").glob("*.jpg")) + sorted((MEDIA / "faces").glob("*.png"))
    targets = sorted((MEDIA / "video").glob("*.mp4"))
    if args.quick:
        sources, targets = sources[:1], targets[:1]
    rows = []
    for s in sources:
        for t in targets:
            row = evaluate_pair(s, t, shape, args.every,
                                RESULTS / "faceswap" / f"{s.stem}_on_{t.stem}.jpg")
            print(json.dumps(row))
            rows.append(row)
    speed = [] if args.quick else [
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
        "jitter_ratio_mean": round(float(np.mean([r["jitter_out"] / r["jitter_in"]
                                                  for r in rows])), 3),
        "speed": speed,
    }
    s512 = next((s for s in speed if s["size"] == "512x512"), None)
    goals = {
        "identity < 0.6 on >= 90% of frames": summary["identity_below_0_6_share"] >= 0.9,
        "nearer to source than target on all frames":
            summary["nearer_source_than_target_share_min"] >= 1.0,
        "landmark error <= 0.05": summary["landmark_error_iod_max"] <= 0.05,
        "jitter below the input's": summary["jitter_ratio_mean"] < 1.0,
    }
    if s512:
        goals["extraction >= 20 fps at 512"] = s512["extract_fps"] >= 20
        goals["swap >= 10 fps at 512"] = s512["swap_fps"] >= 10
    print(json.dumps(summary, indent=1))
    for k, v in goals.items():
        print(f"  {'PASS' if v else 'MISS'}  {k}")
    if not args.quick:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "faceswap.json").write_text(json.dumps(
            {"summary": summary, "goals": goals, "pairs": rows}, indent=1) + "\n")
        print(f"wrote {RESULTS / 'faceswap.json'}")


if __name__ == "__main__":
    main()
