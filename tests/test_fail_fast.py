"""Fail fast and cleanly: speech-free input, bad outputs and bad edit lists fail in seconds
and before any analysis; crafted and odd inputs end in one `error:` line and exit 1 (never
"internal error"); temporary files a killed run left are removed by the next run, and a
failed `faces extract` leaves no faceset behind.

The CLI runs in this process (`main()` with its error handler), as a user would run it.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from retake.align.audio import write_wav
from retake.core import cache

TEXT = "Please call Stella and ask her to bring these things with her from the store."
NEW = TEXT.replace("Stella", "Bella")
RATE = 16000


def cli(*args: str, capsys, monkeypatch) -> tuple[int, str, float]:
    """Run `retake ARGS` in this process: (exit code, stderr, seconds)."""
    from retake.ui import cli as entry
    from retake.ui.console import err

    monkeypatch.setattr(sys, "argv", ["retake", *map(str, args)])
    monkeypatch.setattr(err, "quiet", False)
    capsys.readouterr()
    t0 = time.perf_counter()
    code = 0
    try:
        entry.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    took = time.perf_counter() - t0
    return code, capsys.readouterr().err, took


def one_line(code: int, stderr: str) -> str:
    """The single `error:` line of a clean failure (exit 1)."""
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    assert code == 1, stderr
    assert "internal error" not in stderr and "Traceback" not in stderr, stderr
    assert len(lines) == 1 and lines[0].startswith("error:"), stderr
    return lines[0]


def no_analysis() -> bool:
    return not cache.entries(Path(os.environ["RETAKE_CACHE"]))


@pytest.fixture(scope="module")
def memo(tmp_path_factory) -> Path:
    from retake.align.espeak import synthesize

    folder = tmp_path_factory.mktemp("memo")
    s = synthesize(TEXT)
    write_wav(folder / "memo.wav", s.audio, s.sample_rate)
    return folder / "memo.wav"


def _noise(seconds: float) -> np.ndarray:
    return (0.1 * np.random.default_rng(7).standard_normal(int(seconds * RATE))).astype(
        np.float32)


def _music(seconds: float) -> np.ndarray:
    """Chords of harmonic tones with a beat: tonal, rhythmic, no voice."""
    t = np.arange(int(seconds * RATE)) / RATE
    x = np.zeros_like(t)
    chords = [(220.0, 277.2, 329.6), (196.0, 246.9, 293.7), (174.6, 220.0, 261.6)]
    for k, chord in enumerate(chords):
        on = ((t // 2.0) % len(chords)) == k
        for f in chord:
            for h in range(1, 5):
                x += on * 0.05 / h * np.sin(2 * np.pi * f * h * t)
    beat = np.exp(-((t % 0.5) * 30.0))
    x += 0.2 * beat * np.sin(2 * np.pi * 60 * t)
    return (0.8 * x / np.max(np.abs(x))).astype(np.float32)


@pytest.fixture(scope="module")
def speechless(tmp_path_factory) -> dict[str, Path]:
    """60 s of white noise and 40 s of music-like chords; the voice activity detector is
    loaded here (once per process), so the timed runs measure the check."""
    from retake.align.speech_check import _vad

    _vad()
    folder = tmp_path_factory.mktemp("speechless")
    files = {"noise": folder / "noise.wav", "music": folder / "music.wav"}
    write_wav(files["noise"], _noise(60.0), RATE)
    write_wav(files["music"], _music(40.0), RATE)
    return files


# ---------------------------------------------------------------- speech-free input

def test_speech_check_finds_speech_and_its_absence(memo, speechless):
    from retake.align import load_audio
    from retake.align.audio import resample
    from retake.align.speech_check import has_speech

    for kind, path in speechless.items():
        a = load_audio(path)
        assert has_speech(resample(a.samples, a.sample_rate, RATE)) is False, kind
    a = load_audio(memo)
    x = resample(a.samples, a.sample_rate, RATE)
    assert has_speech(np.concatenate([np.zeros(30 * RATE, np.float32), _noise(20) * 0.1, x]))


def test_the_torch_detector_stands_in_for_the_onnx_one(memo, speechless, monkeypatch):
    from retake.align import load_audio, speech_check
    from retake.align.audio import resample

    def missing():
        raise ImportError("faster_whisper")

    monkeypatch.setattr(speech_check, "_onnx_detector", missing)
    monkeypatch.setattr(speech_check, "_detector", None)
    a = load_audio(speechless["noise"])  # 6 s of it: the torch model is the slow one
    noise = a.samples[:6 * a.sample_rate]
    assert speech_check.has_speech(resample(noise, a.sample_rate, RATE)) is False
    a = load_audio(memo)
    assert speech_check.has_speech(resample(a.samples, a.sample_rate, RATE))
    monkeypatch.setattr(speech_check, "_torch_detector", missing)
    monkeypatch.setattr(speech_check, "_detector", None)
    assert speech_check.has_speech(np.zeros(RATE, np.float32)) is None  # no detector: no say


@pytest.mark.parametrize("kind", ["noise", "music"])
@pytest.mark.parametrize("command", ["align", "transcribe", "edit", "detect"])
def test_speech_free_input_fails_in_seconds(speechless, tmp_path, capsys, monkeypatch,
                                            kind, command):
    audio = speechless[kind]
    args = {
        "align": ["align", audio, TEXT, "-o", tmp_path / "out"],
        "transcribe": ["transcribe", audio, "-o", tmp_path / "out.txt"],
        "edit": ["edit", "--consent", audio, "-t", TEXT, "--to", NEW, "-o",
                 tmp_path / "out.wav"],
        "detect": ["detect", audio, "-o", tmp_path / "out"],
    }[command]
    code, stderr, took = cli(*args, capsys=capsys, monkeypatch=monkeypatch)
    line = one_line(code, stderr)
    assert "no speech" in line
    assert took < 10.0, f"{command} on {kind} took {took:.1f} s"
    assert not list(tmp_path.iterdir()), "something was written"


def test_speech_free_video_fails_to_dub_in_seconds(speechless, tmp_path, capsys, monkeypatch):
    from media_tools import encode_audio

    clip = encode_audio(tmp_path / "noise.mp4", _noise(30.0), RATE, "aac", video=True)
    out = tmp_path / "out"
    out.mkdir()
    code, stderr, took = cli("dub", "--consent", clip, "-t", TEXT, "--to", NEW, "-o",
                             out / "dubbed.mp4", capsys=capsys, monkeypatch=monkeypatch)
    assert "no speech" in one_line(code, stderr)
    assert took < 10.0, f"dub on noise took {took:.1f} s"
    assert not list(out.iterdir())


# ---------------------------------------------------------------- checked before work

def _read_only(folder: Path, monkeypatch) -> None:
    """A folder nobody may write in (root may write anywhere: then the check is told so)."""
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() == 0:
        real = os.access

        def access(path, mode, *a, **k):
            if Path(path).absolute() == folder.absolute() and mode & os.W_OK:
                return False
            return real(path, mode, *a, **k)

        monkeypatch.setattr(os, "access", access)


@pytest.mark.parametrize(("command", "where"), [
    (c, w) for c in ("align", "edit", "transcribe", "detect")
    for w in ("missing", "read-only", "file")
    if (c, w) != ("detect", "missing")])  # detect makes its report folder (and parents)
def test_bad_output_folder_fails_before_analysis(memo, tmp_path, capsys, monkeypatch,
                                                 where, command):
    base = tmp_path / "dest"
    if where == "missing":
        out = tmp_path / "no" / "such" / "dir"
    elif where == "read-only":
        _read_only(base, monkeypatch)
        out = base
    else:
        base.write_text("a file, not a folder")
        out = base
    args = {
        "align": ["align", memo, TEXT, "-o", out / "out"],
        "edit": ["edit", "--consent", memo, "-t", TEXT, "--to", NEW, "-o", out / "out.wav"],
        "transcribe": ["transcribe", memo, "-o", out / "out.txt"],
        "detect": ["detect", memo, "-o", out, "-t", TEXT],
    }[command]
    code, stderr, took = cli(*args, capsys=capsys, monkeypatch=monkeypatch)
    one_line(code, stderr)
    assert took < 5.0
    assert no_analysis(), "analysis ran before the output was checked"


@pytest.mark.parametrize("command", ["edit", "dub"])
def test_bad_edits_fail_before_analysis(memo, tmp_path, capsys, monkeypatch, command):
    edits = tmp_path / "edits.json"
    edits.write_text('[{"op": "delete", "from": NaN}]')
    target = memo if command == "edit" else tmp_path / "clip.mp4"
    if command == "dub":
        target.write_bytes(b"\0" * 100)
    out = tmp_path / ("out.wav" if command == "edit" else "out.mp4")
    code, stderr, took = cli(command, "--consent", target, "-t", TEXT, "--edits", edits,
                             "-o", out, capsys=capsys, monkeypatch=monkeypatch)
    one_line(code, stderr)
    assert took < 5.0 and no_analysis()


# ---------------------------------------------------------------- crafted and odd cases

def _face(file: str, i: int = 0) -> dict:
    pts = np.round(np.random.default_rng(i).uniform(10, 50, (68, 2)), 2).tolist()
    return {"file": file, "source": "clip", "frame": i, "time": i / 25, "track": 0,
            "box": [10.0, 10.0, 50.0, 50.0], "landmarks": pts, "aligned": pts,
            "matrix": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], "embedding": None,
            "blur": 10.0, "yaw": 0.0, "size": 20.0}


def _faceset(root: Path, head: str | None = None, lines: list[str] | None = None) -> Path:
    from retake.video.media import write_image

    (root / "faces").mkdir(parents=True)
    (root / "faceset.json").write_text(head if head is not None else json.dumps(
        {"version": 1, "size": 32, "padding": 0.25, "sources": ["clip"]}))
    write_image(root / "faces" / "clip_000000_0.png", np.zeros((32, 32, 3), np.uint8))
    if lines is None:
        lines = [json.dumps(_face("clip_000000_0.png"))]
    (root / "faces.jsonl").write_text("\n".join(lines) + "\n")
    return root


def _profile(root: Path, meta: str, source: str | None = None) -> Path:
    root.mkdir(parents=True)
    (root / "profile.json").write_text(meta)
    if source is not None:
        import soundfile as sf

        sf.write(root / "source_000.flac", np.zeros(RATE, np.float32), RATE)
        (root / "source_000.json").write_text(source)
    return root


PROFILE_META = json.dumps({"format": "retake.voice-profile", "name": "p"})
DEEP = "[" * 5000 + "]" * 5000


def _edit(memo: Path, tmp: Path, edits: str) -> list:
    (tmp / "edits.json").write_text(edits)
    return ["edit", "--consent", memo, "-t", TEXT, "--edits", tmp / "edits.json", "-o",
            tmp / "out.wav"]


def _deep_yaml(tmp: Path) -> list:
    (tmp / "script.yaml").write_text("to: " + "[" * 5000 + "]" * 5000 + "\n")
    (tmp / "clip.mp4").write_bytes(b"\0" * 100)
    return ["dub", "--consent", tmp / "clip.mp4", "--script", tmp / "script.yaml", "-o",
            tmp / "out.mp4"]


def _deep_yaml_mapping(tmp: Path) -> list:
    (tmp / "script.yaml").write_text("to: hi\nvoice: " + "{a: " * 5000 + "1" + "}" * 5000)
    (tmp / "clip.mp4").write_bytes(b"\0" * 100)
    return ["dub", "--consent", tmp / "clip.mp4", "--script", tmp / "script.yaml", "-o",
            tmp / "out.mp4"]


def _faces_extract_to_file(tmp: Path) -> list:
    (tmp / "taken").write_text("a file")
    (tmp / "img").mkdir()
    return ["faces", "extract", tmp / "img", "-o", tmp / "taken"]


def _detect_to_file(memo: Path, tmp: Path) -> list:
    (tmp / "taken").write_text("a file")
    return ["detect", memo, "-t", TEXT, "-o", tmp / "taken"]


CASES = {
    # malformed --edits
    "edits-not-ops": lambda memo, tmp: _edit(memo, tmp, "[1, 2]"),
    "edits-missing-from": lambda memo, tmp: _edit(memo, tmp, '[{"op": "delete"}]'),
    "edits-nan": lambda memo, tmp: _edit(memo, tmp, '[{"op": "delete", "from": NaN}]'),
    "edits-infinity": lambda memo, tmp: _edit(memo, tmp,
                                              '[{"op": "delete", "from": Infinity}]'),
    "edits-deep": lambda memo, tmp: _edit(memo, tmp, DEEP),
    # crafted facesets
    "faceset-json-not-object": lambda memo, tmp: ["faces", "sort", _faceset(tmp / "fs", "[1]")],
    "faceset-json-deep": lambda memo, tmp: ["faces", "sort", _faceset(tmp / "fs", DEEP)],
    "faces-jsonl-garbage": lambda memo, tmp: ["faces", "sort",
                                              _faceset(tmp / "fs", lines=["{not json"])],
    "faces-jsonl-deep": lambda memo, tmp: ["faces", "sort", _faceset(tmp / "fs", lines=[DEEP])],
    "faces-jsonl-traversal": lambda memo, tmp: [
        "faces", "sort", _faceset(tmp / "fs", lines=[json.dumps(_face("../../x.png"))])],
    "faces-jsonl-nan": lambda memo, tmp: [
        "faces", "sort", _faceset(tmp / "fs", lines=[json.dumps(
            {**_face("clip_000000_0.png"), "blur": float("nan")})])],
    # crafted voice profiles
    "profile-show-not-object": lambda memo, tmp: ["voice", "show",
                                                  _profile(tmp / "p", "[1, 2]")],
    "profile-show-missing-fields": lambda memo, tmp: ["voice", "show",
                                                      _profile(tmp / "p", "{}")],
    "profile-edit-truncated-source": lambda memo, tmp: [
        "edit", "--consent", memo, "-t", TEXT, "--to", NEW, "-o", tmp / "out.wav",
        "--voice", _profile(tmp / "p", PROFILE_META, '{"words": [')],
    "profile-edit-deep-source": lambda memo, tmp: [
        "edit", "--consent", memo, "-t", TEXT, "--to", NEW, "-o", tmp / "out.wav",
        "--voice", _profile(tmp / "p", PROFILE_META, DEEP)],
    # outputs where a folder is expected
    "faces-extract-o-file": lambda memo, tmp: _faces_extract_to_file(tmp),
    "detect-o-file": _detect_to_file,
    "detect-o-read-only": None,  # needs monkeypatch: see the test
    # deep YAML
    "yaml-deep-sequence": lambda memo, tmp: _deep_yaml(tmp),
    "yaml-deep-mapping": lambda memo, tmp: _deep_yaml_mapping(tmp),
    # a full disk: see the test
    "disk-full-edit": None,
}


@pytest.mark.parametrize("case", list(CASES))
def test_crafted_cases_give_one_error_line(memo, tmp_path, capsys, monkeypatch, case):
    if case == "detect-o-read-only":
        _read_only(tmp_path / "ro", monkeypatch)
        args = ["detect", memo, "-t", TEXT, "-o", tmp_path / "ro"]
    elif case == "disk-full-edit":
        args = _disk_full(memo, tmp_path, monkeypatch)
    else:
        args = CASES[case](memo, tmp_path)
    code, stderr, took = cli(*args, capsys=capsys, monkeypatch=monkeypatch)
    line = one_line(code, stderr)
    assert took < 5.0 and no_analysis(), "the check came after the analysis"
    if case == "disk-full-edit":
        assert "disk" in line and "full" in line
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temp files left"


def _disk_full(memo: Path, tmp: Path, monkeypatch) -> list:
    """An edit whose analysis and rendering are stubbed (they are tested elsewhere) and
    whose wav write meets a full disk, as libsndfile reports it."""
    import soundfile as sf

    from retake.voice import Editor

    class Result:
        pass

    def load(self, sound, transcript, progress=None, **kw):
        return object()

    def edit(self, rec, new_text, options=None, voices=()):
        return Result()

    def write(*args, **kwargs):
        raise sf.LibsndfileError(2, "Error writing file: ")  # SF_ERR_SYSTEM

    def write_result(result, output, provenance=None, **kwargs):
        from retake.core.atomic import atomic_group
        from retake.voice.io import output_paths

        with atomic_group(list(output_paths(output).values())) as tmps:
            sf.write(tmps[0], np.zeros(10), RATE)
        return {}

    monkeypatch.setattr(Editor, "load", load)
    monkeypatch.setattr(Editor, "edit", edit)
    monkeypatch.setattr(sf, "write", write)
    monkeypatch.setattr("retake.voice.write_result", write_result)
    return ["edit", "--consent", memo, "-t", TEXT, "--to", NEW, "-o", tmp / "out.wav"]


def test_a_full_disk_inside_an_atomic_write_leaves_nothing(tmp_path):
    from retake.core.atomic import atomic_group
    from retake.core.errors import RetakeError

    with pytest.raises(RetakeError, match="disk is full"), \
            atomic_group([tmp_path / "out.wav", tmp_path / "out.json"]):
        raise OSError(errno.ENOSPC, "No space left on device")
    assert not list(tmp_path.iterdir())


def test_os_errors_outside_atomic_writes_are_one_line(capsys, monkeypatch, tmp_path):
    """ENOSPC, EROFS and a nested-too-deep input reaching the CLI's handler directly; a
    RecursionError of Retake's own (a bug) stays an internal error."""
    from retake.ui import cli as entry

    for exc, word in [(OSError(errno.ENOSPC, "No space left on device", "x.wav"), "disk is full"),
                      (OSError(errno.EROFS, "Read-only file system", "x.wav"), "read-only"),
                      (None, "nested too deeply")]:
        def boom(*a, exc=exc, **k):
            if exc is None:  # a reader of ours without its own guard, fed a crafted file
                json.loads(DEEP)
            raise exc

        monkeypatch.setattr(entry, "read_transcript", boom)
        code, stderr, _ = cli("align", tmp_path / "a.wav", "x", "-o", tmp_path / "o",
                              capsys=capsys, monkeypatch=monkeypatch)
        assert word in one_line(code, stderr)

    def bug(*a, **k):
        def deeper(n):
            return deeper(n + 1)
        deeper(0)

    monkeypatch.setattr(entry, "read_transcript", bug)
    code, stderr, _ = cli("align", tmp_path / "a.wav", "x", "-o", tmp_path / "o",
                          capsys=capsys, monkeypatch=monkeypatch)
    assert code == 3 and "internal error: RecursionError" in stderr


# ---------------------------------------------------------------- leftovers

def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_a_rerun_after_kill_removes_stale_temporaries(tmp_path, capsys, monkeypatch):
    from retake.core import atomic

    dead = _dead_pid()
    stale = [tmp_path / f".out.wav.{dead}.ab12cd34.part.wav",
             tmp_path / f".out.json.{dead}.zz_99xy0.part.json",
             tmp_path / ".out.wav.k3j2h1g0.part.wav"]  # an older Retake's: no process id
    for p in stale:
        p.write_bytes(b"RIFF" + b"\0" * 1000)
    old = time.time() - 2 * atomic.LEGACY_AGE_S
    os.utime(stale[2], (old, old))
    mine = tmp_path / f".live.wav.{os.getpid()}.qwertyui.part.wav"  # a running writer's
    young = tmp_path / ".young.wav.abcdefgh.part.wav"  # no id, just made: may be running
    others = [tmp_path / ".notes.txt", tmp_path / "out.wav.part.wav", mine, young,
              tmp_path / f".x.wav.{dead}.short.part.wav"]
    for p in others:
        p.write_text("keep me")
    code, _, _ = cli("consent", "-o", tmp_path / "sentence.txt", capsys=capsys,
                     monkeypatch=monkeypatch)
    assert code == 0
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in others)
    left = sorted(p.name for p in tmp_path.iterdir() if ".part" in p.name)
    assert left == sorted(p.name for p in others if ".part" in p.name)


def test_a_real_kill_9_mid_write_is_cleaned_by_the_next_run(tmp_path, capsys, monkeypatch):
    import signal

    code = ("import sys, time\n"
            "from retake.core.atomic import atomic_group\n"
            "with atomic_group([sys.argv[1] + '/out.wav', sys.argv[1] + '/out.json']) as t:\n"
            "    open(t[0], 'wb').write(b'RIFF' * 1000)\n"
            "    print('writing', flush=True)\n"
            "    time.sleep(60)\n")
    p = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline().strip() == "writing"
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    left = [q.name for q in tmp_path.iterdir()]
    assert len(left) == 2 and all(f".{p.pid}." in n for n in left), left
    code, _, _ = cli("consent", "-o", tmp_path / "sentence.txt", capsys=capsys,
                     monkeypatch=monkeypatch)
    assert code == 0
    assert [q.name for q in tmp_path.iterdir()] == ["sentence.txt"]


def test_temporary_names_carry_the_process_id(tmp_path):
    from retake.core.atomic import atomic_group, stale_temporaries

    with atomic_group([tmp_path / "a.wav", tmp_path / "b.json"]) as tmps:
        names = [Path(t).name for t in tmps]
        assert all(f".{os.getpid()}." in n for n in names)
        assert stale_temporaries(tmp_path) == []  # this process runs: never stale
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav", "b.json"]


def test_a_failed_extract_leaves_no_faceset(tmp_path, capsys, monkeypatch):
    from retake.video.media import write_image

    images = tmp_path / "images"
    images.mkdir()
    write_image(images / "blank.png", np.full((64, 64, 3), 128, np.uint8))
    out = tmp_path / "fs"
    code, stderr, _ = cli("faces", "extract", images, "-o", out, capsys=capsys,
                          monkeypatch=monkeypatch)
    assert "no face" in one_line(code, stderr)
    assert not out.exists(), sorted(str(p) for p in out.rglob("*"))
