"""Batch and split benchmark: 1 worker vs 2 local workers vs a two-node Ray cluster.

Work: (a) a mixed batch of 28 real jobs through the `retake batch` machinery, on the shared
media (../shared/media): `align` of 8 LJSpeech clips and a 26 s MFA recording, one-word
`edit`s of 7 clips (LJSpeech, CMU Arctic, the other 26 s MFA recording; consent affirmed),
`detect` of 5 recordings (3 with their transcripts, 2 transcribed) and of one talking video,
`lipsync` of three photos to three clips, `swap` of a photo onto two short talking clips,
and one `faces extract`; every job has its own input,
and each configuration starts with its own empty analysis cache, so nothing is a cache hit;
the longest jobs go first (the runner submits in order); (b) one long `faces extract` (the
longest talking clip, looped with --loop-minutes) split into pieces. The Ray cluster is two
nodes on loopback, one CPU each (`ray start --head`, `ray start --address`), stopped at the
end. Reports throughput, per-job seconds, scaling efficiency 1->2 workers, Ray overhead
against the local pool, peak memory per worker, and the projected time of DeepFaceLab's
123,676-frame extraction on 1, 8 and 64 cores. Records the load average before and after
each run: on a shared machine the figures move. Writes bench/results/batch.json.
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
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MEDIA = ROOT.parent / "shared" / "media"
RESULTS = ROOT / "bench" / "results"
RAY = str(Path(sys.executable).with_name("ray"))
PORT = 6391
DFL_FRAMES = 123_676
JOBS = 28  # jobs in the mixed batch (--jobs; more cycles over the inputs again)
LJ = "speech/ljspeech/LJ001-{:04d}.wav"
ARCTIC = "speech/arctic/cmu_arctic_us_aew_a{:04d}.wav"
# one-word edits: (clip, the word, its replacement); every clip is at least 3 s long
MFA = "speech/mfa/{}_corpus.wav"  # 26 s of spontaneous speech each
EDITS = [(LJ.format(4), "true", "first"), (LJ.format(6), "fine", "good"),
         (LJ.format(11), "fine", "clear"), (LJ.format(16), "calligraphy", "writing"),
         (LJ.format(20), "early", "late"), (ARCTIC.format(3), "two", "three"),
         (MFA.format("acoustic"), "fast", "quick")]
ALIGNS = [LJ.format(n) for n in (1, 3, 5, 7, 9, 10, 12, 14)] + [MFA.format("cold")]
DETECTS = [(LJ.format(15), True), (LJ.format(17), True), (LJ.format(19), True),
           (ARCTIC.format(1), False), (ARCTIC.format(2), False),
           ("video/WDA_KatieHill_000.mp4", False)]
LIPSYNCS = [("faces/astronaut.png", LJ.format(8)), ("faces/obama.jpg", LJ.format(13)),
            ("faces/biden2.jpg", LJ.format(18))]
SWAPS = [("faces/biden2.jpg", "video/retalking_2.mp4"),
         ("faces/obama.jpg", "video/retalking_1.mp4")]
EXTRACTS = ["video/liveportrait_d10.mp4"]
# rough single-job seconds on this machine, for longest-first order (ties keep their order)
COST = {"swap": 30, "faces extract": 30, "lipsync": 25, "detect video": 24, "edit": 8,
        "detect": 4, "align": 1}


def job_with_memory(payload: dict) -> dict:
    """`run_job` plus the worker's id and its peak resident memory (MiB) so far."""
    from retake.ui.batch_jobs import run_job

    res = run_job(payload)
    res.setdefault("figures", {})["peak_rss_mb"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    res["figures"]["worker"] = f"{os.uname().nodename}:{os.getpid()}"
    return res


def transcripts() -> dict[str, str]:
    """{wav path relative to MEDIA: what it says} for LJSpeech and CMU Arctic."""
    said = {}
    for line in (MEDIA / "speech/ljspeech/transcripts.txt").read_text().splitlines():
        if "|" in line:
            name, text = line.split("|", 1)
            said[f"speech/ljspeech/{name}"] = text.strip()
    for line in (MEDIA / "speech/arctic/transcripts.txt").read_text().splitlines():
        if line.strip():
            name, text = line.split(maxsplit=1)
            said[f"speech/arctic/{name}.wav"] = text.strip()
    for lab in sorted((MEDIA / "speech/mfa").glob("*.lab")):
        said[f"speech/mfa/{lab.stem}.wav"] = " ".join(lab.read_text().split())
    return said


def mix_specs(n: int, folder: Path) -> list[dict]:
    """`n` job specs: the mix above in an interleaved order (so fewer than 28 keep a mix,
    more cycle over the inputs again: those repeats can hit the configuration's cache),
    then longest first. Writes the transcripts the jobs read into `folder`/text."""
    said = transcripts()
    text = folder / "text"
    text.mkdir(exist_ok=True)

    def tfile(wav: str) -> str:
        f = text / (Path(wav).stem + ".txt")
        f.write_text(said[wav] + "\n")
        return str(f.relative_to(folder))

    def m(rel: str) -> str:
        return str(MEDIA / rel)

    kinds: dict[str, list] = {"align": [], "edit": [], "detect": [], "lipsync": [],
                              "swap": [], "faces extract": []}
    for wav in ALIGNS:
        kinds["align"].append(("align", Path(wav).stem, {
            "command": "align", "args": [m(wav), tfile(wav)]}))
    for wav, old, new in EDITS:
        words = said[wav].split()
        i = next(k for k, w in enumerate(words) if w.strip(",.;") == old)
        words[i] = words[i].replace(old, new)
        kinds["edit"].append(("edit", Path(wav).stem, {
            "command": "edit", "args": [m(wav)], "transcript": tfile(wav),
            "to": " ".join(words), "consent": True, "suffix": ".wav"}))
    for rel, with_text in DETECTS:
        video = rel.endswith(".mp4")
        spec = {"command": "detect", "args": [m(rel)]}
        if with_text:
            spec["transcript"] = tfile(rel)
        kinds["detect"].append(("detect video" if video else "detect", Path(rel).stem, spec))
    for photo, wav in LIPSYNCS:
        kinds["lipsync"].append(("lipsync", f"{Path(photo).stem}-{Path(wav).stem}", {
            "command": "lipsync", "args": [m(photo), m(wav)], "transcript": tfile(wav),
            "consent": True, "suffix": ".mp4"}))
    for photo, video in SWAPS:
        kinds["swap"].append(("swap", f"{Path(photo).stem}-{Path(video).stem}", {
            "command": "swap", "source": m(photo), "target": m(video), "consent": True,
            "suffix": ".mp4"}))
    for video in EXTRACTS:
        kinds["faces extract"].append(("faces extract", Path(video).stem, {
            "command": "faces extract", "args": [m(video)]}))
    # interleave: take from each kind in turn, in proportion to its size
    order, used = [], Counter()
    total = sum(len(v) for v in kinds.values())
    while len(order) < total:
        for k, v in kinds.items():
            share = len(v) / total
            if used[k] < len(v) and used[k] <= share * (len(order) + 1):
                order.append(v[used[k]])
                used[k] += 1
    specs = []
    for n_ in range(n):
        kind, stem, spec = order[n_ % total]
        name = f"{n_ + 1:02d}-{kind.split()[0]}-{stem}"
        spec = dict(spec)
        spec["output"] = f"out/{name}{spec.pop('suffix', '')}"
        specs.append({"name": name, "kind": kind, **spec})
    return sorted(specs, key=lambda s: -COST[s["kind"]])  # stable: ties keep their order


def make_batch(folder: Path) -> list[dict]:
    """The specs of the mixed batch (`JOBS` jobs), each checked against its command."""
    from retake.ui.batch_jobs import build_job

    specs = mix_specs(JOBS, folder)
    (folder / "out").mkdir(exist_ok=True)  # jobs are refused when their folder is missing
    jobs = [build_job(n + 1, n + 1, _spec(s), folder) for n, s in enumerate(specs)]
    bad = [f"{j.name}: {e}" for j in jobs for e in j.errors]
    if bad:
        raise SystemExit(f"bad bench jobs: {bad}")
    return specs


def _spec(s: dict) -> dict:
    return {k: v for k, v in s.items() if k != "kind"}


def _tasks(folder: Path, specs: list[dict]) -> list:
    from retake.ui.batch_jobs import build_job, task

    jobs = [build_job(n + 1, n + 1, _spec(s), folder) for n, s in enumerate(specs)]
    return [task(j, folder, folder / "logs") for j in jobs]


def run_batch_once(folder: Path, specs: list[dict], label: str, workers: int,
                   ray: str | None) -> dict:
    """The mixed batch on a fresh output folder, state file and analysis cache."""
    from retake.core.batch import Limits, State, run_batch

    slug = label.replace(" ", "-")
    out = folder / "out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()  # `align -o out/x` wants the folder to exist
    cache = folder / f"cache-{slug}"
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir()
    tasks = _tasks(folder, specs)
    state = State(folder / f"state-{slug}.json")
    load_before = os.getloadavg()
    t0 = time.monotonic()
    outcomes = run_batch(tasks, job_with_memory, state, workers=workers, ray=ray,
                         limits=Limits(threads=1, cache=str(cache)))
    wall = time.monotonic() - t0
    done = sum(o.status == "done" for o in outcomes)
    kinds = {s["name"]: s["kind"] for s in specs}
    per_worker: dict[str, float] = {}
    for o in outcomes:
        w = o.figures.get("worker")
        if w:
            per_worker[w] = max(per_worker.get(w, 0.0), o.figures.get("peak_rss_mb", 0.0))
    by_kind: dict[str, float] = {}
    for o in outcomes:
        by_kind[kinds[o.name]] = round(by_kind.get(kinds[o.name], 0.0) + o.seconds, 2)
    return {"jobs": len(tasks), "done": done, "seconds": round(wall, 2),
            "jobs_per_min": round(60 * done / wall, 2),
            "job_seconds_sum": round(sum(o.seconds for o in outcomes), 2),
            "job_seconds_by_kind": by_kind,
            "peak_rss_mb_per_worker": max(per_worker.values(), default=None),
            "peak_rss_mb_by_worker": dict(sorted(per_worker.items())),
            "workers_used": len(per_worker),
            "load_avg_before": [round(x, 2) for x in load_before],
            "load_avg_after": [round(x, 2) for x in os.getloadavg()],
            "per_job": [{"job": o.name, "kind": kinds[o.name], "status": o.status,
                         "seconds": round(o.seconds, 2),
                         "peak_rss_mb": o.figures.get("peak_rss_mb"),
                         "worker": o.figures.get("worker")} for o in outcomes],
            "failed": [f"{o.name}: {o.error}" for o in outcomes if o.status != "done"][:5]}


def run_faces_once(video: Path, folder: Path, workers: int, ray: str | None) -> dict:
    from retake.video.faces import FaceModels
    from retake.video.faceset import extract
    from retake.video.faceset_parallel import extract_faces_parallel

    out = folder / f"fs-{workers}-{ray is not None}"
    shutil.rmtree(out, ignore_errors=True)
    report: dict = {}
    load_before = os.getloadavg()
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
                "peak_rss_mb"),
            "load_avg_before": [round(x, 2) for x in load_before],
            "load_avg_after": [round(x, 2) for x in os.getloadavg()],
            "lines": (out / "faces.jsonl").read_text()}


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

    global JOBS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop-minutes", type=float, default=0.0,
                        help="extract from the longest clip looped to this many minutes (a "
                             "long job amortises the workers' start-up as a real one does)")
    parser.add_argument("--jobs", type=int, default=JOBS,
                        help=f"jobs in the mixed batch (default {JOBS}: every input once; "
                             "more cycle over the inputs again)")
    args = parser.parse_args()
    JOBS = args.jobs
    if not (MEDIA / "speech" / "ljspeech" / "transcripts.txt").is_file():
        print(f"skipped: the shared media are not at {MEDIA}")
        return
    if JOBS < 20:
        print(f"note: {JOBS} jobs; the benchmark's batch is meant to be 20 or more")
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
                                 "note": "shared machine (other sessions on 2 cores): "
                                         "figures are noisy"},
                     "video": video.name, "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        specs = make_batch(folder)
        results["batch"] = {
            "jobs": len(specs), "mix": dict(Counter(s["kind"] for s in specs)),
            "order": [s["name"] for s in specs],
            "order_note": "longest first by a rough per-kind cost; the runner "
                          "(retake.core.batch) submits in the order given, in the local "
                          "pool and on Ray alike, one job per free worker",
            "cache": "each configuration starts with its own empty analysis cache "
                     "(Limits.cache); within a batch every job has its own input"}
        configs = [("1 worker", 1, None), ("2 local workers", 2, None)]
        for label, workers, ray in configs:
            print(label, flush=True)
            results["runs"][label] = {
                "batch": run_batch_once(folder, specs, label, workers, ray),
                "faces": run_faces_once(video, folder, workers, ray)}
            print(f"  batch {results['runs'][label]['batch']['seconds']} s, faces "
                  f"{results['runs'][label]['faces']['seconds']} s", flush=True)
        print("ray cluster", flush=True)
        ray_cluster(False)
        try:
            ray_cluster(True)
            addr = f"127.0.0.1:{PORT}"
            import ray

            ray.init(address=addr, log_to_driver=False)
            results["ray_nodes"] = len([n for n in ray.nodes() if n["Alive"]])
            results["runs"]["ray 2 nodes"] = {
                "batch": run_batch_once(folder, specs, "ray 2 nodes", 2, addr),
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
    slowest = sorted(one["batch"]["per_job"], key=lambda j: -j["seconds"])[:5]
    results["summary"] = {
        "batch_seconds": {k: r["batch"]["seconds"] for k, r in runs.items()},
        "faces_seconds": {k: r["faces"]["seconds"] for k, r in runs.items()},
        "batch_all_done": all(r["batch"]["done"] == r["batch"]["jobs"] for r in runs.values()),
        "faceset_split_equals_single": same,
        "scaling_efficiency_1_to_2": eff, "goal_efficiency": 0.8,
        "ray_overhead_vs_local_pool": over, "goal_ray_overhead": 0.10,
        "peak_rss_mb_per_worker": {k: {"batch": r["batch"]["peak_rss_mb_per_worker"],
                                       "faces": r["faces"]["peak_rss_mb_per_worker"]}
                                   for k, r in runs.items()},
        "peak_rss_note": "ru_maxrss of each worker process (the largest over its jobs); Ray "
                         "reuses its worker processes, so Ray's faces figure can include "
                         "the batch's jobs run before in the same process",
        "slowest_jobs_1_worker": {j["job"]: j["seconds"] for j in slowest},
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
