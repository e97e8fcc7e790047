"""`retake batch`: many jobs of the existing commands, on local worker processes or Ray."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from retake.core.errors import RetakeError
from retake.ui.console import err

HELP = "\n\n".join([
    "Run a list of jobs (JOBS.yaml or JOBS.csv), each one of: align, edit, dub, swap, "
    "lipsync, detect, faces extract, with its usual options.",
    "Every job is checked first (unknown command, bad option, missing input: each reported "
    "with its number and line; nothing runs). Jobs are independent: a failure is reported "
    "with its error line and the others go on. A rerun skips jobs whose recorded outputs "
    "still exist with the same SHA-256, so an interrupted batch resumes. Results: OUT.json "
    "and OUT.csv (job, command, status, outputs, seconds, error, figures), OUT.state.json "
    "(finished outputs and their hashes), each job's messages in OUT.logs/JOB.log.",
    "Sizing --workers: each worker is one process running one job with CPUS/WORKERS "
    "threads. Voice jobs (align, edit, detect) need about 1-2 GB each and use one core "
    "well: workers = cores, memory allowing. Video jobs (swap, lipsync, dub, faces extract) "
    "need 2-4 GB each and gain from a few threads: workers = cores / 2 or memory / 4 GB, "
    "whichever is smaller; with a GPU, 1-2 workers per GPU. --memory caps each job's "
    "address space (Linux), so a runaway job fails alone instead of the machine swapping.",
    "Example job file (paths relative to it; options as keys, flags true/false):\n"
    "  jobs:\n"
    "    - command: align\n"
    "      args: intro.wav intro.txt\n"
    "      output: out/intro\n"
    "    - command: faces extract\n"
    "      args: clip.mp4\n"
    "      output: faces/clip",
])


def batch(
    jobs: Annotated[Path, typer.Argument(help="Job file: .yaml/.yml or .csv.")],
    workers: Annotated[int, typer.Option(min=0, max=512, help="Local worker processes "
                                         "(default: half the CPUs, at least 1); with "
                                         "--ray, the most tasks in flight.")] = 0,
    ray: Annotated[str | None, typer.Option("--ray", help="Run the jobs as Ray tasks: "
                                            "`auto` (the cluster `ray start` made on this "
                                            "machine), `local` (start one here), or a "
                                            "cluster ADDRESS.")] = None,
    cache: Annotated[Path | None, typer.Option(help="Analysis cache folder every worker "
                                               "shares (default: the usual one).")] = None,
    results: Annotated[Path | None, typer.Option("--results", help="Base name of the "
                                                 "results: writes OUT.json, OUT.csv, "
                                                 "OUT.state.json (default: beside JOBS, "
                                                 "JOBS-results).")] = None,
    threads: Annotated[int, typer.Option(min=0, help="Threads per job (default: CPUs / "
                                         "workers; 1 with --ray).")] = 0,
    memory: Annotated[str | None, typer.Option(help="Memory cap per job, e.g. 4G "
                                               "(Linux; RLIMIT_AS).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Run every job again, even "
                                        "those done and intact.")] = False,
) -> None:
    """Run many jobs at once: a local worker pool, or Ray with --ray."""
    from retake.core.batch import Limits, State, parse_size, result_rows, write_results
    from retake.ui.batch_jobs import JobFileError, read_jobs, run_job, task

    if not jobs.is_file():
        raise RetakeError(f"{jobs}: no such job file")
    try:
        mem = parse_size(memory)
    except ValueError as exc:
        raise RetakeError(f"--memory {exc}") from None
    try:
        parsed = read_jobs(jobs)
    except JobFileError as exc:
        raise RetakeError(f"{jobs}: {exc}") from None
    bad = [j for j in parsed if j.errors]
    if bad:
        for j in bad:
            for e in j.errors:
                err.print(f"[bold red]error[/]: {jobs}: {escape(j.where())}: {escape(e)}",
                          highlight=False, soft_wrap=True)
        err.print(f"{len(bad)} of {len(parsed)} job(s) are wrong; nothing was run")
        raise typer.Exit(1)

    cpus = os.cpu_count() or 1
    n = workers or max(1, cpus // 2)
    per_job = threads or (1 if ray else max(1, cpus // n))
    base = jobs.resolve().parent
    out = results or jobs.with_name(jobs.stem + "-results")
    out = Path(str(out).removesuffix(".json").removesuffix(".csv"))
    if not out.parent.is_dir():
        raise RetakeError(f"--results {out}: the folder {out.parent} does not exist")
    state = State(Path(f"{out}.state.json"))
    if force:
        state.jobs = {}
    logs = Path(f"{out}.logs").resolve()
    tasks = [task(j, base, logs) for j in parsed]
    commands = {j.name: j.command for j in parsed}
    limits = Limits(threads=per_job, memory=mem,
                    cache=str(cache.resolve()) if cache else None)

    outcomes = _run_with_progress(tasks, run_job, state, n, ray, limits, workers)
    rows = result_rows(outcomes, commands)
    write_results(rows, Path(f"{out}.json"), Path(f"{out}.csv"))
    for r in rows:
        if r["status"] == "failed":
            err.print(f"[bold red]failed[/] {escape(r['job'])} ({r['command']}): "
                      f"{escape(r['error'])}", highlight=False, soft_wrap=True)
    count = {s: sum(r["status"] == s for r in rows) for s in ("done", "skipped", "failed")}
    err.print(f"{count['done']} done, {count['skipped']} skipped (already done), "
              f"{count['failed']} failed; wrote {out}.json and {out}.csv", soft_wrap=True)
    if count["failed"]:
        raise typer.Exit(1)


def _run_with_progress(tasks, fn, state, n, ray, limits, workers):
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from retake.core.batch import run_batch

    tally = {"done": 0, "failed": 0, "skipped": 0, "running": 0}

    def label() -> str:
        return (f"[green]{tally['done']} done[/] [red]{tally['failed']} failed[/] "
                f"{tally['skipped']} skipped [cyan]{tally['running']} running[/]")

    with Progress(TextColumn("batch"), BarColumn(), TextColumn("{task.completed}/"
                  "{task.total}"), TextColumn("{task.description}"), TimeElapsedColumn(),
                  TextColumn("ETA"), TimeRemainingColumn(), console=err,
                  disable=not err.is_terminal) as progress:
        bar = progress.add_task(label(), total=len(tasks))

        def event(kind, outcome, running):
            tally["running"] = running
            if kind in tally and kind != "running":
                tally[kind] += 1
                progress.advance(bar)
                if not err.is_terminal and outcome is not None:
                    err.print(f"{kind} {outcome.name} ({outcome.seconds:.1f} s)",
                              highlight=False, markup=False)
            progress.update(bar, description=label())

        return run_batch(tasks, fn, state, workers=(workers if ray else n), ray=ray,
                         limits=limits, event=event)


def register(app: typer.Typer) -> None:
    """Add `retake batch` to the main app."""
    app.command("batch", help=HELP)(batch)
