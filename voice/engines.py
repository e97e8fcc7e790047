"""The registry of voice engines (how new words are made), built by name."""

from __future__ import annotations

from retake.core.engines import EngineSpec, module_missing

COQUI = "coqui:<model>"


def _coqui(name: str, **_):
    from retake.voice.coqui import CoquiEngine

    return CoquiEngine(name.split(":", 1)[1])

VOICE_ENGINES: tuple[EngineSpec, ...] = (
    EngineSpec(
        stage="voice",
        name="units",
        summary="unit selection over the speaker's own phones (VoCo-style) with PSOLA "
                "prosody; espeak-ng converted toward the speaker for phones never heard",
        needs="the recording itself (more with --voice profiles)",
        weights="none: the speaker's own recording",
        license="the recording's own terms",
        default=True,
        probe=lambda: module_missing("parselmouth"),
    ),
    EngineSpec(
        stage="voice",
        name=COQUI,
        summary="any coqui-tts model you have on disk (XTTS-v2, YourTTS clone from the "
                "recording), converted toward the speaker",
        needs="a local model folder (config.json + checkpoint); never downloaded",
        weights="yours; XTTS-v2: Coqui Public Model License (non-commercial); "
                "YourTTS: CC BY-NC 4.0",
        license="depends on the model",
        probe=lambda: module_missing("TTS"),
        build=_coqui,
        distribution="coqui-tts",
    ),
)
