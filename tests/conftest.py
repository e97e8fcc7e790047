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


@pytest.fixture(autouse=True)
def _own_cache(tmp_path_factory, monkeypatch):
    """Every test gets an empty analysis cache of its own (never a folder an earlier run
    filled, where a later run might never align at all)."""
    monkeypatch.setenv("RETAKE_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("RETAKE_DATA", str(tmp_path_factory.mktemp("data")))


# Markers by module, so `make test-fast` can leave the slow ones out without a decorator on
# every test: browser tests drive the studio in Chromium; slow ones render video or train.
BROWSER = {"test_studio.py"}
SLOW = {"test_dub.py", "test_autoencoder.py", "test_lipsync.py", "test_detect.py",
        "test_long.py", "test_faceswap.py", "test_studio_jobs.py", "test_consent.py",
        "test_watermark.py", "test_profile.py", "test_provenance.py", "test_determinism.py",
        "test_agreement.py", "test_studio_privacy.py", "test_validation.py", "test_outputs.py",
        "test_coqui_safety.py"}
SLOW_TESTS = {"test_demo_runs_offline", "test_real_clip", "test_wheel_installs_only_retake",
              "test_words_missing_from_the_audio_are_listed", "test_noise_matches_no_words",
              "test_shared_bad_media_fails_cleanly", "test_outputs_disclose_and_chain"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        name = item.path.name
        if name in BROWSER:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)
        elif name in SLOW or item.originalname in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
        source = getattr(item.function, "__code__", None)
        if source is not None and any(n in source.co_names for n in ("MEDIA", "media")):
            item.add_marker(pytest.mark.media)
