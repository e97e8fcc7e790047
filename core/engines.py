"""Engine registries: one small record per engine, chosen by name, and built through it.

Each room keeps a tuple of `EngineSpec` for its stage (align: aligner and transcriber,
voice, video: faces and swap). A spec says what a user needs to know before choosing: what
the engine needs, where its weights come from, their licence, the exact weight files with
their SHA-256 and the version of the package that ships them, and how to build it.
`retake engines` prints them all; `verify_weights` checks the files on this machine.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from retake.core.errors import EngineUnavailable


@dataclass(frozen=True)
class WeightFile:
    """One weight file inside a pip package: the import name, the path in it, its SHA-256."""

    package: str
    path: str
    sha256: str

    def locate(self) -> Path | None:
        """Where the file is on this machine, or None when its package is not installed."""
        spec = importlib.util.find_spec(self.package)
        if spec is None or spec.origin is None:
            return None
        return Path(spec.origin).parent / self.path


@dataclass(frozen=True)
class EngineSpec:
    """What a user needs to know before choosing an engine, and how to build it.

    `distribution` is the pip distribution whose version is reported (the one that ships the
    weights, or the engine's library). `build(**options)` constructs the engine; `probe()`
    returns None when it can run here now, else what is missing.
    """

    stage: str
    name: str
    summary: str
    needs: str
    weights: str
    license: str
    default: bool = False
    probe: Callable[[], str | None] = lambda: None
    build: Callable[..., object] | None = None
    distribution: str = ""
    files: tuple[WeightFile, ...] = field(default_factory=tuple)

    def version(self) -> str:
        """The installed version of `distribution`, or "not installed"."""
        if not self.distribution:
            return "n/a"
        try:
            return metadata.version(self.distribution)
        except metadata.PackageNotFoundError:
            return "not installed"

    def to_dict(self) -> dict:
        """JSON-ready description (what `retake engines --json` prints)."""
        return {"stage": self.stage, "name": self.name, "default": self.default,
                "summary": self.summary, "needs": self.needs, "weights": self.weights,
                "license": self.license, "distribution": self.distribution,
                "version": self.version(), "missing": self.probe(),
                "files": [{"package": f.package, "path": f.path, "sha256": f.sha256}
                          for f in self.files]}


def module_missing(*names: str) -> str | None:
    """None when every module can be imported, else which Python packages are missing."""
    missing = [n for n in names if importlib.util.find_spec(n) is None]
    return f"Python package(s) not installed: {', '.join(missing)}" if missing else None


def find(specs: Sequence[EngineSpec], name: str, what: str) -> EngineSpec:
    """The spec called `name` (or a prefix form like `coqui:PATH` for `coqui:<model>`)."""
    for spec in specs:
        if spec.name == name or (spec.name.endswith(":<model>")
                                 and name.startswith(spec.name.split(":")[0] + ":")):
            return spec
    choices = ", ".join(s.name for s in specs)
    raise EngineUnavailable(f"no {what} engine {name!r}; choose one of: {choices} "
                            "(see `retake engines`)")


def default(specs: Sequence[EngineSpec]) -> EngineSpec:
    """The default engine of a registry."""
    return next(s for s in specs if s.default)


def build(specs: Sequence[EngineSpec], name: str, what: str, **options) -> object:
    """Build the engine `name` of a registry, or say clearly why it cannot run here."""
    spec = find(specs, name, what)
    missing = spec.probe()
    if missing:
        raise EngineUnavailable(f"the {spec.name} {what} engine cannot run here: {missing}")
    if spec.build is None:
        raise EngineUnavailable(f"the {spec.name} {what} engine is listed but cannot be built")
    return spec.build(name=name, **options)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def verify_weights(spec: EngineSpec) -> list[str]:
    """Problems with the spec's weight files on this machine (missing or changed); []: ok."""
    problems = []
    for f in spec.files:
        path = f.locate()
        if path is None or not path.is_file():
            problems.append(f"{f.package}/{f.path}: not installed")
        elif sha256_file(path) != f.sha256:
            problems.append(f"{f.package}/{f.path}: SHA-256 differs from the registry's")
    return problems
