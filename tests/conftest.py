"""Shared fixtures: generated speech with known timings, and the shared media when present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT.parent / "shared" / "media"


def media(*parts: str) -> Path:
    """A file under ../shared/media, or skip the test when it is absent."""
    path = MEDIA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared media not available: {path}")
    return path


@pytest.fixture(scope="session")
def speech():
    """A factory: espeak-ng speech of a text, with the per-word start times espeak reports."""
    from retake.align.espeak import synthesize
    from retake.ui.demo import reference_word_starts

    def make(text: str, rate_wpm: int = 165, pitch: int = 50):
        synth = synthesize(text, rate_wpm=rate_wpm, pitch=pitch)
        return synth, reference_word_starts(synth, text)

    return make


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item (fixtures use it to save screenshots)."""
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep


@pytest.fixture(autouse=True, scope="session")
def _local_signing_keys(tmp_path_factory):
    """Sign test outputs with keys made for this test run, not the user's own."""
    import os

    os.environ.setdefault("RETAKE_KEYS", str(tmp_path_factory.mktemp("keys")))
