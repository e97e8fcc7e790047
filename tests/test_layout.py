"""The house rules: one namespace, rooms in layers, no cycles, nothing shadows Retake.

The layers (ARCHITECTURE.md): core -> align -> awareness marks -> voice -> video ->
awareness checks -> ui -> the façade. A module may import from its own layer and the ones
below it, never above, whether at the top of the file or inside a function.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROOMS = {"core": "core", "align": "align", "awareness": "awareness", "voice": "voice",
         "video": "video", "ui": "ui", "retake": "retake"}
MARKS = {"watermark", "provenance", "consent", "speaker"}
CHECKS = {"forensics", "lipclosure", "detect"}


def layer(module: str) -> int:
    """The layer of a dotted module name under `retake` (higher may import lower)."""
    parts = module.split(".")
    room = parts[1] if len(parts) > 1 else ""
    if room == "awareness":
        leaf = parts[2] if len(parts) > 2 else ""
        return 5 if leaf in CHECKS else 2
    return {"core": 0, "version": 0, "align": 1, "voice": 3, "video": 4, "ui": 6}.get(room, 7)


def modules() -> dict[str, Path]:
    """Every module of the package, by its dotted name."""
    found = {}
    for room, folder in ROOMS.items():
        for path in sorted((ROOT / folder).glob("*.py")):
            prefix = "retake" if room == "retake" else f"retake.{room}"
            name = prefix if path.stem == "__init__" else f"{prefix}.{path.stem}"
            found[name] = path
    return found


def imports(path: Path, name: str, top_only: bool) -> set[str]:
    """The retake modules `path` imports (all of them, or only at module level)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_only else list(ast.walk(tree))
    out = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("retake"))
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.level:
                raise AssertionError(f"{path}: use absolute `retake.` imports")
            if node.module.startswith("retake"):
                out.add(node.module)
                out.update(f"{node.module}.{a.name}" for a in node.names)
    known = modules()
    return {m for m in out if m in known and m != name}


def test_no_upward_import() -> None:
    bad = []
    for name, path in modules().items():
        for dep in imports(path, name, top_only=False):
            if layer(dep) > layer(name) and name != "retake":
                bad.append(f"{name} (layer {layer(name)}) imports {dep} (layer {layer(dep)})")
    assert not bad, "\n".join(bad)


def test_no_import_cycle() -> None:
    graph = {n: imports(p, n, top_only=True) for n, p in modules().items()}
    done: set[str] = set()

    def visit(node: str, stack: list[str]) -> None:
        if node in stack:
            raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(node):]
                                                                + [node]))
        if node in done:
            return
        for dep in graph.get(node, ()):
            if not (node.startswith(dep + ".") or dep == "retake"):
                visit(dep, [*stack, node])
        done.add(node)

    for n in graph:
        visit(n, [])


def test_own_files_do_not_shadow_retake(tmp_path: Path) -> None:
    """A user's ui.py, video.py, align.py beside their script must not break Retake."""
    for name in ("ui", "video", "align", "voice", "core"):
        (tmp_path / f"{name}.py").write_text("raise SystemExit('the user file was imported')\n")
    code = ("import retake, retake.ui.cli, retake.video.swap, retake.voice, retake.align; "
            "print(retake.__version__)")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip()


def test_python_m_retake_version() -> None:
    r = subprocess.run([sys.executable, "-m", "retake", "--version"], capture_output=True,
                       text=True, timeout=120)
    from retake import __version__

    assert r.returncode == 0, r.stderr
    assert __version__ in r.stdout


@pytest.mark.slow
def test_wheel_installs_only_retake(tmp_path: Path) -> None:
    """The built wheel's top level holds `retake` and nothing else."""
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                        "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    (wheel,) = tmp_path.glob("retake-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        top = {n.split("/")[0] for n in names}
        top_level = next(n for n in names if n.endswith("top_level.txt"))
        assert zf.read(top_level).decode().split() == ["retake"]
    assert {t for t in top if not t.endswith((".dist-info", ".data"))} == {"retake"}
    for room in ("core", "align", "awareness", "voice", "video", "ui"):
        assert f"retake/{room}/__init__.py" in names


def test_readme_python_example_runs(tmp_path: Path, monkeypatch) -> None:
    """The README's Python example runs as written, on a memo.wav made here."""
    import re

    from retake.align.audio import write_wav
    from retake.align.espeak import synthesize

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    code = re.search(r"## From Python.*?```python\n(.*?)```", readme, re.S).group(1)
    synth = synthesize("Meet me at noon on Friday and bring the blue folder.", rate_wpm=140)
    write_wav(tmp_path / "memo.wav", synth.audio, synth.sample_rate)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})  # noqa: S102 - our own README
    assert (tmp_path / "memo-edited.wav").is_file()
    assert (tmp_path / "memo-edited.report.json").is_file()
