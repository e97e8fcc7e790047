"""Engine `coqui:<model>`: new words from a coqui-tts model the user already has locally.

`<model>` is a folder holding `config.json` and a checkpoint (`*.pth`), a checkpoint path,
or a coqui model name (`tts_models/multilingual/multi-dataset/xtts_v2`) whose weights are
already in coqui's local model folder. Retake never downloads: a model that is not on disk
is reported as unavailable. Models that clone from reference audio (XTTS-v2, YourTTS) get
a few seconds of the speaker's own speech; the output is then converted toward the speaker
(spectral envelope, level) and shaped to the target durations and pitch like unit speech.

A model folder is untrusted input: before coqui sees it, Retake reads `config.json` itself and
accepts only model types whose loaders read plain weights (`SAFE_MODELS`), and coqui then runs
with weights-only `torch.load`, pickle-free `numpy.load`, local-only files and the hub offline.

Licences differ per model: XTTS-v2 is under the Coqui Public Model License (non-commercial),
YourTTS under CC BY-NC 4.0. Check before you use them.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import pickle
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from retake.core.errors import EngineUnavailable

# Model classes (coqui-tts 0.28, `TTS.tts.models.<name>`) whose loading is a state dict read
# through trainer.io.load_fsspec / torch.load of the checkpoint, plus JSON side files (speakers,
# languages, vocab) and, for XTTS, speakers_xtts.pth through torch.load(weights_only=True).
# Bark (torch.load(weights_only=False), downloads from the network and the Hugging Face hub)
# and Tortoise (hf_hub_download, from_pretrained) are not among them.
_SAFE_CLASSES = ("vits", "xtts", "glow_tts", "tacotron", "tacotron2", "align_tts", "overflow",
                 "neuralhmm_tts", "delightful_tts", "forward_tts")
# config.json `model` values accepted; the forward-TTS family names its class in `base_model`.
SAFE_MODELS = ("vits", "xtts", "glow_tts", "tacotron", "tacotron2", "fast_pitch",
               "fast_speech", "fastspeech2", "speedy_speech", "align_tts", "overflow",
               "neuralhmm_tts", "delightful_tts")
# `characters.characters_class` is imported by name; only coqui's own classes are allowed.
SAFE_CHARACTER_CLASSES = ("TTS.tts.utils.text.characters.IPAPhonemes",
                          "TTS.tts.utils.text.characters.Graphemes",
                          "TTS.tts.models.vits.VitsCharacters")
_UNSAFE_WHY = {
    "bark": "its loader unpickles arbitrary files and downloads weights",
    "tortoise": "its loader downloads weights from the Hugging Face hub",
}
MAX_CHECKPOINT_BYTES = 4 * 1024**3
MAX_CONFIG_BYTES = 16 * 1024**2
_WEIGHT_SUFFIXES = (".pth", ".pt", ".ckpt", ".bin", ".npy", ".npz", ".safetensors")
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
# What a pickled numpy object array (coqui's scale_stats.npy: a dict of arrays) may name.
_NPY_GLOBALS = {(mod, name) for mod in ("numpy.core.multiarray", "numpy._core.multiarray")
                for name in ("_reconstruct", "scalar")} | {
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}


def _local_model_dir(name: str) -> Path | None:
    """coqui's own download folder for a model name, if the model is there."""
    from trainer.io import get_user_data_dir

    folder = Path(get_user_data_dir("tts")) / name.replace("/", "--")
    return folder if folder.exists() else None


def resolve(spec: str) -> tuple[Path, Path | None]:
    """(checkpoint or model folder, config) for a `coqui:` spec; raises if not on disk."""
    path = Path(spec).expanduser()
    if path.is_dir():
        folder = path
    elif path.is_file():
        cfg = path.with_name("config.json")
        return path, cfg if cfg.exists() else None
    elif "/" in spec and not spec.startswith((".", "/", "~")):
        folder = _local_model_dir(spec)
        if folder is None:
            raise EngineUnavailable(
                f"coqui model {spec!r} is not on this machine; Retake never downloads "
                "weights. Put the model folder (config.json + checkpoint) on disk and pass "
                "its path: --engine coqui:/path/to/model")
    else:
        raise EngineUnavailable(f"coqui model {spec!r}: no such file or folder")
    ckpts = sorted(folder.glob("*.pth")) + sorted(folder.glob("*.pt"))
    if not ckpts:
        raise EngineUnavailable(f"coqui model folder {folder} holds no checkpoint (*.pth)")
    cfg = folder / "config.json"
    if not cfg.exists():
        raise EngineUnavailable(f"coqui model folder {folder} has no config.json")
    best = next((c for c in ckpts if c.name in ("model.pth", "best_model.pth")), ckpts[0])
    return (folder if (folder / "model.pth").exists() and "xtts" in folder.name.lower()
            else best), cfg


def _size_check(path: Path, folder: Path) -> None:
    size = path.stat().st_size
    if size > MAX_CHECKPOINT_BYTES:
        raise EngineUnavailable(
            f"coqui model folder {folder} is refused: {path.name} is {size / 1024**3:.1f} GB, "
            f"over the {MAX_CHECKPOINT_BYTES / 1024**3:.0f} GB a checkpoint may be")


def check_folder(folder: Path, checkpoint: Path | None = None, recursive: bool = True) -> None:
    """Refuse a model folder with symlinks leading out of it or an oversized checkpoint."""
    root = folder.resolve()
    if checkpoint is not None:
        _size_check(checkpoint, folder)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            if path.is_symlink() and not path.resolve().is_relative_to(root):
                raise EngineUnavailable(
                    f"coqui model folder {folder} is refused: {path.relative_to(root)} is a "
                    f"symlink to {path.resolve()}, outside the folder")
            if (name in filenames and path.suffix.lower() in _WEIGHT_SUFFIXES
                    and path.is_file()):
                _size_check(path, folder)
        if not recursive:
            break


def _refuse(model: str, why: str) -> EngineUnavailable:
    return EngineUnavailable(f"coqui model type {model!r} is refused: {why}; Retake loads only "
                             f"{', '.join(SAFE_MODELS)}")


def check_config(path: Path) -> dict:
    """config.json read with json (never coqui) and checked against the allow-list."""
    if not path.is_file():
        raise EngineUnavailable(f"coqui model {path.parent} has no config.json")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise EngineUnavailable(f"coqui config {path} is refused: larger than "
                                f"{MAX_CONFIG_BYTES // 1024**2} MB")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EngineUnavailable(f"coqui config {path} is refused: not plain JSON ({exc})") from None
    if not isinstance(data, dict):
        raise EngineUnavailable(f"coqui config {path} is refused: not a JSON object")
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise EngineUnavailable(f"coqui config {path} is refused: no `model` field naming the "
                                f"model type; Retake loads only {', '.join(SAFE_MODELS)}")
    if model.lower() not in SAFE_MODELS:
        raise _refuse(model, _UNSAFE_WHY.get(
            model.lower(), "Retake has not checked that its loader reads only weights"))
    base = data.get("base_model")
    if base is not None and (not isinstance(base, str) or base.lower() not in _SAFE_CLASSES):
        raise _refuse(model, f"its base_model {base!r} is not a model class Retake has checked")
    chars = data.get("characters")
    cls = chars.get("characters_class") if isinstance(chars, dict) else None
    if cls and cls not in SAFE_CHARACTER_CLASSES:
        raise _refuse(model, f"its characters_class {cls!r} would be imported by name")
    return data


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and plain containers, nothing that names other code."""

    def find_class(self, module: str, name: str):
        if (module, name) in _NPY_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a model's .npy file")


def _npy_objects(path: Path) -> np.ndarray:
    """An object array from a .npy file, unpickled with `_ArrayUnpickler`."""
    fmt = np.lib.format
    with open(path, "rb") as fh:
        version = fmt.read_magic(fh)
        if version == (1, 0):
            fmt.read_array_header_1_0(fh)
        elif version == (2, 0):
            fmt.read_array_header_2_0(fh)
        else:
            raise ValueError(f"{path}: .npy format {version} is not read with objects")
        return np.asarray(_ArrayUnpickler(fh).load())


def _weights_only_load(load):
    @functools.wraps(load)
    def wrapper(*args, **kwargs):
        kwargs["weights_only"] = True
        return load(*args, **kwargs)
    return wrapper


def _pickle_free_np_load(load):
    @functools.wraps(load)
    def wrapper(file, mmap_mode=None, allow_pickle=False, *args, **kwargs):
        try:
            return load(file, mmap_mode, False, *args, **kwargs)
        except ValueError:
            if not allow_pickle or not isinstance(file, str | os.PathLike):
                raise
        return _npy_objects(Path(file))
    return wrapper


def _local_only_open(open_):
    from fsspec.core import split_protocol

    @functools.wraps(open_)
    def wrapper(urlpath, *args, **kwargs):
        text = os.fspath(urlpath) if isinstance(urlpath, str | os.PathLike) else None
        if (not isinstance(text, str) or "::" in text
                or split_protocol(text)[0] not in (None, "file", "local")):
            raise EngineUnavailable(f"the coqui model asks for {urlpath!r}, which is not a "
                                    "local file; Retake never downloads")
        return open_(urlpath, *args, **kwargs)
    return wrapper


_GUARD = threading.RLock()


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "on", "yes", "true")


@contextlib.contextmanager
def safe_loading() -> Iterator[None]:
    """While coqui runs: weights-only torch.load, numpy without code-running pickles,
    fsspec on local files only, the Hugging Face hub offline; all restored afterwards.

    The patches and environment variables are process-wide, so they also apply to other
    threads for the duration (only ever more strictly); the lock keeps two coqui loads from
    interleaving their patching and restoring.
    """
    import fsspec
    import torch

    # coqui's loaders (trainer.io.load_fsspec included, which already asks for weights_only on
    # torch >= 2.4) call `torch.load`, `np.load` and `fsspec.open` through their modules, so
    # patching those attributes covers them; `from x import load` copies would escape.
    with _GUARD:
        env = {k: os.environ.get(k) for k in OFFLINE_ENV}
        patches = [(torch, "load", _weights_only_load(torch.load)),
                   (torch.serialization, "load", _weights_only_load(torch.serialization.load)),
                   (np, "load", _pickle_free_np_load(np.load)),
                   (fsspec, "open", _local_only_open(fsspec.open))]
        saved = [(obj, name, getattr(obj, name)) for obj, name, _ in patches]
        hub = sys.modules.get("huggingface_hub.constants")
        hub_offline = getattr(hub, "HF_HUB_OFFLINE", None)
        try:
            os.environ.update(OFFLINE_ENV)
            for obj, name, new in patches:
                setattr(obj, name, new)
            if hub is not None:
                hub.HF_HUB_OFFLINE = True
            yield
        finally:
            for obj, name, old in reversed(saved):
                setattr(obj, name, old)
            for k, v in env.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            # huggingface_hub reads the variables once, at import (maybe just now).
            if (hub := sys.modules.get("huggingface_hub.constants")) is not None:
                if hub_offline is None:
                    hub_offline = _env_true("HF_HUB_OFFLINE") or _env_true("TRANSFORMERS_OFFLINE")
                hub.HF_HUB_OFFLINE = hub_offline


def _failure(spec: str, exc: Exception) -> str:
    """One line saying why coqui could not load a model."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    if isinstance(exc, pickle.UnpicklingError):
        # torch's message goes on to suggest allow-listing the global: not advice to pass on.
        named = re.search(r"Unsupported global: GLOBAL (\S+)", text)
        why = f"it names {named.group(1)}" if named else first[:200]
        return (f"coqui model {spec} is refused: a file it loads holds more than plain weights "
                f"({why}; weights-only loading stopped it)")
    return f"coqui model {spec} could not be loaded: {type(exc).__name__}: {first[:300]}"


class CoquiEngine:
    """A loaded coqui-tts model that speaks text, cloning from reference audio if it can."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.model_path, self.config_path = resolve(spec)
        if self.model_path.is_dir():
            folder = self.model_path
            check_folder(folder)
        else:  # a checkpoint named directly: coqui reads its folder's top level
            folder = self.model_path.parent
            check_folder(folder, self.model_path, recursive=False)
        config = check_config(self.config_path or folder / "config.json")
        os.environ.setdefault("COQUI_TOS_AGREED", "0")
        with tempfile.TemporaryDirectory(prefix="retake-coqui-") as tmp, safe_loading():
            # coqui reads the very config checked above, not the folder's file again.
            checked = Path(tmp, "config.json")
            checked.write_text(json.dumps(config), encoding="utf-8")
            try:
                from TTS.api import TTS
            except ImportError as exc:  # pragma: no cover - coqui-tts is a dependency
                raise EngineUnavailable(f"coqui-tts cannot be imported: {exc}") from None
            try:
                self._tts = TTS(model_path=str(self.model_path), config_path=str(checked),
                                progress_bar=False)
            except EngineUnavailable:
                raise
            except Exception as exc:  # noqa: BLE001 - one line for the user, any coqui error
                raise EngineUnavailable(_failure(spec, exc)) from exc

    @property
    def sample_rate(self) -> int:
        """Output sample rate of the model."""
        return int(self._tts.synthesizer.output_sample_rate)

    @property
    def clones(self) -> bool:
        """Whether the model takes a reference recording of the speaker."""
        model = getattr(self._tts.synthesizer, "tts_model", None)
        name = type(model).__name__.lower()
        return "xtts" in name or bool(getattr(model, "speaker_manager", None)
                                      and getattr(getattr(model, "args", None),
                                                  "use_speaker_encoder_as_loss", False))

    def speak(self, text: str, reference: np.ndarray | None, reference_rate: int,
              language: str = "en") -> np.ndarray:
        """Mono float32 speech of `text` at `self.sample_rate`."""
        kwargs = {}
        tmp = None
        try:
            if self.clones and reference is not None:
                import soundfile as sf

                fd, tmp = tempfile.mkstemp(suffix=".wav")
                os.close(fd)
                sf.write(tmp, reference, reference_rate)
                kwargs["speaker_wav"] = tmp
                if self._tts.is_multi_lingual:
                    kwargs["language"] = language
            with safe_loading():
                wav = self._tts.tts(text, **kwargs)
        finally:
            if tmp:
                Path(tmp).unlink(missing_ok=True)
        return np.asarray(wav, dtype=np.float32)
