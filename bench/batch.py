"""Batch and split benchmark: 1 worker vs 2 local workers vs a two-node Ray cluster.

Work: (a) a batch of 20 mixed cheap jobs through the `retake batch` machinery (16 `align`
and 4 `detect` jobs on short espeak sentences); (b) one long `faces extract` (the longest
talking clip in ../shared/media/video) split into pieces. The Ray cluster is two nodes on
loopback, one CPU each (`ray start --head`, `ray start --address`), stopped at the end.
Reports throughput, scaling efficiency 1->2 workers, Ray overhead against the local pool,
peak memory per worker, and the projected time of DeepFaceLab's 123,676-frame extraction
on 1, 8 and 64 cores. Records the load average: on a shared machine the figures move.
Writes bench/results/batch.json.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MEDIA = ROOT.parent / "shared" / "media"
RESULTS = ROOT / "bench" / "results"
RAY = str(Path(sys.executable).with_name("ray"))
PORT = 6391
DFL_FRAMES = 123_676
JOBS = 20  # jobs in the batch (--jobs)
TEXTS = ["Please call Stella now.", "Bring these things with her from the store.",
         "Six spoons of fresh snow peas.", "We also need a small plastic snake."]


def job_with_memory(payload: dict) -> dict:
    """`run_job` plus the worker's peak resident memory (MiB)."""
    from retake.ui.batch_jobs import run_job

    res = run_job(payload)
    res.setdefault("figures", {})["peak_rss_mb"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return res


def make_batch(folder: Path) -> list:
    """`JOBS` tasks: align and detect of four generated sentences."""
    from retake.align.audio import write_wav
    from retake.align.espeak import synthesize
    from retake.ui.batch_jobs import build_job, task

    for i, text in enumerate(TEXTS):
        s = synthesize(text)
        write_wav(folder / f"a{i}.wav", s.audio, s.sample_rate)
        (folder / f"a{i}.txt").write_text(text + "\n")
    specs = []
    for n in range(JOBS):
        i = n % 4
        if n % 5 == 4:
            specs.append({"name": f"j{n}", "command": "detect", "args": [f"a{i}.wav"],
                          "output": f"out/j{n}", "transcript": f"a{i}.txt"})
        else:
            specs.append({"name": f"j{n}", "command": "align",
                          "args": [f"a{i}.wav", f"a{i}.txt"], "output": f"out/j{n}"})
    jobs = [build_job(n + 1, n + 1, s, folder) for n, s in enumerate(specs)]
    bad = [e for j in jobs for e in j.errors]
    if bad:
        raise SystemExit(f"bad bench jobs: {bad}")
    (folder / "logs").mkdir(exist_ok=True)
    return [task(j, folder, folder / "logs") for j in jobs]


def run_batch_once(folder: Path, workers: int, ray: str | None) -> dict:
    from retake.core.batch import Limits, State, run_batch

    out = folder / "out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    tasks = _tasks(folder)
    state = State(folder / f"state-{workers}-{ray is not None}.json")
    t0 = time.monotonic()
    outcomes = run_batch(tasks, job_with_memory, state, workers=workers, ray=ray,
                         limits=Limits(threads=1, cache=None))
    wall = time.monotonic() - t0
    done = sum(o.status == "done" for o in outcomes)
    return {"jobs": len(tasks), "done": done, "seconds": round(wall, 2),
            "jobs_per_min": round(60 * done / wall, 2),
            "peak_rss_mb_per_worker": max(o.figures.get("peak_rss_mb", 0) for o in outcomes),
            "failed": [o.error for o in outcomes if o.status != "done"][:3]}


def _tasks(folder: Path) -> list:
    from retake.ui.batch_jobs import build_job, task

    jobs = []
    for n in range(JOBS):
        i = n % 4
        spec = ({"name": f"j{n}", "command": "detect", "args": [f"a{i}.wav"],
                 "output": f"out/j{n}", "transcript": f"a{i}.txt"} if n % 5 == 4 else
                {"name": f"j{n}", "command": "align", "args": [f"a{i}.wav", f"a{i}.txt"],
                 "output": f"out/j{n}"})
        jobs.append(build_job(n + 1, n + 1, spec, folder))
    return [task(j, folder, folder / "logs") for j in jobs]


def run_faces_once(video: Path, folder: Path, workers: int, ray: str | None) -> dict:
    from retake.video.faces import FaceModels
    from retake.video.faceset import extract
    from retake.video.faceset_parallel import extract_faces_parallel

    out = folder / f"fs-{workers}-{ray is not None}"
    shutil.rmtree(out, ignore_errors=True)
    report: dict = {}
    t0 = time.monotonic()
    if workers == 1 and ray is None:
        fs = extract([video], out, FaceModels())
        report = {"pieces": 1, "peak_rss_mb": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    else:
        fs = extract_faces_parallel(video, out, FaceModels(), workers=workers, ray=ray,
                                    report=report)
    wall = time.monotonic() - t0
    from retake.video.media import probe

    frames = probe(video).frames
    return {"frames": frames, "faces": len(fs.records), "seconds": round(wall, 2),
            "frames_per_s": round(frames / wall, 2), "pieces": report.get("pieces"),
            "reruns": report.get("reruns", 0), "peak_rss_mb_per_worker": report.get(
                "peak_rss_mb"), "lines": (out / "faces.jsonl").read_text()}


def ray_cluster(start: bool) -> None:
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    if not start:
        subprocess.run([RAY, "stop", "--force"], env=env, capture_output=True, timeout=120)
        return
    common = ["--num-cpus", "1", "--disable-usage-stats"]
    subprocess.run([RAY, "start", "--head", "--port", str(PORT), "--node-ip-address",
                    "127.0.0.1", "--include-dashboard=false", *common], env=env, check=True,
                   capture_output=True, timeout=180)
    subprocess.run([RAY, "start", "--address", f"127.0.0.1:{PORT}", "--node-ip-address",
                    "127.0.0.1", *common], env=env, check=True, capture_output=True,
                   timeout=180)


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop-minutes", type=float, default=0.0,
                        help="extract from the longest clip looped to this many minutes (a "
                             "long job amortises the workers' start-up as a real one does)")
    parser.add_argument("--jobs", type=int, default=20,
                        help="jobs in the mixed batch (a longer batch amortises Ray's start)")
    args = parser.parse_args()
    global JOBS
    JOBS = args.jobs
    os.environ["RAY_AUTH_MODE"] = "disabled"
    vids = sorted((MEDIA / "video").glob("*.mp4"), key=lambda p: -p.stat().st_size)
    from retake.video.media import probe

    video = max(vids, key=lambda p: probe(p).frames)
    if args.loop_minutes:
        sys.path.insert(0, str(ROOT / "bench"))
        from memory import long_video

        video = long_video(args.loop_minutes, video)
    load_before = os.getloadavg()
    results: dict = {"machine": {"cpus": os.cpu_count(), "load_avg_start": load_before,
                                 "note": "shared machine (4 sessions on 2 cores): "
                                         "figures are noisy"},
                     "video": video.name, "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_batch(folder)
        for label, workers, ray in (("1 worker", 1, None), ("2 local workers", 2, None)):
            print(label, flush=True)
            results["runs"][label] = {"batch": run_batch_once(folder, workers, ray),
                                      "faces": run_faces_once(video, folder, workers, ray)}
        print("ray cluster", flush=True)
        ray_cluster(False)
        try:
            ray_cluster(True)
            addr = f"127.0.0.1:{PORT}"
            import ray

            ray.init(address=addr, log_to_driver=False)
            results["ray_nodes"] = len([n for n in ray.nodes() if n["Alive"]])
            results["runs"]["ray 2 nodes"] = {"batch": run_batch_once(folder, 2, addr),
                                              "faces": run_faces_once(video, folder, 2, addr)}
            ray.shutdown()
        finally:
            ray_cluster(False)
    runs = results["runs"]
    same = len({r["faces"].pop("lines") for r in runs.values()}) == 1
    one, two = runs["1 worker"], runs["2 local workers"]
    ray_run = runs.get("ray 2 nodes")
    eff = {k: round(one[k]["seconds"] / (2 * two[k]["seconds"]), 3) for k in ("batch", "faces")}
    over = ({k: round(ray_run[k]["seconds"] / two[k]["seconds"] - 1, 3)
             for k in ("batch", "faces")} if ray_run else None)
    fps1 = one["faces"]["frames_per_s"]
    e = min(1.0, eff["faces"])
    proj = {f"{n} cores": round(DFL_FRAMES / (fps1 * (1 if n == 1 else n * e)) / 3600, 2)
            for n in (1, 8, 64)}
    results["summary"] = {
        "faceset_split_equals_single": same,
        "scaling_efficiency_1_to_2": eff, "goal_efficiency": 0.8,
        "ray_overhead_vs_local_pool": over, "goal_ray_overhead": 0.10,
        "dfl_123676_frames_projected_hours": proj,
        "projection_assumes": "this clip's per-core frame rate (512 px, HOG, CPU) and the "
                              "measured 1->2 efficiency held at 8 and 64 cores; DeepFaceLab "
                              "took 27 h on a laptop GPU",
        "load_avg_end": os.getloadavg()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "batch.json").write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results["summary"], indent=1))


if __name__ == "__main__":
    main()
