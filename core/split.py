"""Run the pieces of one long job as parallel tasks: a local process pool or Ray.

A thin layer over `retake.core.batch`'s pool and Ray runners (same thread limits, same
failure handling), for callers that cut one input into pieces and merge the results
themselves (`retake.video.faceset_parallel`, `retake.align.parallel`). The order of the
results is the order of the payloads, whatever order the tasks finish in.
"""

from __future__ import annotations

from collections.abc import Callable

from retake.core.batch import Limits, Task, _pool, _ray, run_limited
from retake.core.errors import RetakeError


def _quiet(kind: str, outcome: object, running: int) -> None:
    return None


def run_pieces(fn: Callable[[dict], dict], payloads: list[dict], workers: int = 2,
               ray: str | None = None, threads: int = 1) -> list[dict]:
    """`fn(payload)` for every payload, in parallel; results in payload order.

    `workers` <= 1 without Ray runs in this process (no pool start-up). `ray`: a Ray
    address ('auto', 'host:port') or 'local' for an in-process Ray. A failed piece raises
    `RetakeError` with its error line (one bad piece makes the merged result wrong).
    """
    limits = Limits(threads=threads)
    tasks = [Task(f"piece{i}", "", p) for i, p in enumerate(payloads)]
    if ray is None and workers <= 1:
        results = [run_limited(fn, p, limits) for p in payloads]
    else:
        runs = (_ray(tasks, fn, ray, workers if workers > 0 else None, limits, _quiet)
                if ray is not None else _pool(tasks, fn, workers, limits, _quiet))
        by_name = {t.name: res for t, res, _ in runs}
        results = [by_name[t.name] for t in tasks]
    for i, res in enumerate(results):
        if res.get("status") == "failed":
            raise RetakeError(f"piece {i + 1} of {len(results)} failed: {res.get('error')}")
    return results
