"""The registry of alignment engines: one small interface, engines chosen by name.

Each entry says what the engine needs, where its weights come from and their licence, and
can tell whether it runs on this machine now. Later stages (voice, video) keep their own
registries in the same shape; `ui.cli engines` lists them all.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

from retake.core.errors import EngineUnavailable


@dataclass(frozen=True)
class EngineSpec:
    """What a user needs to know before choosing an engine."""

    stage: str
    name: str
    summary: str
    needs: str
    weights: str
    license: str
    default: bool = False
    probe: Callable[[], str | None] = lambda: None  # None: runs here now; else what is missing


def _module_missing(*names: str) -> str | None:
    missing = [n for n in names if importlib.util.find_spec(n) is None]
    return f"Python package(s) not installed: {', '.join(missing)}" if missing else None


ALIGN_ENGINES: tuple[EngineSpec, ...] = (
    EngineSpec(
        stage="align",
        name="pocketsphinx",
        summary="HMM forced alignment, words and phones; English; CPU, offline",
        needs="nothing beyond the pip install",
        weights="CMU Sphinx en-US acoustic model and CMU dictionary, inside the pocketsphinx wheel",
        license="BSD-2-Clause (model and code)",
        default=True,
        probe=lambda: _module_missing("pocketsphinx"),
    ),
)

TRANSCRIBE_ENGINES: tuple[EngineSpec, ...] = (
    EngineSpec(
        stage="transcribe",
        name="pocketsphinx",
        summary="draft transcript from open recognition with the bundled language model",
        needs="nothing beyond the pip install",
        weights="CMU Sphinx en-US acoustic and language models, inside the pocketsphinx wheel",
        license="BSD-2-Clause",
        default=True,
        probe=lambda: _module_missing("pocketsphinx"),
    ),
)


def get_aligner(name: str = "pocketsphinx", language: str = "en"):
    """Build the alignment engine called `name` for `language`."""
    known = {e.name: e for e in ALIGN_ENGINES}
    if name not in known:
        raise EngineUnavailable(
            f"no alignment engine {name!r}; choose one of: {', '.join(sorted(known))}"
        )
    missing = known[name].probe()
    if missing:
        raise EngineUnavailable(f"the {name} engine cannot run here: {missing}")
    from retake.align.sphinx import SphinxEngine

    return SphinxEngine(language)
