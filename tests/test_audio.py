"""Decoding: every common format, any rate, stereo; clear errors for bad files."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from conftest import MEDIA
from media_tools import encode_audio

from retake.align.audio import load_audio
from retake.core.errors import AudioError


@pytest.fixture(scope="module")
def tone():
    sr = 22050
    t = np.arange(int(1.5 * sr)) / sr
    x = (0.4 * np.sin(2 * np.pi * 220 * t) * np.minimum(1, t * 4)).astype(np.float32)
    return x, sr


def _similar(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    # allow for codec delay: best correlation over small lags
    best = 0.0
    for lag in range(0, 3000, 50):
        x, y = a[lag:n], b[: n - lag]
        c = float(np.dot(x, y) / (np.linalg.norm(x) * np.linalg.norm(y) + 1e-9))
        best = max(best, c)
        x, y = a[: n - lag], b[lag:n]
        best = max(best, float(np.dot(x, y) / (np.linalg.norm(x) * np.linalg.norm(y) + 1e-9)))
    return best


@pytest.mark.parametrize(
    ("name", "codec", "channels", "rate"),
    [
        ("a.wav", "pcm_s16le", 2, 44100),
        ("a.flac", "flac", 1, 48000),
        ("a.mp3", "libmp3lame", 2, 44100),
        ("a.ogg", "libopus", 1, 48000),
        ("a.m4a", "aac", 2, 32000),
        ("a.mp4", "aac", 1, 48000),
    ],
)
def test_formats_rates_and_channels_decode_to_mono(tmp_path, tone, name, codec, channels, rate):
    x, sr = tone
    path = encode_audio(tmp_path / name, x, sr, codec, channels=channels, out_rate=rate,
                        video=name.endswith(".mp4"))
    audio = load_audio(path, 16000)
    assert audio.sample_rate == 16000
    assert audio.samples.ndim == 1 and audio.samples.dtype == np.float32
    assert abs(audio.duration - 1.5) < 0.1
    ref = load_audio(encode_audio(tmp_path / "ref.wav", x, sr, "pcm_s16le"), 16000).samples
    assert _similar(ref, audio.samples) > 0.95


def test_native_rate_is_kept_without_a_target(tmp_path, tone):
    x, sr = tone
    sf.write(tmp_path / "n.wav", x, sr)
    audio = load_audio(tmp_path / "n.wav")
    assert audio.sample_rate == sr and len(audio.samples) == len(x)


def test_input_file_is_not_modified(tmp_path, tone):
    x, sr = tone
    path = tmp_path / "in.wav"
    sf.write(path, x, sr)
    before = path.read_bytes()
    load_audio(path, 16000)
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (bytes(range(256)) * 40, "not a readable audio"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "not a readable audio|no audio stream"),
    ],
)
def test_bad_bytes_give_one_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioError, match=message):
        load_audio(path)


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        load_audio(tmp_path / "nope.wav")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("empty.wav", "empty"),
        ("garbage.wav", "not a readable"),
        ("image_named.mp3", "no audio stream"),
        ("video_no_audio.mp4", "no audio stream"),
        ("truncated.mp4", "not a readable"),
    ],
)
def test_shared_bad_media(name, message):
    path = MEDIA / "bad" / name
    if not path.exists():
        pytest.skip("shared media not available")
    with pytest.raises(AudioError, match=message):
        load_audio(path)


def test_damaged_packets_are_skipped_with_a_warning():
    path = MEDIA / "bad" / "corrupt_middle.mp4"
    if not path.exists():
        pytest.skip("shared media not available")
    audio = load_audio(path, 16000)
    assert audio.warnings and "damaged" in audio.warnings[0]
    assert 4.5 < audio.duration < 5.5  # gaps are filled, so timing after the damage holds


def test_clipping_and_a_low_rate_are_warned(tmp_path) -> None:
    """A recording flattened at full scale, or made at telephone rate, says so on load."""
    import numpy as np
    import soundfile as sf

    from retake.align.audio import load_audio

    t = np.arange(16000) / 16000
    loud = np.clip(1.6 * np.sin(2 * np.pi * 220 * t), -1, 1).astype(np.float32)
    sf.write(tmp_path / "loud.wav", loud, 16000)
    sf.write(tmp_path / "calm.wav", 0.5 * loud, 16000)
    sf.write(tmp_path / "phone.wav", 0.5 * loud[::2], 8000)
    assert any("clipped" in w for w in load_audio(tmp_path / "loud.wav").warnings)
    assert not load_audio(tmp_path / "calm.wav").warnings
    assert any("8000 Hz" in w for w in load_audio(tmp_path / "phone.wav").warnings)
