"""Long recordings are processed block by block (memory flat in length, issue 18): each
blockwise path must give what one pass over the whole signal gives."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from retake.align import chunks, fit
from retake.align.audio import clipped_runs
from retake.core.cache import content_key
from retake.voice.render import concatenate


def _speechy(seconds: float, sr: int = 16000, seed: int = 0) -> np.ndarray:
    """Noise bursts and tones with pauses: enough structure for filters and frames."""
    rng = np.random.default_rng(seed)
    x = np.zeros(int(seconds * sr), np.float32)
    t = 0
    while t < len(x):
        n = int(rng.uniform(0.1, 0.6) * sr)
        f = rng.uniform(100, 3000)
        seg = 0.3 * np.sin(2 * np.pi * f * np.arange(n) / sr) + 0.05 * rng.standard_normal(n)
        x[t:t + n] = seg[:len(x) - t]
        t += n + int(rng.uniform(0.05, 0.4) * sr)
    return x


def test_band_pass_in_blocks_equals_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    x = _speechy(40)
    whole = fit.band_pass(x, 300.0, 3400.0, 16000)
    monkeypatch.setattr(fit, "BAND_BLOCK", 50_000)
    monkeypatch.setattr(fit, "BAND_OVERLAP", 8192)
    blocks = fit.band_pass(x, 300.0, 3400.0, 16000)
    assert np.max(np.abs(whole - blocks)) < 1e-6
    ref, got = chunks.frame_energy_db(whole), fit.speech_band_db(x)
    assert ref.shape == got.shape
    assert np.max(np.abs(ref - got)[ref > -90]) < 0.05  # dB


def test_frame_energy_in_blocks_equals_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    x = _speechy(30, seed=1)
    whole = chunks.frame_energy_db(x)
    monkeypatch.setattr(chunks, "ENERGY_BLOCK", 333)
    assert np.max(np.abs(whole - chunks.frame_energy_db(x))) < 1e-6
    assert len(chunks.frame_energy_db(x[:300])) == 1  # shorter than one window


def test_clipped_runs_counts_across_blocks() -> None:
    x = np.zeros(100_000, np.float32)
    x[10:15] = 1.0  # a run of 5
    x[49_998:50_003] = -1.0  # a run of 5 across a block edge
    x[70_000:70_002] = 1.0  # 2 samples: a loud sample, not clipping
    assert clipped_runs(x, block=50_000) == 2
    assert clipped_runs(x) == 2


def test_content_key_hashes_without_copying_the_same_bytes() -> None:
    x = np.random.default_rng(0).standard_normal(3_000_001).astype(np.float32)
    h = hashlib.sha256(x.tobytes())
    h.update(json.dumps([16000, "v"], sort_keys=True, default=str).encode())
    assert content_key(x, 16000, "v") == h.hexdigest()[:32]  # the same keys as before


def test_concatenate_allocates_once_with_the_same_crossfades() -> None:
    rng = np.random.default_rng(2)
    pieces = [rng.standard_normal(n).astype(np.float32) for n in (1000, 30, 500, 2000)]
    fades = [0.01, 0.5, 0.002]
    out = concatenate(pieces, 8000, fades=fades)
    ref = pieces[0].copy()  # the old way: join one by one
    for k, p in enumerate(pieces[1:]):
        m = min(max(1, int(fades[k] * 8000)), len(ref), len(p))
        t = np.linspace(0, np.pi / 2, m, dtype=np.float32)
        ref[-m:] = ref[-m:] * np.cos(t) + p[:m] * np.sin(t)
        ref = np.concatenate([ref, p[m:]])
    assert out.shape == ref.shape and np.allclose(out, ref, atol=1e-6)


def test_watermark_found_the_same_in_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """A long file is searched in overlapping pieces: marks inside one piece, across a
    piece's edge and spanning pieces are found where a whole-file search finds them."""
    from retake.awareness import watermark as wm

    sr = 16000
    x = _speechy(75, sr, seed=3)
    payload = wm.Payload(wm.version_code("0.1.0"), 4242)
    for a, b in ((4.0, 6.5), (19.0, 22.0), (40.0, 58.0)):
        x = wm.embed(x, sr, payload, a, b)
    monkeypatch.setattr(wm, "PIECE_S", 20.0)
    pieces = wm.detect(x, sr)
    monkeypatch.setattr(wm, "PIECE_S", 1e9)
    whole = wm.detect(x, sr)
    assert [d.payload for d in pieces] == [d.payload for d in whole] == [payload] * 3
    for p, w, (a, b) in zip(pieces, whole, ((4.0, 6.5), (19.0, 22.0), (40.0, 58.0)),
                            strict=True):
        assert abs(p.start - w.start) < 0.5 and abs(p.end - w.end) < 0.5
        assert abs(p.start - a) < 0.5 and abs(p.end - b) < 0.5


def test_pitch_in_blocks_agrees_with_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """Praat's tracker sees a long recording in blocks with context and the whole file's
    peak: voicing and F0 agree with one pass on nearly every frame."""
    from retake.voice import analysis

    sr = 16000
    t = np.arange(int(12 * sr)) / sr
    f = 120 + 30 * np.sin(2 * np.pi * 0.3 * t)
    x = (0.3 * np.sin(2 * np.pi * np.cumsum(f) / sr) * (np.sin(2 * np.pi * 0.7 * t) > -0.3))
    x = x.astype(np.float32) + 0.003 * np.random.default_rng(4).standard_normal(len(t)).astype(
        np.float32)
    n = len(t) // 160
    whole = analysis.pitch_track(x, sr, n)
    monkeypatch.setattr(analysis, "PITCH_BLOCK_S", 2.5)
    blocks = analysis.pitch_track(x, sr, n)
    both = (whole > 0) & (blocks > 0)
    assert np.mean((whole > 0) == (blocks > 0)) > 0.98
    assert np.median(np.abs(whole[both] - blocks[both]) / whole[both]) < 0.01


def test_a_face_video_plays_back_and_forth_without_being_held(tmp_path) -> None:
    """Lip-sync under a longer speech track plays the picture forward, backward, forward:
    the backward passes are decoded in pieces from keyframes (a small budget forces many
    pieces and seeks), frame for frame what holding the whole video gave."""
    from retake.video import media
    from retake.video.lipsync import ping_pong

    path = tmp_path / "count.mp4"
    rng = np.random.default_rng(5)
    with media.VideoWriter(path, 25, 64, 48, crf=0, preset="ultrafast") as w:
        for k in range(37):
            rgb = np.full((48, 64, 3), (k * 7) % 256, np.uint8)
            rgb[:8, :8] = rng.integers(0, 255, (8, 8, 3))
            w.write(rgb, k / 25)
    frames = list(media.read_frames(path))
    back = list(media.read_frames_backward(path, 30, 3, budget_bytes=64 * 48 * 3 * 8))
    assert [f.index for f in back] == list(range(29, 2, -1))
    assert all(np.array_equal(f.rgb, frames[f.index].rgb) for f in back)
    n = len(frames)
    got = list(ping_pong(path, 3 * n))
    period = 2 * n - 2
    want = [k % period if k % period < n else period - k % period for k in range(3 * n)]
    assert [f.index for f in got] == want


def test_a_padded_stretch_joins_like_its_array() -> None:
    """A long kept stretch at the recording's start is padded without being copied: the
    join gives what joining the padded array gives."""
    from retake.voice.render import Padded

    rng = np.random.default_rng(6)
    core = rng.standard_normal(200_000).astype(np.float32)
    padded = Padded(300, core, 500)
    whole = np.asarray(padded)
    assert len(padded) == len(whole)
    for sl in (slice(0, 100), slice(250, 400), slice(len(whole) - 700, None)):
        assert np.array_equal(padded[sl], whole[sl])
    other = rng.standard_normal(5000).astype(np.float32)
    assert np.array_equal(concatenate([padded, other, padded], 16000, fades=[0.01, 0.02]),
                          concatenate([whole, other, whole], 16000, fades=[0.01, 0.02]))


def test_splice_features_in_blocks_equal_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    from retake.awareness import forensics

    x = _speechy(20, 16000, seed=7)
    monkeypatch.setattr(forensics, "FEATURE_BLOCK", 10**9)
    whole = forensics.features(x, 16000)
    monkeypatch.setattr(forensics, "FEATURE_BLOCK", 700)
    blocks = forensics.features(x, 16000)
    for a, b in zip(whole, blocks, strict=True):
        assert a.shape == b.shape and np.max(np.abs(a - b)) < 1e-3


def _mfcc_one_pass(samples: np.ndarray, sample_rate: int, n: int) -> np.ndarray:
    """The MFCCs as computed before they went block by block (the whole padded signal)."""
    from scipy.fft import dct

    from retake.voice.analysis import HOP_S, _mel_filters, on_grid

    hop = int(sample_rate * HOP_S)
    n_fft = int(2 ** np.ceil(np.log2(0.025 * sample_rate)))
    win = int(0.025 * sample_rate)
    window = np.zeros(n_fft)
    start = (n_fft - win) // 2
    window[start:start + win] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)
    x = np.pad(np.asarray(samples, np.float32), n_fft // 2)
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]
    filters = _mel_filters(sample_rate, n_fft, 40, 60.0, float(min(7600, sample_rate // 2))).T
    mel = np.empty((len(frames), filters.shape[1]))
    for a in range(0, len(frames), 8192):
        power = np.abs(np.fft.rfft(frames[a:a + 8192] * window, axis=1)) ** 2
        mel[a:a + 8192] = power @ filters
    db = 10 * np.log10(np.maximum(mel, 1e-10))
    db = np.maximum(db, db.max() - 80.0)
    return on_grid(dct(db, type=2, axis=1, norm="ortho")[:, :13], hop, sample_rate, n)


@pytest.mark.parametrize("seconds", [0.005, 1.3, 200.0])
def test_mfcc_in_blocks_equal_one_pass_exactly(seconds: float) -> None:
    """No padded copy of the recording, dB in place, DCT block by block: the same numbers
    to the bit (the features are cached and edits must not change)."""
    from retake.voice.analysis import mfcc_frames

    x = _speechy(seconds, 22050, seed=8)
    n = max(1, int(len(x) / 22050 / 0.01))
    assert np.array_equal(mfcc_frames(x, 22050, n), _mfcc_one_pass(x, 22050, n))
    x16 = _speechy(seconds, 16000, seed=9).astype(np.float64)
    assert np.array_equal(mfcc_frames(x16, 16000), _mfcc_one_pass(x16, 16000,
                                                                 max(1, int(seconds / 0.01))))


def test_energy_of_a_zero_padded_view_equals_the_padded_copy() -> None:
    from retake.voice.analysis import ZeroPadded

    for dtype in (np.float32, np.float64):
        x = _speechy(50, 22050, seed=10).astype(dtype)
        view = ZeroPadded(x, 0, 220 * 3)
        padded = np.pad(x, (0, 220 * 3))
        assert len(view) == len(padded) and view[5:9].dtype == padded.dtype
        for sl in (slice(0, 10), slice(len(x) - 5, len(x) + 700), slice(len(padded), None)):
            assert np.array_equal(view[sl], padded[sl])
        assert np.array_equal(chunks.frame_energy_db(view, hop=220, win=440),
                              chunks.frame_energy_db(padded, hop=220, win=440))


def test_a_join_read_in_stretches_equals_the_concatenation() -> None:
    """The edit's audio is never built whole (voice.joined): any stretch of it, read in
    blocks or all at once, is what `concatenate` gives, to the bit; written stretches (the
    watermark) read back as written, later writes over earlier ones."""
    from retake.voice.joined import Joined
    from retake.voice.render import Padded

    rng = np.random.default_rng(11)
    core = rng.standard_normal(30_000).astype(np.float32)
    pieces = [Padded(200, core, 0), rng.standard_normal(40),  # float64, shorter than a fade
              rng.standard_normal(700).astype(np.float32), core[5000:9000],
              Padded(0, core[:20_000], 333)]
    fades = [0.01, 0.02, 0.005, 0.03]
    whole = concatenate(pieces, 8000, fades=fades)
    joined = Joined(pieces, 8000, fades=fades)
    assert len(joined) == len(whole) and np.array_equal(np.asarray(joined), whole)
    for block in (1, 97, 4096):
        got = np.concatenate([joined[a:a + block] for a in range(0, len(joined), block)])
        assert np.array_equal(got, whole)
    cut = joined.crop(slice(66, 66 + 50_000))  # past the end: clamped as numpy clamps
    ref = whole[66:66 + 50_000]
    assert len(cut) == len(ref) and np.array_equal(cut[:], ref)
    assert np.array_equal(cut[len(ref) - 10:len(ref) + 10], ref[-10:])
    assert cut[300:200].shape == (0,)
    arr = ref.copy()
    for a, b in ((100, 900), (700, 1500), (len(ref) - 40, len(ref))):
        mark = arr[a:b] * 0.5 + 0.25
        arr[a:b] = mark
        cut[a:b] = cut[a:b] * 0.5 + 0.25
    assert np.array_equal(np.asarray(cut), arr)
    assert np.array_equal(cut[650:1600], arr[650:1600])


@pytest.mark.parametrize(("n", "rate"), [(0, 22050), (1000, 44100), (3 * 4096, 22050),
                                         (200_001, 22050), (50_000, 16000)])
def test_resampling_in_blocks_equals_one_pass_exactly(n: int, rate: int) -> None:
    """The transcript check streams the recording at 16 kHz (never held whole): the same
    samples and the same cache key as resampling it in one call."""
    from retake.align.audio import resample, resampled_blocks
    from retake.core.cache import blocks_key

    x = _speechy(n / rate, rate, seed=12)[:n]
    whole = resample(x, rate, 16000)
    blocks = list(resampled_blocks(x, rate, 16000, block=4096))
    got = np.concatenate(blocks) if blocks else np.zeros(0, np.float32)
    assert got.dtype == np.float32 and np.array_equal(got, whole)
    assert blocks_key(iter(blocks), "t", 1) == content_key(whole, "t", 1)


def test_stretches_cut_from_blocks_equal_slices() -> None:
    from retake.align.agreement import _cut

    x = np.arange(10_000, dtype=np.float32)
    spans = [(0, 150), (1000, 1000), (4000, 7777), (9990, 12_000)]
    blocks = (x[a:a + 333] for a in range(0, len(x), 333))
    for got, (a, b) in zip(_cut(blocks, spans), spans, strict=True):
        assert np.array_equal(got, x[a:b])


def test_large_freed_blocks_are_given_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI fixes glibc's mmap threshold (core.allocator); a user's own MALLOC_* wins."""
    import sys

    from retake.core.allocator import give_back_large_blocks

    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    assert give_back_large_blocks() is False
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_")
    if sys.platform.startswith("linux"):
        import platform

        assert give_back_large_blocks() is (platform.libc_ver()[0] == "glibc")


def test_long_audio_is_transcribed_in_pieces_like_one_pass():
    """Whisper on a long recording goes in pieces cut at pauses (its spectrogram of a whole
    hour would be ~2.4 GB): the words and their times agree with one pass."""
    import difflib

    from conftest import media

    from retake.align.audio import ALIGN_RATE, load_audio, resample
    from retake.align.whisper import WhisperTranscriber

    sound = load_audio(media("speech", "mfa", "acoustic_corpus.wav"))  # 26 s
    x = resample(sound.samples, sound.sample_rate, ALIGN_RATE)
    ear = WhisperTranscriber()
    whole = ear.recognize(x, piece=1e9, longest=1e9)
    pieces = ear.recognize(x, piece=8.0, longest=10.0)
    a = [w.text.lower().strip(".,?!") for w in whole]
    b = [w.text.lower().strip(".,?!") for w in pieces]
    match = difflib.SequenceMatcher(None, a, b)
    assert match.ratio() >= 0.85, (a, b)
    starts = [w.start for w in pieces]
    assert starts == sorted(starts) and starts[0] >= 0 and pieces[-1].end <= len(x) / ALIGN_RATE
    # the same words at the same times (within 0.3 s) in both
    gaps = [abs(whole[i + k].start - pieces[j + k].start)
            for i, j, n in match.get_matching_blocks() for k in range(n)]
    assert np.mean(np.array(gaps) < 0.3) >= 0.9, gaps
