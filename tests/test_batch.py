"""`retake batch`: a small batch of real jobs on local workers and on a local Ray instance,
a failing job, a resumed batch, and job files refused per job before anything runs."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from retake.align.audio import write_wav
from retake.core.batch import Outcome, State, Task, parse_size
from retake.ui.cli_batch import register

TEXTS = ["Please call Stella now.", "Bring these things with her."]

JOBS = """\
jobs:
  - name: a0
    command: align
    args: [a0.wav, a0.txt]
    output: out/a0
  - name: a1
    command: align
    args: [a1.wav, a1.txt]
    options: {output: out/a1, table: false}
  - name: broken
    command: align
    args: [a0.wav, a0.txt]
    output: out/broken
    engine: no-such-engine
  - name: det
    command: detect
    args: [a0.wav]
    output: out/det
    transcript: a0.txt
"""


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Test root, so that `batch` stays a sub-command."""

    register(app)
    return app


def batch(*args: str):
    return CliRunner().invoke(_app(), ["batch", *args])


@pytest.fixture(scope="module")
def media(tmp_path_factory, speech):
    folder = tmp_path_factory.mktemp("batch-media")
    for i, text in enumerate(TEXTS):
        synth, _ = speech(text)
        write_wav(folder / f"a{i}.wav", synth.audio, synth.sample_rate)
        (folder / f"a{i}.txt").write_text(text + "\n")
    return folder


@pytest.fixture
def folder(tmp_path, media):
    for f in media.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    (tmp_path / "out").mkdir()
    return tmp_path


def rows(path: Path) -> dict[str, dict]:
    return {r["job"]: r for r in json.loads(path.read_text())}


def test_local_batch_fails_one_job_and_resumes(folder):
    jobs = folder / "jobs.yaml"
    jobs.write_text(JOBS)
    cache = folder / "cache"
    r = batch(str(jobs), "--workers", "2", "--cache", str(cache),
              "--results", str(folder / "res"))
    assert r.exit_code == 1, r.output  # one job failed, the others ran
    got = rows(folder / "res.json")
    assert {k: v["status"] for k, v in got.items()} == {
        "a0": "done", "a1": "done", "broken": "failed", "det": "done"}
    assert "no-such-engine" in got["broken"]["error"]
    assert "\n" not in got["broken"]["error"]
    assert "no-such-engine" in r.output  # its error line, on the console too
    assert got["a0"]["figures"] == {"words": 4, "aligned": 4}
    assert str((folder / "out/a1.json").resolve()) in got["a1"]["outputs"]
    assert (folder / "out/det/report.json").is_file()
    assert list((cache / "align").glob("*.json"))  # the shared cache was used
    csv_text = (folder / "res.csv").read_text()
    assert csv_text.startswith("job,command,status,outputs,seconds,error,figures")
    assert "broken,align,failed" in csv_text
    state = json.loads((folder / "res.state.json").read_text())
    assert set(state["jobs"]) == {"a0", "a1", "det"}
    first_a0 = (folder / "out/a0.json").stat().st_mtime_ns

    # Resume: a1 lost a file and det's report was altered; a0 is intact and skipped.
    (folder / "out/a1.json").unlink()
    with open(folder / "out/det/report.html", "a") as fh:
        fh.write("<!-- changed -->")
    r = batch(str(jobs), "--workers", "2", "--cache", str(cache),
              "--results", str(folder / "res"))
    assert r.exit_code == 1, r.output
    got = rows(folder / "res.json")
    assert {k: v["status"] for k, v in got.items()} == {
        "a0": "skipped", "a1": "done", "broken": "failed", "det": "done"}
    assert (folder / "out/a1.json").is_file()
    assert (folder / "out/a0.json").stat().st_mtime_ns == first_a0
    assert got["a0"]["figures"] == {"words": 4, "aligned": 4}


def test_bad_job_file_is_refused_per_job_before_anything_runs(folder):
    jobs = folder / "bad.yaml"
    jobs.write_text("""\
- command: align
  args: [a0.wav, a0.txt]
  output: out/fine
- command: transmogrify
  args: [a0.wav]
- command: align
  args: [missing.wav, a0.txt]
  output: out/m
- command: align
  args: [a0.wav, a0.txt]
  output: out/b
  bogus: 3
- command: faces extract
  args: [a0.wav]
  output: out/f
  size: big
- command: edit
  args: [a0.wav]
  to: hello
  takes: 99
  output: out/e.wav
- command: align
  args: [a0.wav, a0.txt]
  output: out/fine
- command: align
  args: [a0.wav, a0.txt]
  output: nowhere/a
""")
    r = batch(str(jobs), "--results", str(folder / "res"))
    assert r.exit_code == 1
    out = " ".join(r.output.split())
    assert "job 2 (job2, line 4): unknown command 'transmogrify'" in out
    assert "job 3 (job3, line 6): AUDIO missing.wav: no such file" in out
    assert "job 4 (job4, line 9): unknown option 'bogus'" in out
    assert "job 5 (job5, line 13): Invalid value for '--size'" in out
    assert "job 6 (job6, line 17): Invalid value for '--takes'" in out
    assert "job 7 (job7, line 22): writes" in out
    assert "job 8 (job8, line 25): output nowhere/a: the folder" in out
    assert "does not exist (create it first)" in out
    assert "job 1 " not in out.replace("as job 1 ", "")
    assert "7 of 8 job(s) are wrong; nothing was run" in out
    assert not list((folder / "out").iterdir())
    assert not (folder / "res.state.json").exists() and not (folder / "res.json").exists()


def test_csv_job_file(folder):
    (folder / "jobs.csv").write_text("name,command,args,output,table\n"
                                     "c1,align,a0.wav a0.txt,out/c1,false\n"
                                     "c2,align,\"a1.wav 'Bring these things with her.'\","
                                     "out/c2,\n")
    r = batch(str(folder / "jobs.csv"), "--workers", "2")
    assert r.exit_code == 0, r.output
    got = rows(folder / "jobs-results.json")
    assert [got[k]["status"] for k in ("c1", "c2")] == ["done", "done"]
    assert got["c2"]["figures"]["aligned"] == 5


def test_state_skips_only_intact_outputs(tmp_path):
    out = tmp_path / "o.txt"
    out.write_text("one")
    from retake.core.batch import hash_outputs

    state = State(tmp_path / "s.json")
    t = Task("j", "sig", {})
    state.record(t, Outcome("j", "done", hash_outputs([out])))
    assert State(tmp_path / "s.json").intact(t)
    assert not State(tmp_path / "s.json").intact(Task("j", "other definition", {}))
    out.write_text("two")
    assert not State(tmp_path / "s.json").intact(t)
    assert not [p for p in tmp_path.iterdir() if ".part" in p.name]  # temp + rename
    assert parse_size("512M") == 512 * 1024**2 and parse_size("1.5G") == 1536 * 1024**2


def test_same_batch_on_local_ray(folder, monkeypatch):
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # no token written to the home folder
    ray = pytest.importorskip("ray")
    jobs = folder / "jobs.yaml"
    jobs.write_text(JOBS.split("  - name: det")[0])  # the two aligns and the broken one
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        r = batch(str(jobs), "--ray", "auto", "--cache", str(folder / "cache"))
    finally:
        ray.shutdown()
    assert r.exit_code == 1, r.output
    got = rows(folder / "jobs-results.json")
    assert {k: v["status"] for k, v in got.items()} == {
        "a0": "done", "a1": "done", "broken": "failed"}
    assert "no-such-engine" in got["broken"]["error"]
    assert json.loads((folder / "out/a1.json").read_text())["words"][0]["text"] == "Bring"


def test_memory_limit_fails_the_job_alone(folder):
    jobs = folder / "jobs.yaml"
    jobs.write_text(JOBS.split("  - name: a1")[0])  # one align
    r = batch(str(jobs), "--workers", "1", "--memory", "100M")
    assert r.exit_code == 1
    got = rows(folder / "jobs-results.json")["a0"]
    assert got["status"] == "failed"
    # an allocation fails in the job (an error) or a native library aborts (worker died)
    assert "memory limit" in got["error"] and "100 MiB" in got["error"], got["error"]


def _dies_or_sleeps(payload: dict) -> dict:
    """A job function for the pool: its worker dies (as a native abort or the OOM killer
    would end it) when asked, else it sleeps and succeeds."""
    if payload.get("die"):
        time.sleep(0.5)  # the neighbour is running by now
        os._exit(9)
    time.sleep(payload.get("sleep", 0.0))
    return {"status": "done", "outputs": {}}


def test_a_dying_worker_fails_only_its_own_job(tmp_path):
    """A process pool fails every job running when one worker dies; the innocent neighbour
    runs again alone and succeeds, and only the job that kills its worker is failed."""
    from retake.core.batch import run_batch

    tasks = [Task("slow", "s", {"sleep": 2.0}), Task("dies", "d", {"die": True}),
             Task("after", "a", {})]
    outcomes = {o.name: o for o in run_batch(tasks, _dies_or_sleeps,
                                             State(tmp_path / "s.json"), workers=2)}
    assert outcomes["slow"].status == "done", outcomes["slow"].error
    assert outcomes["after"].status == "done", outcomes["after"].error
    assert outcomes["dies"].status == "failed"
    assert "worker died" in outcomes["dies"].error
