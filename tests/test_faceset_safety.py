"""Crafted facesets and model folders fail with one clear error and touch nothing outside.

Facesets and models travel as archives, so their file names and numbers are untrusted:
faces.jsonl names that leave faces/, symbolic links, malformed or out-of-range fields, and
model.json sizes that would allocate gigabytes. Writers lock the faceset, so two runs at
once cannot write every face twice.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from retake.core.errors import EngineUnavailable, RetakeError
from retake.video.faceset import load, sort_faceset

ROOT = Path(__file__).resolve().parents[1]


def _face(file: str, i: int = 0) -> dict:
    """One faces.jsonl record as `extract` writes it (numbers made up, shapes right)."""
    rng = np.random.default_rng(i)
    pts = np.round(rng.uniform(10, 50, (68, 2)), 2).tolist()
    return {"file": file, "source": "clip", "frame": i, "time": i / 25, "track": 0,
            "box": [10.0, 10.0, 50.0, 50.0], "landmarks": pts, "aligned": pts,
            "matrix": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
            "embedding": np.round(rng.normal(0, 0.1, 128), 6).tolist(),
            "blur": float(100 - i), "yaw": 0.1 * (i % 3) - 0.1, "size": 20.0 + i}


def _faceset(root: Path, n: int = 3, twice: bool = False) -> Path:
    """A small faceset written by hand: faceset.json, faces.jsonl and n 32 px PNG crops."""
    from retake.video.media import write_image

    (root / "faces").mkdir(parents=True)
    (root / "faceset.json").write_text(json.dumps(
        {"version": 1, "size": 32, "padding": 0.25, "sources": ["clip"]}))
    lines = []
    for i in range(n):
        name = f"clip_{i:06d}_0.png"
        write_image(root / "faces" / name, np.full((32, 32, 3), 40 * i, np.uint8))
        lines.append(json.dumps(_face(name, i)))
    if twice:  # two `faces extract` runs into one folder used to write this
        lines += lines
    (root / "faces.jsonl").write_text("\n".join(lines) + "\n")
    return root


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): (b"<link>" if p.is_symlink() else p.read_bytes())
            for p in sorted(folder.rglob("*")) if p.is_symlink() or p.is_file()}


def _add_line(root: Path, record: object, raw: str | None = None) -> None:
    with open(root / "faces.jsonl", "a") as fh:
        fh.write((raw if raw is not None else json.dumps(record)) + "\n")


def _cli_sort(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "retake", "faces", "sort", str(root),
                           "--by", "blur"], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


# ---------------------------------------------------------------- names and links

@pytest.mark.parametrize("name", ["../../secret.txt", "../outside.png", "/etc/passwd.png",
                                  "sub/x.png", "x\\..\\y.png", "..", "", "a\nb.png",
                                  "[/bold] x.png", 7, None])
def test_file_names_that_leave_faces_are_refused(tmp_path: Path, name: object) -> None:
    root = _faceset(tmp_path / "fs")
    secret = tmp_path / "secret.txt"
    secret.write_text("do not move me")
    _add_line(root, _face(name, 9))  # type: ignore[arg-type]
    before = _snapshot(tmp_path)
    with pytest.raises(RetakeError) as exc:
        sort_faceset(root, "blur")
    msg = str(exc.value)
    assert msg.startswith(f"{root}: faces.jsonl line 4: file ") and "\n" not in msg
    assert "[" not in msg.split(": ", 1)[1]  # a crafted name never becomes console markup
    with pytest.raises(RetakeError, match="line 4"):
        load(root)
    after = _snapshot(tmp_path)
    after.pop("fs/.lock", None)
    assert after == before  # nothing moved, renamed or created


def test_cli_refuses_a_traversing_faceset(tmp_path: Path) -> None:
    """The reported attack: `file: ../../secret.txt` moved a file in from outside."""
    root = _faceset(tmp_path / "a" / "fs")
    secret = tmp_path / "secret.txt"
    secret.write_text("do not move me")
    _add_line(root, _face("../../secret.txt", 9))
    outside = _snapshot(tmp_path)
    res = _cli_sort(root)
    assert res.returncode == 1, res.stderr
    assert res.stderr.startswith("error:") and "Traceback" not in res.stderr
    assert "../../secret.txt" in res.stderr
    assert secret.read_text() == "do not move me"
    after = _snapshot(tmp_path)
    after.pop("a/fs/.lock", None)
    assert after == outside


def test_cli_markup_in_a_crafted_name_prints_one_error(tmp_path: Path) -> None:
    root = _faceset(tmp_path / "fs")
    _add_line(root, _face("[/red]../x.png", 9))
    res = _cli_sort(root)
    assert res.returncode == 1 and res.stderr.startswith("error:"), res.stderr
    assert "Traceback" not in res.stderr and "MarkupError" not in res.stderr


def test_symlinked_entry_is_refused(tmp_path: Path) -> None:
    root = _faceset(tmp_path / "fs")
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("x")
    # an entry that points out of the faceset, listed in faces.jsonl
    (root / "faces" / "link_000000_0.png").symlink_to(victim / "keep.txt")
    _add_line(root, _face("link_000000_0.png", 5))
    before = _snapshot(tmp_path)
    with pytest.raises(RetakeError, match=r"faces/link_000000_0\.png.*symbolic link"):
        sort_faceset(root, "blur")
    res = _cli_sort(root)
    assert res.returncode == 1 and res.stderr.startswith("error:"), res.stderr
    after = _snapshot(tmp_path)
    after.pop("fs/.lock", None)
    assert after == before and (victim / "keep.txt").read_text() == "x"


def test_markup_in_a_linked_entry_is_quoted(tmp_path: Path) -> None:
    root = _faceset(tmp_path / "fs")
    (root / "faces" / "[red]x.png").symlink_to(tmp_path)
    _add_line(root, _face("[red]x.png", 5))
    with pytest.raises(RetakeError, match="symbolic link") as exc:
        load(root)
    assert "[" not in str(exc.value).split(": ", 1)[1]


def test_symlink_where_sort_would_rename_is_refused(tmp_path: Path) -> None:
    """A planted link named like a sort target (00000_...) never gets a crop written through."""
    root = _faceset(tmp_path / "fs")
    victim = tmp_path / "victim"
    victim.mkdir()
    (root / "faces" / "00000_clip_000000_0.png").symlink_to(victim / "planted.png")
    (root / "faces" / "00001_clip_000001_0.png.tmp").symlink_to(victim)
    with pytest.raises(RetakeError, match="symbolic link"):
        sort_faceset(root, "blur")
    assert list(victim.iterdir()) == []
    assert len(load(root).records) == 3  # the crops are where they were


def test_symlinked_faces_folder_is_refused(tmp_path: Path) -> None:
    root = _faceset(tmp_path / "fs")
    victim = tmp_path / "victim"
    (root / "faces").rename(victim)
    (root / "faces").symlink_to(victim)
    before = _snapshot(victim)
    with pytest.raises(RetakeError, match=r"faces \(the crops folder\): is a symbolic link"):
        sort_faceset(root, "blur")
    with pytest.raises(RetakeError, match="symbolic link"):
        load(root)
    res = _cli_sort(root)
    assert res.returncode == 1 and res.stderr.startswith("error:"), res.stderr
    assert _snapshot(victim) == before


@pytest.mark.parametrize("entry", ["faces.jsonl", "faceset.json", ".lock"])
def test_symlinked_faceset_files_are_refused(tmp_path: Path, entry: str) -> None:
    root = _faceset(tmp_path / "fs")
    target = tmp_path / "outside.txt"
    target.write_text("untouched")
    if entry != ".lock":
        os.replace(root / entry, target)
        target_text = target.read_text()
    else:
        target_text = "untouched"
    (root / entry).symlink_to(target)
    with pytest.raises(RetakeError, match=r"symbolic link|lock file"):
        sort_faceset(root, "blur")
    with pytest.raises(RetakeError, match=r"symbolic link|lock file"):
        _extract_nothing(root)
    assert target.read_text() == target_text


class _NoModels:
    """Stands in for FaceModels where extract must fail before detecting anything."""

    def __getattr__(self, name: str):
        raise AssertionError(f"extract used the face models ({name}) on a refused faceset")


def _extract_nothing(root: Path, inputs: list | None = None):
    from retake.video.faceset import extract

    return extract(inputs or [root / "nothing.png"], root, _NoModels(), size=32)  # type: ignore[arg-type]


# ---------------------------------------------------------------- malformed records

BAD_FIELDS = [
    ("frame", "3"), ("frame", -1), ("frame", 1.5), ("frame", True), ("time", float("nan")),
    ("time", float("inf")), ("time", -2.0), ("track", None), ("source", 5),
    ("box", [1, 2, 3]), ("box", [1, 2, 3, "4"]), ("box", [1, 2, 3, None]),
    ("landmarks", [[1.0, 2.0]] * 67), ("landmarks", [[1.0, 2.0, 3.0]] * 68),
    ("aligned", "oops"), ("matrix", [[1, 0, 0]]), ("embedding", [0.0] * 127),
    ("embedding", [float("nan")] * 128), ("blur", "sharp"), ("blur", -1.0), ("yaw", 3.0),
    ("size", [1]), ("box", [1e300, 0, 0, 0]),
]


@pytest.mark.parametrize(("key", "value"), BAD_FIELDS)
def test_bad_fields_give_one_error_line(tmp_path: Path, key: str, value: object) -> None:
    root = _faceset(tmp_path / "fs")
    rec = _face("clip_000009_0.png", 9)
    rec[key] = value
    _add_line(root, rec)
    with pytest.raises(RetakeError) as exc:
        load(root)
    msg = str(exc.value)
    assert f"faces.jsonl line 4: {key}" in msg and "\n" not in msg, msg


@pytest.mark.parametrize("raw", ['{"file": "clip_000009_0.png"', "[1, 2]", "42", "null",
                                 '{"file": "x.png"}', "[" * 100000 + "]" * 100000,
                                 '{"frame": 1' + "0" * 5000 + "}"])
def test_bad_lines_give_one_error_line(tmp_path: Path, raw: str) -> None:
    root = _faceset(tmp_path / "fs")
    _add_line(root, None, raw)
    _add_line(root, _face("clip_000002_0.png", 2))  # a good line after the bad one
    with pytest.raises(RetakeError, match=r"faces\.jsonl line 4"):
        load(root)
    with pytest.raises(RetakeError, match=r"faces\.jsonl line 4"):
        sort_faceset(root, "yaw")


def test_not_utf8_is_one_error_line(tmp_path: Path) -> None:
    root = _faceset(tmp_path / "fs")
    with open(root / "faces.jsonl", "ab") as fh:
        fh.write(b'{"file": "\xff\xfe"}\n')
    with pytest.raises(RetakeError, match="not UTF-8"):
        load(root)


def test_a_cut_last_line_is_passed_over_and_trimmed_before_appending(tmp_path: Path) -> None:
    from retake.video.faceset import _end_lines

    root = _faceset(tmp_path / "fs")
    with open(root / "faces.jsonl", "a") as fh:
        fh.write(json.dumps(_face("clip_000003_0.png", 3))[:200])  # an interrupted write
    assert len(load(root).records) == 3
    _end_lines(root / "faces.jsonl")
    assert (root / "faces.jsonl").read_text().endswith("}\n")
    _add_line(root, _face("clip_000004_0.png", 4))
    assert len(load(root).records) == 3  # clip_000004 has no crop; the file still parses
    # A complete last line without its newline is kept and ended.
    with open(root / "faces.jsonl", "a") as fh:
        fh.write(json.dumps(_face("clip_000001_0.png", 1)))
    _end_lines(root / "faces.jsonl")
    assert len((root / "faces.jsonl").read_text().splitlines()) == 5


@pytest.mark.parametrize("head", ['{"size": 32', "[]", '{"size": "big", "padding": 0.2}',
                                  '{"size": 32, "padding": 5}', '{"size": 99999999, '
                                  '"padding": 0.2}', '{"size": 32, "padding": NaN}',
                                  '{"padding": 0.2}', '{"size": 32, "padding": 0.2, '
                                  '"sources": "x"}'])
def test_bad_faceset_json_gives_one_error_line(tmp_path: Path, head: str) -> None:
    root = _faceset(tmp_path / "fs")
    (root / "faceset.json").write_text(head)
    with pytest.raises(RetakeError, match=r"faceset\.json") as exc:
        load(root)
    assert "\n" not in str(exc.value)
    res = _cli_sort(root)
    assert res.returncode == 1 and res.stderr.startswith("error:"), res.stderr


def test_newer_faceset_asks_for_an_update(tmp_path: Path) -> None:
    root = _faceset(tmp_path / "fs")
    (root / "faceset.json").write_text('{"version": 2, "size": 32, "padding": 0.2}')
    with pytest.raises(RetakeError, match="newer Retake"):
        load(root)


# ---------------------------------------------------------------- duplicates and the lock

def test_faces_written_twice_sort_without_losing_a_crop(tmp_path: Path) -> None:
    root = _faceset(tmp_path / "fs", n=4, twice=True)
    assert len(load(root).records) == 4
    order = sort_faceset(root, "blur")
    assert [r.blur for r in order] == sorted((r.blur for r in order), reverse=True)
    crops = sorted(p.name for p in (root / "faces").iterdir())
    assert crops == sorted(r.file for r in load(root).records)
    assert len(crops) == 4 and all(c[:5].isdigit() for c in crops)
    again = sort_faceset(root, "size")  # sorting a sorted faceset keeps every crop
    assert len(again) == 4 and len(list((root / "faces").iterdir())) == 4


def test_valid_faceset_still_sorts(tmp_path: Path) -> None:
    root = _faceset(tmp_path / "fs", n=5)
    for key in ("blur", "yaw", "size", "identity", "histogram"):
        assert len(sort_faceset(root, key)) == 5
    assert len(list((root / "faces").iterdir())) == 5
    res = _cli_sort(root)
    assert res.returncode == 0, res.stderr


HOLD_LOCK = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.read()
"""


def test_a_second_writer_fails_at_once(tmp_path: Path) -> None:
    pytest.importorskip("fcntl")
    root = _faceset(tmp_path / "fs")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(root / ".lock")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = _snapshot(root)
        busy = "another Retake process is writing this faceset; wait for it to finish"
        start = time.monotonic()
        with pytest.raises(RetakeError, match=busy):
            sort_faceset(root, "blur")
        with pytest.raises(RetakeError, match=busy):
            _extract_nothing(root)
        assert time.monotonic() - start < 5
        res = _cli_sort(root)
        assert res.returncode == 1 and res.stderr.startswith("error:"), res.stderr
        assert "another Retake process" in res.stderr
        assert _snapshot(root) == before
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert len(sort_faceset(root, "blur")) == 3  # released with its process


def test_the_lock_is_held_for_the_whole_run(tmp_path: Path) -> None:
    from retake.video.faceset import _writer_lock

    root = _faceset(tmp_path / "fs")
    with _writer_lock(root), pytest.raises(RetakeError, match="another Retake process"):
        sort_faceset(root, "blur")
    assert len(sort_faceset(root, "blur")) == 3


def test_extract_checks_a_crafted_faceset_before_writing(tmp_path: Path) -> None:
    root = _faceset(tmp_path / "fs")
    _add_line(root, _face("../../secret.png", 9))
    before = (root / "faces.jsonl").read_bytes()
    with pytest.raises(RetakeError, match=r"line 4: file"):
        _extract_nothing(root)
    assert (root / "faces.jsonl").read_bytes() == before


def test_extract_refuses_a_file_as_the_faceset(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(RetakeError, match="is a file"):
        _extract_nothing(tmp_path / "f")
    with pytest.raises(RetakeError, match="crop size"):
        from retake.video.faceset import extract

        extract([tmp_path], tmp_path / "fs", _NoModels(), size=100000)  # type: ignore[arg-type]


# ---------------------------------------------------------------- model.json

def _model_dir(tmp_path: Path, **changes: object) -> Path:
    root = tmp_path / "model"
    root.mkdir()
    meta = {"version": 1, "engine": "autoencoder", "resolution": 64, "padding": 0.2,
            "arch": {"encoder_dims": 32, "bottleneck": 128, "decoder_dims": 32}, "steps": 10,
            "identities": {"src": {"name": "a", "embedding": [0.0] * 128},
                           "dst": {"name": "b", "embedding": None}},
            "options": {"seed": 0}}
    for key, value in changes.items():
        if key in meta["arch"]:
            meta["arch"][key] = value
        else:
            meta[key] = value
    (root / "model.json").write_text(json.dumps(meta))
    (root / "model.pt").write_bytes(b"never read when model.json is refused")
    return root


CRAFTED_MODELS = [
    {"resolution": 16384}, {"resolution": 65}, {"resolution": 16}, {"resolution": "64"},
    {"resolution": 64.0}, {"resolution": True}, {"encoder_dims": 4096},
    {"bottleneck": 1 << 20}, {"decoder_dims": 0}, {"decoder_dims": -3},
    {"bottleneck": 512, "resolution": 256, "encoder_dims": 64}, {"arch": {"extra": 1}},
    {"arch": [1, 2]}, {"steps": -1}, {"steps": "many"}, {"padding": float("nan")},
    {"padding": 9}, {"version": "x"}, {"options": {"seed": 1 << 70}}, {"options": []},
    {"identities": {"src": {"embedding": [1.0] * 3}}}, {"identities": {"src": 5}},
]


@pytest.mark.parametrize("changes", CRAFTED_MODELS)
def test_crafted_model_json_is_refused_before_any_tensor(tmp_path: Path, changes: dict,
                                                         monkeypatch) -> None:
    from retake.video import autoencoder
    from retake.video.autoencoder import load_model, model_info

    def build(*args, **kwargs):
        raise AssertionError("a network was built from a crafted model.json")

    # As if model.pt held matching weights: only model.json's check stands in the way.
    monkeypatch.setattr(autoencoder, "_read_weights", lambda root, dev: {"net": {}})
    monkeypatch.setattr(autoencoder, "_build", build)
    root = _model_dir(tmp_path, **changes)
    start = time.monotonic()
    with pytest.raises(EngineUnavailable, match="model.json") as exc:
        load_model(root, "cpu")
    assert "\n" not in str(exc.value) and str(exc.value).startswith(f"{root}: ")
    with pytest.raises(EngineUnavailable):
        model_info(root)
    assert time.monotonic() - start < 5


def test_model_json_that_is_not_an_object(tmp_path: Path) -> None:
    from retake.video.autoencoder import model_info

    root = _model_dir(tmp_path)
    for text in ("[]", "null", "[" * 100000, '{"resolution": 1' + "0" * 5000 + "}"):
        (root / "model.json").write_text(text)
        with pytest.raises(EngineUnavailable, match="model.json"):
            model_info(root)


def test_the_crafted_model_fails_in_the_swap_cli(tmp_path: Path) -> None:
    from retake.video.swap_autoencoder import AutoencoderSwapper, check_model_identity

    root = _model_dir(tmp_path, resolution=16384, bottleneck=512)
    with pytest.raises(EngineUnavailable, match="resolution 16384"):
        AutoencoderSwapper(root, device="cpu")
    with pytest.raises(EngineUnavailable, match="resolution 16384"):
        check_model_identity(root, None)


def test_a_model_train_makes_passes_the_check(tmp_path: Path) -> None:
    from retake.video.autoencoder import model_info

    assert model_info(_model_dir(tmp_path))["resolution"] == 64
    for res in (32, 256):
        (tmp_path / "model").rename(tmp_path / f"m{res}")
        assert model_info(_model_dir(tmp_path, resolution=res))["resolution"] == res


def test_train_refuses_what_load_would_refuse(tmp_path: Path) -> None:
    from retake.video.autoencoder import TrainOptions, train

    for opts in (TrainOptions(encoder_dims=4096), TrainOptions(resolution=256, bottleneck=512,
                                                              encoder_dims=64)):
        with pytest.raises(RetakeError, match="unsupported model size"):
            train(tmp_path / "a", tmp_path / "b", tmp_path / "m", opts)
    assert not (tmp_path / "m").exists()
