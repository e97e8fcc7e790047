"""Job files for `retake batch`: read YAML or CSV, check every job against the real
commands before anything runs, and run one job in a worker through the command itself.

A YAML job file is a list of jobs (or a mapping with `jobs:`); each job names a command and
gives its positional `args` (a list, or one string split like a shell line) and its options,
either under `options:` or as keys of the job itself:

    jobs:
      - name: intro              # optional; default jobN
        command: align
        args: [intro.wav, intro.txt]
        output: out/intro        # = --output out/intro
      - command: faces extract
        args: [clip.mp4]
        options: {output: faces/clip, detector: hog}

A CSV job file has the columns `command` and `args` (a shell-style line), optionally
`name`, and any other column is an option (an empty cell: not given). Relative paths are
relative to the job file's folder. Flags take true/false.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shlex
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path

from retake.core.batch import Task

COMMANDS = {"align": ("align",), "edit": ("edit",), "dub": ("dub",), "swap": ("swap",),
            "lipsync": ("lipsync",), "detect": ("detect",),
            "faces extract": ("faces", "extract")}
RESERVED = {"name", "command", "args", "options"}


@dataclass
class Job:
    number: int
    line: int
    name: str
    command: str
    argv: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    output: str | None = None  # the main output, to catch two jobs writing one file

    def where(self) -> str:
        return f"job {self.number} ({self.name}, line {self.line})"


class JobFileError(Exception):
    """The job file as a whole cannot be read."""


def _command(command: str):
    """The click command behind `retake COMMAND` (the very one the CLI runs)."""
    import typer.main

    from retake.ui.cli import app

    cmd = typer.main.get_command(app)
    for part in COMMANDS[command]:
        cmd = cmd.commands[part]
    return cmd


def _is_path(annotation) -> bool:
    if annotation is Path:
        return True
    return any(_is_path(a) for a in typing.get_args(annotation))


def _flag(value) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return {"true": True, "yes": True, "1": True, "false": False, "no": False,
            "0": False}.get(text)


def _option_argv(cmd, key: str, value, errors: list[str]) -> list[str]:
    params = {}
    for p in cmd.params:
        if p.param_type_name == "option":
            params[p.name] = p
            for o in p.opts + p.secondary_opts:
                params[o.lstrip("-")] = p
    p = params.get(str(key).replace("_", "-")) or params.get(str(key))
    if p is None:
        known = sorted({o for q in cmd.params if q.param_type_name == "option"
                        for o in q.opts if o.startswith("--")})
        errors.append(f"unknown option {key!r} (options: {', '.join(known)})")
        return []
    if value is None or value == "":
        return []
    if getattr(p, "is_flag", False):
        on = _flag(value)
        if on is None:
            errors.append(f"--{key}: give true or false, not {value!r}")
            return []
        if on:
            return [p.opts[0]]
        return [p.secondary_opts[0]] if p.secondary_opts else []
    values = value if isinstance(value, list) else [value]
    return [x for v in values for x in (p.opts[0], str(v))]


def _args(raw, errors: list[str]) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, list):
        return [str(a) for a in raw]
    try:
        return shlex.split(str(raw))
    except ValueError as exc:
        errors.append(f"args: {exc}")
        return []


def build_job(number: int, line: int, spec: dict, base: Path) -> Job:
    """One job from its mapping, checked: known command, options the command has, values
    it accepts, every input file present (relative to `base`)."""
    if not isinstance(spec, dict):
        return Job(number, line, f"job{number}", "?", errors=[
            "a job is a mapping with `command:` (and args, options)"])
    name = str(spec.get("name") or f"job{number}")
    command = " ".join(str(spec.get("command") or "").split())
    job = Job(number, line, name, command)
    if command not in COMMANDS:
        job.errors.append(f"unknown command {command!r} (one of: {', '.join(COMMANDS)})"
                          if command else "no command")
        return job
    cmd = _command(command)
    options = dict(spec.get("options") or {}) if isinstance(spec.get("options"), dict) else {}
    if spec.get("options") is not None and not isinstance(spec.get("options"), dict):
        job.errors.append("options: give a mapping of option: value")
    options.update({k: v for k, v in spec.items() if k not in RESERVED})
    argv = [x for k, v in options.items() for x in _option_argv(cmd, k, v, job.errors)]
    argv += _args(spec.get("args"), job.errors)
    job.argv = argv
    if job.errors:
        return job
    try:
        ctx = cmd.make_context(command, list(argv), resilient_parsing=False)
    except Exception as exc:  # noqa: BLE001 - click's usage errors, one line each
        fmt = getattr(exc, "format_message", None)
        job.errors.append(fmt() if fmt else str(exc))
        return job
    for p in cmd.params:
        value = ctx.params.get(p.name)
        if p.name == "output" or value is None or not _is_path(p.type_descriptor.annotation):
            continue
        label = p.opts[0] if p.param_type_name == "option" else p.name.upper()
        for v in value if isinstance(value, list | tuple) else [value]:
            if not (base / v).exists():
                job.errors.append(f"{label} {v}: no such file")
    out = ctx.params.get("output")
    if out is None and command == "detect":
        f = Path(ctx.params["file"])
        out = f.with_name(f.stem + "-detect")
    job.output = str((base / out).resolve()) if out is not None else None
    if job.output is not None:
        folder = Path(job.output).parent
        if not folder.is_dir():
            job.errors.append(f"output {out}: the folder {folder} does not exist (create it "
                              "first)")
        elif not os.access(folder, os.W_OK):
            job.errors.append(f"output {out}: the folder {folder} is not writable")
    return job


def _yaml_specs(text: str) -> list[tuple[int, object]]:
    import yaml

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise JobFileError(f"{where}not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if k.value == "jobs":
                node = v
        data = data.get("jobs") if isinstance(data, dict) else None
    if not isinstance(node, yaml.SequenceNode) or not isinstance(data, list):
        raise JobFileError("give a list of jobs (or `jobs:` with a list)")
    return [(n.start_mark.line + 1, d) for n, d in zip(node.value, data, strict=True)]


def _csv_specs(text: str) -> list[tuple[int, object]]:
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames or "command" not in reader.fieldnames:
        raise JobFileError("a CSV job file needs a header with `command` (and `args`, "
                           "`name`, one column per option)")
    specs = []
    for row in reader:
        if not any((v or "").strip() for v in row.values()):
            continue
        specs.append((reader.line_num, {k.strip(): v.strip() for k, v in row.items()
                                        if k and isinstance(v, str) and v.strip()}))
    return specs


def read_jobs(path: Path) -> list[Job]:
    """Every job of the file, each checked (its `errors` empty when it may run); also two
    jobs with one name or one output are errors."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise JobFileError(f"cannot read: {exc}") from None
    specs = _csv_specs(text) if Path(path).suffix.lower() == ".csv" else _yaml_specs(text)
    if not specs:
        raise JobFileError("no jobs")
    base = Path(path).resolve().parent
    jobs = [build_job(i, line, spec, base) for i, (line, spec) in enumerate(specs, 1)]
    names: dict[str, Job] = {}
    outputs: dict[str, Job] = {}
    for j in jobs:
        if j.name in names:
            j.errors.append(f"the name {j.name!r} is also {names[j.name].where()}")
        names.setdefault(j.name, j)
        if j.output and j.output in outputs:
            j.errors.append(f"writes {j.output} as {outputs[j.output].where()} does")
        if j.output:
            outputs.setdefault(j.output, j)
    return jobs


def task(job: Job, base: Path, logs: Path) -> Task:
    signature = json.dumps([job.command, job.argv, str(base)])
    return Task(job.name, signature, {"command": job.command, "argv": job.argv,
                                      "base": str(base),
                                      "log": str(logs / f"{job.name}.log")})


# ---- in the worker --------------------------------------------------------------------------

@contextlib.contextmanager
def _redirected(log: str):
    """stdout and stderr (file descriptors, so FFmpeg's too) into the job's log."""
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log, "w", encoding="utf-8") as fh:
        os.dup2(fh.fileno(), 1)
        os.dup2(fh.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def _last_line(log: str) -> str:
    with contextlib.suppress(OSError):
        lines = [s.strip() for s in Path(log).read_text(errors="replace").splitlines()]
        lines = [s for s in lines if s]
        if lines:
            return lines[-1]
    return ""


def output_files(command: str, params: dict) -> list[Path]:
    """Every file the command writes for these parameters (as the command names them)."""
    out = params.get("output")
    if command == "align":
        from retake.align.formats import output_paths

        return list(output_paths(out, Path(params["audio"]).stem).values())
    if command == "edit":
        from retake.voice.io import output_paths

        return list(output_paths(out).values())
    if command == "dub":
        from retake.video.dub import output_paths

        return list(output_paths(out))
    if command == "detect":
        from retake.awareness.detect import report_paths

        f = Path(params["file"])
        return list(report_paths(out or f.with_name(f.stem + "-detect")))
    if command == "faces extract":
        return sorted(p for p in Path(out).rglob("*")
                      if p.is_file() and ".part" not in p.name)
    return [Path(out)]


def _figures(command: str, files: list[Path]) -> dict:
    """A few key figures from the command's own report files."""
    def load(suffix: str):
        for f in files:
            if f.name.endswith(suffix) and f.is_file():
                with contextlib.suppress(OSError, ValueError):
                    return json.loads(f.read_text(encoding="utf-8"))
        return None

    figs: dict = {}
    with contextlib.suppress(Exception):
        if command == "align" and (data := load(".json")):
            words = data.get("words", [])
            figs = {"words": len(words),
                    "aligned": sum(1 for w in words if w.get("start") is not None)}
        elif command in ("edit", "dub") and (data := load(".report.json")):
            figs = {"edits": len(data.get("edits", []))}
        elif command == "detect" and (data := load("report.json")):
            figs = {"findings": len(data.get("findings", [])),
                    **{k: round(v, 3) for k, v in (data.get("signals") or {}).items()
                       if isinstance(v, int | float)}}
        elif command == "faces extract":
            jl = [f for f in files if f.name == "faces.jsonl"]
            if jl:
                figs = {"faces": sum(1 for s in jl[0].read_text().splitlines() if s.strip())}
    return figs


def run_job(payload: dict) -> dict:
    """Run one job through its command in this process (cwd: the job file's folder);
    return status, outputs with hashes, figures, and one error line on failure."""
    from retake.core.batch import hash_outputs
    from retake.core.errors import RetakeError

    command, log = payload["command"], payload["log"]
    cmd = _command(command)
    cwd = os.getcwd()
    os.chdir(payload["base"])
    error = ""
    params: dict = {}
    try:
        with _redirected(log):
            try:
                ctx = cmd.make_context(command, list(payload["argv"]))
                params = dict(ctx.params)
                with ctx:
                    cmd.invoke(ctx)
            except RetakeError as exc:
                error = str(exc)
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # noqa: BLE001 - the job's one error line
                code = getattr(exc, "exit_code", None)
                fmt = getattr(exc, "format_message", None)
                if code is not None and not fmt:  # typer.Exit / click Exit
                    error = "" if code == 0 else (f"exited with code {code}: "
                                                  f"{_last_line(log)}")
                else:
                    error = fmt() if fmt else f"internal error: {type(exc).__name__}: {exc}"
            if error:
                print(f"error: {error}", file=sys.stderr)
        if error:
            return {"status": "failed", "error": " ".join(error.split())}
        files = [Path(payload["base"]) / f for f in output_files(command, params)]
        outputs = hash_outputs(files)
        if not outputs:
            return {"status": "failed", "error": "finished but wrote no output file"}
        return {"status": "done", "outputs": outputs, "figures": _figures(command, files)}
    finally:
        os.chdir(cwd)
