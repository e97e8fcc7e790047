"""The analysis cache: damaged entries are rebuilt, the folder stays under its cap, and
`retake cache` reports and clears only what Retake wrote."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from retake.core import cache

ROOT = Path(__file__).resolve().parents[1]


def test_a_damaged_entry_is_discarded_and_rebuilt(tmp_path, speech):
    from retake.align import Audio, align

    s, _ = speech("The quick brown fox jumps over the lazy dog.")
    audio = Audio(s.audio, s.sample_rate)
    text = "The quick brown fox jumps over the lazy dog."
    first = align(audio, text, cache_dir=tmp_path)
    (entry,) = cache.entries(tmp_path)
    entry.write_text(entry.read_text()[:40])  # truncated, as after a crash
    again = align(audio, text, cache_dir=tmp_path)  # no JSONDecodeError: rebuilt
    assert [w.text for w in again.words] == [w.text for w in first.words]
    assert abs(again.words[2].start - first.words[2].start) < 1e-6
    assert cache.load(tmp_path, "align", entry.stem, parse=lambda t: t) is not None


def test_a_cached_alignment_is_the_fresh_one(tmp_path, speech):
    """The first run goes on from exactly what a cached run reads back (the cache keeps
    4 decimals): a cold and a warm edit wrote different reports before."""
    from retake.align import Audio, align

    text = "Six spoons of fresh snow peas."
    s, _ = speech(text)
    audio = Audio(s.audio, s.sample_rate)
    fresh = align(audio, text, cache_dir=tmp_path)
    cached = align(audio, text, cache_dir=tmp_path)
    assert fresh == cached
    assert all(round(w.confidence, 4) == w.confidence for w in fresh.words)


def test_least_recently_used_entries_are_evicted(tmp_path):
    keys = [cache.content_key(np.full(10, i, np.float32)) for i in range(5)]
    for i, k in enumerate(keys):
        cache.store(tmp_path, "align", k, "x" * 1000)
        os.utime(tmp_path / "align" / f"{k}.json", (1000 + i, 1000 + i))
    assert cache.load(tmp_path, "align", keys[0]) is not None  # used now: kept
    (tmp_path / "align" / "mine.txt").write_text("not Retake's")
    assert cache.prune(tmp_path, 2500) == 3
    left = {p.stem for p in cache.entries(tmp_path)}
    assert left == {keys[0], keys[4]}
    assert (tmp_path / "align" / "mine.txt").exists()


def test_size_cap_from_the_environment(monkeypatch):
    monkeypatch.setenv("RETAKE_CACHE_MAX", "500M")
    assert cache.max_bytes() == 500 * 1024**2
    monkeypatch.setenv("RETAKE_CACHE_MAX", "nonsense")
    assert cache.max_bytes() == cache.DEFAULT_MAX


def test_cli_cache_info_and_clear(tmp_path):
    folder = tmp_path / "cache"
    cache.store(folder, "tracks", cache.content_key(np.zeros(3, np.float32)), "[]")
    (folder / "keep.txt").write_text("user file")
    env = {**os.environ, "RETAKE_CACHE": str(folder)}

    def run(*args):
        return subprocess.run([sys.executable, "-m", "retake", *args], capture_output=True,
                              text=True, cwd=ROOT, env=env, timeout=120)

    r = run("cache", "info", "--json")
    assert r.returncode == 0, r.stderr
    assert '"entries": 1' in r.stdout and "tracks" in r.stdout
    r = run("cache", "clear")
    assert r.returncode == 0, r.stderr
    assert not cache.entries(folder) and (folder / "keep.txt").exists()


def test_arrays_round_trip_and_a_damaged_one_is_dropped(tmp_path):
    key = cache.content_key(np.ones(4, np.float32))
    cache.store_arrays(tmp_path, "features", key, f0=np.arange(3.0), mfcc=np.zeros((2, 13)))
    got = cache.load_arrays(tmp_path, "features", key)
    assert got is not None and np.array_equal(got["f0"], np.arange(3.0))
    (entry,) = [p for p in cache.entries(tmp_path) if p.suffix == ".npz"]
    entry.write_bytes(entry.read_bytes()[:30])
    assert cache.load_arrays(tmp_path, "features", key) is None and not entry.exists()


def test_face_tracks_cold_equal_cached_and_a_damaged_entry_is_rebuilt(tmp_path):
    """A video tracked now and the same read back from the cache give the same landmarks
    (the cache's 1/100 px rounding applies to both), kept as arrays, not JSON lists; a
    damaged entry is tracked again, never fatal."""
    from conftest import media

    from retake.video.faces import FaceModels
    from retake.video.track import load_tracks

    clip = media("video", "retalking_1.mp4")
    models = FaceModels()
    cold = load_tracks(clip, models, cache_dir=tmp_path)
    [entry] = list((tmp_path / "tracks").glob("*.npz"))
    warm = load_tracks(clip, models, cache_dir=tmp_path)
    assert len(cold) == len(warm) >= 1
    for a, b in zip(cold, warm, strict=True):
        assert a.frames == b.frames and a.times == b.times
        assert all(np.array_equal(x, y) for x, y in zip(a.landmarks, b.landmarks, strict=True))
        assert all(np.array_equal(x, y) for x, y in zip(a.raw, b.raw, strict=True))
        assert sorted(a.embeddings) == sorted(b.embeddings)
    entry.write_bytes(b"PK\x03\x04 not a zip")
    again = load_tracks(clip, models, cache_dir=tmp_path)
    assert [t.frames for t in again] == [t.frames for t in cold]
