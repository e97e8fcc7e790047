"""Train the autoencoder on a CUDA machine and bring its weights back to swap with here.

The GPU machine this project is sometimes lent (see the README's benchmark section) has
PyTorch but neither dlib nor PyAV and returns at most a few files of 16 MiB, so the work is
split in three:

1. here: extract the two facesets (`retake faces extract`, dlib) into a folder that travels;
2. there: `pack` trains on them (`retake.video.autoencoder.train`, CUDA, batches augmented
   on the GPU; the H200 run of the README used 12 CPU threads instead) for a time budget,
   then writes the network's weights as float16 in files under 16 MiB, with model.json,
   loss.json and the last preview;
3. here: `unpack` joins the chunks into a model folder `retake swap --model` loads, and
   `bench/autoencoder.py --model FOLDER` measures it against the landmark engine.

    python3 bench/autoencoder_gpu.py pack --src FS --dst FS --out $OUT --minutes 6.5
    .venv/bin/python bench/autoencoder_gpu.py unpack --from RETURNED --into MODEL

The unpacked folder holds no optimiser state, so it swaps but does not resume training.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHUNK_BYTES = 16 * 2**20  # the most one returned file may hold


def pack(args: argparse.Namespace) -> None:
    """Train for `--minutes`, then write weights_NN.pt (float16), model.json, loss.json."""
    import cv2
    import torch

    from retake.video.autoencoder import TrainOptions, train

    cv2.setNumThreads(1)  # the batch workers are the parallelism
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
    print(f"torch {torch.__version__}, cuda {torch.cuda.is_available()}, "
          f"{torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU'}")
    model = args.work / "model"
    opts = TrainOptions(resolution=args.resolution, batch_size=args.batch, steps=10**7,
                        preview_every=args.preview_every, save_every=10**9,
                        device=args.device, seed=args.seed, time_limit=args.minutes * 60,
                        encoder_dims=args.encoder_dims, bottleneck=args.bottleneck,
                        decoder_dims=args.decoder_dims, workers=args.workers,
                        augment=args.augment,
                        gan_after=args.gan_after)
    before = json.loads((model / "model.json").read_text())["steps"] \
        if (model / "model.json").is_file() else 0  # a warm machine's earlier run resumes
    t0, last = time.perf_counter(), [0.0]

    def report(_stage: str, done: int, _total: int) -> None:
        now = time.perf_counter() - t0
        if now - last[0] >= 30:
            last[0] = now
            print(f"{now:6.0f} s  step {done}  {(done - before) / now:.1f} steps/s",
                  flush=True)

    hist = train(args.src, args.dst, model, opts, progress=report)
    took = time.perf_counter() - t0
    state = torch.load(model / "model.pt", map_location="cpu", weights_only=True)["net"]
    args.out.mkdir(parents=True, exist_ok=True)
    files = write_chunks(state, args.out)
    meta = json.loads((model / "model.json").read_text())
    meta["trained_on"] = {"device": torch.cuda.get_device_name(0)
                          if torch.cuda.is_available() else "cpu",
                          "seconds": round(took, 1),
                          "steps_from": before,
                          "steps_per_s": round((hist["step"][-1] - before) / took, 2),
                          "weights": "float16 (packed for the trip back)"}
    (args.out / "model.json").write_text(json.dumps(meta, indent=1))
    shutil.copy(model / "loss.json", args.out / "loss.json")
    shutil.copy(model / "previews" / "latest.png", args.out / "preview.png")
    print(json.dumps(meta["trained_on"]), f"steps {hist['step'][-1]}", f"{files} weight files",
          f"loss(last 200) {sum(hist['loss'][-200:]) / len(hist['loss'][-200:]):.4f}")


def write_chunks(state: dict, out: Path) -> int:
    """Write float16 copies of `state` as weights_NN.pt files of at most CHUNK_BYTES each,
    filled up: a tensor that does not fit is cut into row blocks ('KEY::i') that carry on
    into the next file. Returns the file count."""
    import torch

    room = CHUNK_BYTES - 2**17  # torch.save's own bytes
    chunk: dict[str, torch.Tensor] = {}
    size, n = 0, 0

    def flush() -> None:
        nonlocal chunk, size, n
        torch.save(chunk, out / f"weights_{n:02d}.pt")
        chunk, size, n = {}, 0, n + 1

    for key, t in state.items():
        t = (t.half() if t.is_floating_point() else t).contiguous()
        nbytes = t.numel() * t.element_size() + 1024
        if size + nbytes <= room or not t.dim() or t.shape[0] < 2:
            if chunk and size + nbytes > room:
                flush()
            chunk[key], size = t, size + nbytes
            continue
        row = t[0].numel() * t.element_size()
        start, i = 0, 0
        while start < t.shape[0]:
            fit = max(0 if chunk else 1, (room - size - 1024) // row)
            if fit == 0:
                flush()
                continue
            chunk[f"{key}::{i}"] = t[start:start + fit].clone()
            size += min(fit, t.shape[0] - start) * row + 1024
            start, i = start + fit, i + 1
    flush()
    return n


def read_chunks(folder: Path) -> dict:
    """The float32 state dict that `write_chunks` wrote into `folder`."""
    import torch

    parts: dict[str, list[tuple[int, torch.Tensor]]] = {}
    state: dict[str, torch.Tensor] = {}
    for f in sorted(folder.glob("weights_*.pt")):
        for key, t in torch.load(f, map_location="cpu", weights_only=True).items():
            t = t.float() if t.is_floating_point() else t
            if "::" in key:
                base, i = key.rsplit("::", 1)
                parts.setdefault(base, []).append((int(i), t))
            else:
                state[key] = t
    for base, blocks in parts.items():
        state[base] = torch.cat([t for _, t in sorted(blocks, key=lambda b: b[0])])
    return state


def unpack(args: argparse.Namespace) -> None:
    """Join weights_NN.pt into model.pt (float32) beside model.json and loss.json."""
    import torch

    from retake.core.atomic import atomic_path

    state = read_chunks(args.src)
    if not state:
        sys.exit(f"{args.src}: no weights_NN.pt files")
    args.into.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.into / "model.pt") as tmp:
        torch.save({"net": state}, tmp)
    for name in ("model.json", "loss.json"):
        shutil.copy(args.src / name, args.into / name)
    (args.into / "previews").mkdir(exist_ok=True)
    if (args.src / "preview.png").is_file():
        shutil.copy(args.src / "preview.png", args.into / "previews" / "latest.png")
    print(f"wrote {args.into} ({len(state)} tensors)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack", help="train (on the GPU machine) and pack the weights")
    p.add_argument("--src", type=Path, required=True)
    p.add_argument("--dst", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--work", type=Path, default=Path("/tmp/retake_ae"))
    p.add_argument("--minutes", type=float, default=6.0)
    p.add_argument("--resolution", type=int, default=128)
    p.add_argument("--encoder-dims", type=int, default=48)
    p.add_argument("--decoder-dims", type=int, default=64)
    p.add_argument("--bottleneck", type=int, default=256)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--augment", default="auto", choices=("auto", "threads", "device"),
                   help="where batches are augmented (auto: on the GPU)")
    p.add_argument("--gan-after", type=int, default=None)
    p.add_argument("--preview-every", type=int, default=2000)
    p.add_argument("--device", default="cuda")
    p.add_argument("--seed", type=int, default=0)
    u = sub.add_parser("unpack", help="join packed weights into a model folder")
    u.add_argument("--from", dest="src", type=Path, required=True)
    u.add_argument("--into", type=Path, required=True)
    args = parser.parse_args()
    pack(args) if args.cmd == "pack" else unpack(args)


if __name__ == "__main__":
    main()
