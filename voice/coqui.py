"""Engine `coqui:<model>`: new words from a coqui-tts model the user already has locally.

`<model>` is a folder holding `config.json` and a checkpoint (`*.pth`), a checkpoint path,
or a coqui model name (`tts_models/multilingual/multi-dataset/xtts_v2`) whose weights are
already in coqui's local model folder. Retake never downloads: a model that is not on disk
is reported as unavailable. Models that clone from reference audio (XTTS-v2, YourTTS) get
a few seconds of the speaker's own speech; the output is then converted toward the speaker
(spectral envelope, level) and shaped to the target durations and pitch like unit speech.

Licences differ per model: XTTS-v2 is under the Coqui Public Model License (non-commercial),
YourTTS under CC BY-NC 4.0. Check before you use them.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from retake.core.errors import EngineUnavailable


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


class CoquiEngine:
    """A loaded coqui-tts model that speaks text, cloning from reference audio if it can."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.model_path, self.config_path = resolve(spec)
        try:
            from TTS.api import TTS
        except ImportError as exc:  # pragma: no cover - coqui-tts is a dependency
            raise EngineUnavailable(f"coqui-tts cannot be imported: {exc}") from None
        os.environ.setdefault("COQUI_TOS_AGREED", "0")
        self._tts = TTS(model_path=str(self.model_path),
                        config_path=str(self.config_path) if self.config_path else None,
                        progress_bar=False)

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
            wav = self._tts.tts(text, **kwargs)
        finally:
            if tmp:
                Path(tmp).unlink(missing_ok=True)
        return np.asarray(wav, dtype=np.float32)
