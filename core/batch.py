"""Batches of independent jobs: run them on a bounded pool of local worker processes or as
Ray tasks, limit each job's threads and memory, remember finished outputs by content hash
so a rerun skips what is done and intact, and write the results table.

Nothing here knows what a job does: a job is a name and a picklable payload, run by a
module-level function `fn(payload) -> dict` in a worker (see `retake.ui.batch_jobs`).
Ray is the engine for clusters; this module only submits tasks and waits for them.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from retake.core.atomic import write_text

STATE_VERSION = 1
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
               "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


@dataclass
class Task:
    """One job: its name, the signature that identifies its definition (a changed job
    is never skipped), and the payload its worker function receives."""

    name: str
    signature: str
    payload: dict


@dataclass
class Limits:
    """Per-job resources: threads for BLAS/OpenMP/torch, an address-space cap in bytes
    (Linux), and the shared analysis cache folder."""

    threads: int = 1
    memory: int | None = None
    cache: str | None = None


@dataclass
class Outcome:
    """What became of one job."""

    name: str
    status: str  # done | failed | skipped
    outputs: dict[str, str] = field(default_factory=dict)  # path -> sha256
    seconds: float = 0.0
    error: str = ""
    figures: dict = field(default_factory=dict)


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def hash_outputs(paths: Iterable[str | os.PathLike]) -> dict[str, str]:
    """{absolute path: sha256} of the files that exist among `paths`."""
    found = {}
    for p in paths:
        p = Path(p)
        if p.is_file():
            found[str(p.resolve())] = sha256_file(p)
    return found


def parse_size(text: str | None) -> int | None:
    """'4G', '512M', '1.5G', bytes -> bytes; None or '' -> None."""
    if not text:
        return None
    units = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
    raw = str(text).strip().upper().removesuffix("B").removesuffix("I")
    num, unit = (raw[:-1], raw[-1]) if raw and raw[-1] in units else (raw, "")
    try:
        value = int(float(num) * units[unit])
    except ValueError:
        raise ValueError(f"{text!r}: give a size such as 4G or 512M") from None
    if value <= 0:
        raise ValueError(f"{text!r}: give a size above zero")
    return value


# ---- state: what finished, with which outputs -------------------------------------------

class State:
    """The batch's memory of finished jobs, a JSON file written atomically (temp + rename)
    after every job, so an interrupted batch resumes."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.jobs: dict[str, dict] = {}
        with contextlib.suppress(OSError, ValueError, AttributeError):
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("version") == STATE_VERSION and isinstance(data.get("jobs"), dict):
                self.jobs = data["jobs"]

    def intact(self, task: Task) -> dict | None:
        """The recorded entry when `task` finished before with the same definition and
        every output it recorded still exists with the same hash; else None."""
        entry = self.jobs.get(task.name)
        if not entry or entry.get("signature") != task.signature or not entry.get("outputs"):
            return None
        for path, digest in entry["outputs"].items():
            try:
                if sha256_file(path) != digest:
                    return None
            except OSError:
                return None
        return entry

    def record(self, task: Task, outcome: Outcome) -> None:
        if outcome.status == "done":
            self.jobs[task.name] = {"signature": task.signature, "outputs": outcome.outputs,
                                    "figures": outcome.figures, "seconds": outcome.seconds,
                                    "finished": time.time()}
        else:
            self.jobs.pop(task.name, None)
        self.save()

    def save(self) -> None:
        write_text(self.path, json.dumps({"version": STATE_VERSION, "jobs": self.jobs},
                                         indent=1, sort_keys=True) + "\n")


# ---- in the worker -----------------------------------------------------------------------

def _init_worker(threads: int) -> None:
    """Pool initializer: thread counts in the environment before any numeric library loads."""
    for var in THREAD_VARS:
        os.environ[var] = str(threads)


@contextlib.contextmanager
def _limited(limits: Limits):
    """Apply the job's limits for its duration: threads (environment, BLAS/OpenMP pools,
    torch when loaded), a soft RLIMIT_AS (Linux; restored after) and the cache folder."""
    saved_env = {k: os.environ.get(k) for k in (*THREAD_VARS, "RETAKE_CACHE")}
    for var in THREAD_VARS:
        os.environ[var] = str(limits.threads)
    if limits.cache:
        os.environ["RETAKE_CACHE"] = str(Path(limits.cache).resolve())
    if "torch" in sys.modules:
        with contextlib.suppress(Exception):
            sys.modules["torch"].set_num_threads(limits.threads)
    old_rlimit = None
    if limits.memory and sys.platform.startswith("linux"):
        import resource

        old_rlimit = resource.getrlimit(resource.RLIMIT_AS)
        hard = old_rlimit[1]
        soft = limits.memory if hard == resource.RLIM_INFINITY else min(limits.memory, hard)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    pools = contextlib.nullcontext()
    with contextlib.suppress(ImportError):
        from threadpoolctl import threadpool_limits

        pools = threadpool_limits(limits.threads)
    try:
        with pools:
            yield
    finally:
        if old_rlimit is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, old_rlimit)
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_limited(fn: Callable[[dict], dict], payload: dict, limits: Limits) -> dict:
    """Run one job in this (worker) process under its limits; never raises: a failure is
    a result with its one error line."""
    start = time.monotonic()
    try:
        with _limited(limits):
            result = fn(payload)
    except MemoryError:
        result = {"status": "failed", "error": "out of memory (over the per-job --memory "
                  "limit?)"}
    except Exception as exc:  # noqa: BLE001 - one job's failure never stops the batch
        result = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    error = str(result.get("error", ""))
    if limits.memory and result.get("status") == "failed" and any(
            s in error.lower() for s in ("memory", "map segment", "allocate")):
        result["error"] = f"{error} (the per-job memory limit is {limits.memory >> 20} MiB)"
    result.setdefault("seconds", round(time.monotonic() - start, 3))
    return result


# ---- running the batch -------------------------------------------------------------------

def _outcome(task: Task, result: dict) -> Outcome:
    return Outcome(task.name, result.get("status", "failed"), result.get("outputs") or {},
                   float(result.get("seconds", 0.0)), str(result.get("error", "")),
                   result.get("figures") or {})


Event = Callable[[str, Outcome | None, int], None]  # (kind, outcome, running) -> None


def _pool(tasks: list[Task], fn, workers: int, limits: Limits, event: Event):
    """Run `tasks` on a bounded pool of spawned worker processes, yielding each as it ends.

    When a worker dies (killed, out of memory, a native abort), the process pool fails
    every job running at that moment, the innocent with the guilty: those jobs run again,
    one at a time with nothing beside them, and only a job whose worker dies alone is
    reported as failed."""
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool
    from multiprocessing import get_context

    def new_pool() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                                   initializer=_init_worker, initargs=(limits.threads,))

    pending = list(tasks)
    suspects: list[Task] = []  # caught in a dying pool: each runs again, alone
    running: dict = {}  # future -> (task, ran alone)
    ex = new_pool()
    try:
        while pending or running or suspects:
            while True:  # bounded: one job per worker; a suspect only with none beside it
                if suspects:
                    if running:
                        break
                    task, alone = suspects[0], True
                elif pending and len(running) < workers:
                    task, alone = pending[0], False
                else:
                    break
                try:
                    fut = ex.submit(run_limited, fn, task.payload, limits)
                except BrokenProcessPool:  # a worker was killed: a fresh pool for the rest
                    ex.shutdown(wait=False, cancel_futures=True)
                    ex = new_pool()
                    continue
                (suspects if alone else pending).pop(0)
                running[fut] = (task, alone)
                if alone:
                    break
            event("running", None, len(running))
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in done:
                t, alone = running.pop(fut)
                try:
                    res = fut.result()
                except Exception as exc:  # noqa: BLE001 - its worker died (killed, OOM)
                    if isinstance(exc, BrokenProcessPool) and not alone:
                        suspects.append(t)  # perhaps a neighbour's death: once more alone
                        continue
                    hint = (f" (over the per-job memory limit of {limits.memory >> 20} MiB?)"
                            if limits.memory else "")
                    res = {"status": "failed",
                           "error": f"worker died: {type(exc).__name__}: {exc}{hint}"}
                yield t, res, len(running) + min(len(pending), workers - len(running))
    finally:
        ex.shutdown(wait=not running, cancel_futures=True)


def _ray(tasks: list[Task], fn, address: str, workers: int | None, limits: Limits,
         event: Event):
    try:
        import ray
    except ImportError:
        raise RuntimeError("--ray needs Ray: pip install 'ray==2.60.*'") from None
    if not ray.is_initialized():
        if address in ("local", ""):
            ray.init(include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    env = {var: str(limits.threads) for var in THREAD_VARS}
    opts = {"num_cpus": limits.threads, "max_retries": 0,
            "runtime_env": {"env_vars": env}}
    if limits.memory:
        opts["memory"] = limits.memory  # Ray schedules by it; RLIMIT_AS enforces it
    remote = ray.remote(run_limited).options(**opts)
    pending = list(tasks)
    cap = workers or len(tasks)
    running: dict = {}
    while pending or running:
        while pending and len(running) < cap:
            t = pending.pop(0)
            running[remote.remote(fn, t.payload, limits)] = t
        event("running", None, len(running))
        ready, _ = ray.wait(list(running), num_returns=1)
        for ref in ready:
            t = running.pop(ref)
            try:
                res = ray.get(ref)
            except Exception as exc:  # noqa: BLE001 - a task or its node died
                res = {"status": "failed", "error": f"ray task failed: "
                       f"{str(exc).strip().splitlines()[-1] if str(exc).strip() else exc}"}
            yield t, res, len(running) + len(pending)


def run_batch(tasks: list[Task], fn: Callable[[dict], dict], state: State, *,
              workers: int = 1, ray: str | None = None, limits: Limits | None = None,
              event: Event | None = None) -> list[Outcome]:
    """Run every task not already done and intact; record each as it finishes. Returns the
    outcomes in the order of `tasks`."""
    limits = limits or Limits()
    event = event or (lambda kind, outcome, running: None)
    outcomes: dict[str, Outcome] = {}
    todo = []
    for t in tasks:
        entry = state.intact(t)
        if entry is not None:
            outcomes[t.name] = Outcome(t.name, "skipped", entry["outputs"], 0.0, "",
                                       entry.get("figures") or {})
            event("skipped", outcomes[t.name], 0)
        else:
            todo.append(t)
    if todo:
        runs = (_ray(todo, fn, ray, workers if workers > 0 else None, limits, event)
                if ray is not None else _pool(todo, fn, max(1, workers), limits, event))
        for t, res, running in runs:
            o = _outcome(t, res)
            outcomes[t.name] = o
            state.record(t, o)
            event(o.status, o, running)
    return [outcomes[t.name] for t in tasks]


# ---- the results table ---------------------------------------------------------------------

COLUMNS = ("job", "command", "status", "outputs", "seconds", "error", "figures")


def result_rows(outcomes: list[Outcome], commands: dict[str, str]) -> list[dict]:
    return [{"job": o.name, "command": commands.get(o.name, ""), "status": o.status,
             "outputs": sorted(o.outputs), "seconds": round(o.seconds, 2), "error": o.error,
             "figures": o.figures} for o in outcomes]


def write_results(rows: list[dict], json_path: Path, csv_path: Path) -> None:
    """The results as JSON (a list of rows) and CSV (outputs joined by ';', figures as
    k=v pairs), each written atomically."""
    write_text(json_path, json.dumps(rows, indent=1, default=str) + "\n")
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({**r, "outputs": ";".join(r["outputs"]),
                    "figures": "; ".join(f"{k}={v}" for k, v in r["figures"].items())})
    write_text(csv_path, buf.getvalue())
