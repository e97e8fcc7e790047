"""Autoencoder face-swap benchmark: loss curve and identity after a fixed training budget.

src = the retalking_2 speaker (every frame of video/retalking_2.mp4); dst = the Katie Hill
clip. Train a 64 px model for `--minutes` on this machine (CPU here; CUDA when present),
then swap the dst clip and measure, on every 4th frame, dlib's identity distance of the
result to the src person (mean faceset embedding) and to the original dst face.
Writes bench/results/autoencoder.json and the last preview to bench/results/autoencoder.png.
"""

from __future__ import annotations

import argparse
import json
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    src_clip = MEDIA / "video" / "retalking_2.mp4"
    dst_clip = MEDIA / "video" / "WDA_KatieHill_000.mp4"
    if not src_clip.is_file() or not dst_clip.is_file():
        print(f"skipped: {MEDIA} is absent")
        return
    from retake.video.autoencoder import TrainOptions, pick_device, train
    from retake.video.faces import FaceModels
    from retake.video.faceset import extract
    from retake.video.media import read_frames
    from retake.video.swap import swap_video
    from retake.video.swap_autoencoder import AutoencoderSwapper

    models = FaceModels()
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        src_fs = extract([src_clip], t / "src", models)
        extract([dst_clip], t / "dst", models)
        src_emb = np.mean([r.embedding for r in src_fs.records if r.embedding], axis=0)
        opts = TrainOptions(resolution=args.resolution, steps=10**7, preview_every=500,
                            time_limit=args.minutes * 60, device=args.device)
        t0 = time.perf_counter()
        hist = train(t / "src", t / "dst", t / "model", opts)
        train_s = time.perf_counter() - t0
        steps = hist["step"][-1]
        out = t / "swapped.mp4"
        t0 = time.perf_counter()
        res = swap_video(dst_clip, out, AutoencoderSwapper(t / "model"), models)
        swap_fps = res.frames / (time.perf_counter() - t0)
        d_src, d_dst = [], []
        for fi, fo in zip(read_frames(dst_clip), read_frames(out), strict=False):
            if fi.index % 4:
                continue
            bi, bo = models.detect(fi.rgb), models.detect(fo.rgb)
            if not bi or not bo:
                continue
            eo = models.embed(fo.rgb, models.landmarks(fo.rgb, bo[0]))
            ei = models.embed(fi.rgb, models.landmarks(fi.rgb, bi[0]))
            d_src.append(float(np.linalg.norm(eo - src_emb)))
            d_dst.append(float(np.linalg.norm(eo - ei)))
        preview = t / "model" / "previews" / "latest.png"
        RESULTS.mkdir(parents=True, exist_ok=True)
        if preview.is_file():
            shutil.copy(preview, RESULTS / "autoencoder.png")
    marks = sorted({min(len(hist["step"]) - 1, i) for i in
                    (0, 50, 100, 200, 400, 800, 1600, 3200, len(hist["step"]) - 1)})
    summary = {
        "device": str(pick_device(args.device)), "resolution": args.resolution,
        "minutes": args.minutes, "steps": steps,
        "steps_per_s": round(steps / train_s, 2),
        "loss_curve": [[hist["step"][i], round(hist["loss"][i], 4)] for i in marks],
        "identity_to_src_mean": round(float(np.mean(d_src)), 3),
        "identity_below_0_6_share": round(float(np.mean(np.array(d_src) < 0.6)), 3),
        "nearer_src_than_dst_share": round(float(np.mean(np.array(d_src) < np.array(d_dst))),
                                           3),
        "identity_to_dst_mean": round(float(np.mean(d_dst)), 3),
        "swap_fps": round(swap_fps, 1),
    }
    print(json.dumps(summary, indent=1))
    (RESULTS / "autoencoder.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(f"wrote {RESULTS / 'autoencoder.json'}")


if __name__ == "__main__":
    main()
