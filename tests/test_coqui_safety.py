"""A coqui model folder is untrusted: crafted files in it must never run code or fetch anything.

Each test is a reproduction: the payload is a pickle that creates a marker file when it is
unpickled, and the test checks that the marker never appears.
"""

from __future__ import annotations

import json
import os
import pathlib
import pickle
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT

from retake.core.errors import EngineUnavailable
from retake.voice import coqui
from retake.voice.coqui import CoquiEngine, safe_loading

TEXT = "The weather station reported a cold front moving in from the north tonight."


class Payload:
    """Unpickling this creates `marker` (stands in for any command)."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def evil_pickle(path: pathlib.Path, marker: pathlib.Path) -> None:
    import torch

    torch.save(Payload(marker), path)


def evil_npy(path: pathlib.Path, marker: pathlib.Path) -> None:
    arr = np.empty((), dtype=object)
    arr[()] = Payload(marker)
    np.save(path, arr, allow_pickle=True)


def one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert message and "\n" not in message
    return message


@pytest.fixture
def marker(tmp_path):
    return tmp_path / "PWNED"


@pytest.fixture
def bark(tmp_path, marker):
    folder = tmp_path / "bark-model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model": "bark", "num_chars": 0}))
    for name in ("text_2.pt", "coarse_2.pt", "fine_2.pt", "model.pth"):
        evil_pickle(folder / name, marker)
    return folder


def tiny_vits(folder: pathlib.Path, **model_args) -> pathlib.Path:
    """A tiny VITS config (the shape of tests/test_coqui.py's model) written into `folder`."""
    from coqui_tools import tiny_vits_config

    cfg = tiny_vits_config(**model_args)
    folder.mkdir(exist_ok=True)
    cfg.save_json(str(folder / "config.json"))
    return folder


def test_the_payload_is_live(tmp_path, marker):
    """The reproductions below mean something: unpickled as coqui's Bark loader does, it runs."""
    import torch

    evil_pickle(tmp_path / "text_2.pt", marker)
    torch.load(tmp_path / "text_2.pt", weights_only=False)
    assert marker.exists()


def test_a_bark_folder_is_refused_before_coqui_opens_it(bark, marker):
    with pytest.raises(EngineUnavailable) as exc:
        CoquiEngine(str(bark))
    message = one_line(exc)
    assert "'bark' is refused" in message and "unpickles" in message and "vits" in message
    assert not marker.exists()


def test_a_bark_folder_is_refused_by_the_editor(bark, marker, speech):
    from retake.align import Audio
    from retake.voice import EditOptions, Editor

    synth, _ = speech(TEXT)
    editor = Editor()
    rec = editor.load(Audio(synth.audio, synth.sample_rate), TEXT)
    with pytest.raises(EngineUnavailable, match="'bark' is refused"):
        editor.edit(rec, TEXT.replace("cold", "warm"),
                    EditOptions(engine=f"coqui:{bark}", verify=False))
    assert not marker.exists()


@pytest.mark.parametrize(("config", "expected"), [
    ({"model": "tortoise"}, "'tortoise' is refused"),
    ({"model": "my_own_model"}, "'my_own_model' is refused"),
    ({"model": "vits", "base_model": "bark"}, "base_model 'bark'"),
    ({"model": "vits", "characters": {"characters_class": "os.system"}}, "'os.system'"),
    ({"num_chars": 10}, "no `model` field"),
    ({"model": ["vits"]}, "no `model` field"),
    ([{"model": "vits"}], "not a JSON object"),
    ("// comment\n{\"model\": \"vits\"}", "not plain JSON"),
])
def test_configs_outside_the_allow_list_are_refused(tmp_path, marker, config, expected):
    folder = tmp_path / "model"
    folder.mkdir()
    text = config if isinstance(config, str) else json.dumps(config)
    (folder / "config.json").write_text(text)
    evil_pickle(folder / "model.pth", marker)
    with pytest.raises(EngineUnavailable) as exc:
        CoquiEngine(str(folder))
    assert expected in one_line(exc)
    assert not marker.exists()


def test_an_allowed_type_with_evil_weights_is_stopped_by_weights_only_loading(tmp_path, marker):
    folder = tiny_vits(tmp_path / "vits")
    evil_pickle(folder / "model.pth", marker)
    with pytest.raises(EngineUnavailable) as exc:
        CoquiEngine(str(folder))
    assert "refused" in one_line(exc) and "weights" in str(exc.value)
    assert not marker.exists()


def test_an_allowed_type_with_evil_audio_stats_is_stopped(tmp_path, marker):
    """coqui's AudioProcessor reads `audio.stats_path` with np.load(allow_pickle=True)."""
    import torch

    folder = tmp_path / "tacotron2"
    folder.mkdir()
    evil_npy(folder / "scale_stats.npy", marker)
    torch.save({"model": {}}, folder / "model.pth")
    (folder / "config.json").write_text(json.dumps({
        "model": "tacotron2",
        "audio": {"stats_path": str(folder / "scale_stats.npy"), "signal_norm": True}}))
    with pytest.raises(EngineUnavailable) as exc:
        CoquiEngine(str(folder))
    assert "pathlib.Path.touch is not allowed" in one_line(exc)
    assert not marker.exists()


def test_a_config_naming_a_remote_file_is_never_fetched(tmp_path, marker):
    import torch

    folder = tiny_vits(tmp_path / "vits", use_speaker_embedding=True,
                       speakers_file="http://127.0.0.1:9/speakers.json")
    torch.save({"model": {}}, folder / "model.pth")
    with pytest.raises(EngineUnavailable) as exc:
        CoquiEngine(str(folder))
    assert "never downloads" in one_line(exc) and "127.0.0.1" in str(exc.value)


def test_symlinks_out_of_the_folder_are_refused(tmp_path, marker):
    folder = tiny_vits(tmp_path / "vits")
    outside = tmp_path / "elsewhere.pth"
    evil_pickle(outside, marker)
    (folder / "model.pth").symlink_to(outside)
    with pytest.raises(EngineUnavailable) as exc:
        CoquiEngine(str(folder))
    assert "symlink" in one_line(exc) and "outside the folder" in str(exc.value)
    assert not marker.exists()


def test_symlinks_within_the_folder_are_fine(tmp_path):
    folder = tmp_path / "model"
    (folder / "weights").mkdir(parents=True)
    (folder / "weights" / "model.pth").write_bytes(b"x")
    (folder / "model.pth").symlink_to(folder / "weights" / "model.pth")
    coqui.check_folder(folder)


def test_oversized_checkpoints_are_refused(tmp_path, marker, monkeypatch):
    monkeypatch.setattr(coqui, "MAX_CHECKPOINT_BYTES", 1024)
    folder = tiny_vits(tmp_path / "vits")
    (folder / "model.pth").write_bytes(b"\0" * 2048)
    with pytest.raises(EngineUnavailable) as exc:
        CoquiEngine(str(folder))
    assert "model.pth" in one_line(exc) and "over the" in str(exc.value)
    with pytest.raises(EngineUnavailable, match="over the"):
        CoquiEngine(str(folder / "model.pth"))


def test_the_guard_forces_safe_loading_and_restores_everything(tmp_path, marker, monkeypatch):
    import fsspec
    import torch

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    originals = (torch.load, torch.serialization.load, np.load, fsspec.open)
    evil_pickle(tmp_path / "evil.pt", marker)
    evil_npy(tmp_path / "evil.npy", marker)
    stats = {"mel_mean": np.arange(3.0), "mel_std": np.float64(2.0), "audio_config": {"a": 1}}
    np.save(tmp_path / "stats.npy", stats, allow_pickle=True)
    with safe_loading():
        assert os.environ["HF_HUB_OFFLINE"] == os.environ["HF_DATASETS_OFFLINE"] == "1"
        assert os.environ["TRANSFORMERS_OFFLINE"] == "1"
        with pytest.raises(pickle.UnpicklingError):
            torch.load(tmp_path / "evil.pt", weights_only=False)
        with pytest.raises(pickle.UnpicklingError):
            np.load(tmp_path / "evil.npy", allow_pickle=True)
        with pytest.raises(EngineUnavailable, match="never downloads"):
            fsspec.open("https://example.invalid/model.pth")
        with pytest.raises(EngineUnavailable, match="never downloads"):
            fsspec.open(f"filecache::{tmp_path / 'missing.pth'}")
        loaded = np.load(tmp_path / "stats.npy", allow_pickle=True).item()
        assert np.array_equal(loaded["mel_mean"], stats["mel_mean"])
        assert loaded["mel_std"] == 2.0 and loaded["audio_config"] == {"a": 1}
    assert not marker.exists()
    assert (torch.load, torch.serialization.load, np.load, fsspec.open) == originals
    assert os.environ["HF_HUB_OFFLINE"] == "0" and "HF_DATASETS_OFFLINE" not in os.environ


def test_the_command_line_refuses_a_bark_folder_in_one_line(bark, marker, tmp_path):
    from retake.align.audio import write_wav
    from retake.align.espeak import synthesize

    synth = synthesize(TEXT)
    audio = tmp_path / "take.wav"
    write_wav(audio, synth.audio, synth.sample_rate)
    out = tmp_path / "out.wav"
    r = subprocess.run(
        [sys.executable, "-m", "retake", "edit", "--consent", str(audio), "-t", TEXT,
         "--to", TEXT.replace("cold", "warm"), "--engine", f"coqui:{bark}", "-o", str(out)],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "COLUMNS": "200"},
        timeout=300)
    assert r.returncode == 1, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "'bark' is refused" in errors[0], r.stderr
    assert "Traceback" not in r.stderr
    assert not out.exists() and not marker.exists()
