"""Is there speech at all? Asked before alignment or recognition, so that noise, tones or
music fail in seconds instead of after a run at a few times real time.

The detector is silero's voice activity model: the ONNX build that faster-whisper ships
(onnxruntime only: no torch to import, about 0.2 s per minute of audio on one core), else
the silero-vad package (torch; the aligner's own late check uses it). It reads the audio in
blocks and stops at the first block that holds enough speech, so speech costs a few
hundredths of a second; silent blocks are passed over without running the model.
"""

from __future__ import annotations

import threading
import warnings

import numpy as np

from retake.align.audio import ALIGN_RATE
from retake.core.errors import AudioError

MIN_SPEECH_S = 0.3  # the aligner's own floor (aligner._check_speech)
BLOCK_S = 10.0
SHORTEST_S = 5.0  # shorter audio aligns in a moment; the aligner's own check covers it
SILENT_DB = -55.0
NO_SPEECH = ("no speech found in the audio (only noise, tones or music); nothing to {what}. "
             "Give a recording of someone speaking")

_detector = None
_lock = threading.Lock()  # the torch model keeps state between windows: one user at a time


def _onnx_detector():
    from faster_whisper.vad import VadOptions, get_speech_timestamps, get_vad_model

    get_vad_model()  # loads (and caches) the model now: a missing file fails here
    options = VadOptions()
    return lambda x: get_speech_timestamps(x, options)


def _torch_detector():
    import torch
    from silero_vad import get_speech_timestamps, load_silero_vad

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit deprecation notice inside silero-vad
        model = load_silero_vad()

    def detect(x: np.ndarray) -> list[dict]:
        with torch.inference_mode():
            return get_speech_timestamps(torch.from_numpy(x), model,
                                         sampling_rate=ALIGN_RATE)

    return detect


def _vad():
    """speech stamps of 16 kHz mono float32 audio (a function), loaded once per process;
    None when neither detector is installed."""
    global _detector
    with _lock:
        if _detector is None:
            for make in (_onnx_detector, _torch_detector):
                try:
                    _detector = make()
                    break
                except Exception:  # noqa: BLE001 - not installed or no model file: next
                    continue
            else:
                _detector = False
        return _detector or None


def has_speech(x: np.ndarray, need: float = MIN_SPEECH_S) -> bool | None:
    """True once `need` seconds of speech are found in `x` (mono float at ALIGN_RATE),
    False when the whole signal holds less; None when no detector is installed (nothing
    can be said)."""
    detect = _vad()
    if detect is None:
        return None
    block = int(BLOCK_S * ALIGN_RATE)
    found = 0.0
    for a in range(0, len(x), block):
        piece = np.ascontiguousarray(x[a:a + block], dtype=np.float32)
        if len(piece) < ALIGN_RATE // 10:
            continue
        if float(np.max(np.abs(piece))) <= 10 ** (SILENT_DB / 20):
            continue
        with _lock:
            stamps = detect(piece)
        found += sum(s["end"] - s["start"] for s in stamps) / ALIGN_RATE
        if found >= need:
            return True
    return False


def require_speech(x: np.ndarray, what: str) -> None:
    """Raise AudioError unless `x` (mono float at ALIGN_RATE) holds speech (`what`: the job
    that would have run). Audio under SHORTEST_S is let through: the job is quick there,
    and a single synthetic word is shorter than the detector's smallest speech segment."""
    if len(x) < SHORTEST_S * ALIGN_RATE:
        return
    if has_speech(x) is False:
        raise AudioError(NO_SPEECH.format(what=what))
