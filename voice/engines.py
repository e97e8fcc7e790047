"""The registry of voice engines (how new words are made), built by name."""

from __future__ import annotations

from retake.core.engines import EngineSpec, WeightFile, module_missing

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

_HIBARI = "assets/"
HIBARI_FILES = tuple(WeightFile("hibari", _HIBARI + p, h) for p, h in (
    ("hibari.onnx", "5f70741d4e900f4e85d0037498736cc1b3e1b9a63a13546a5da1e63abf4fccd8"),
    ("oov.onnx", "d3cfd8122c5f172a98c8de38268bf1213ee09f2c2ae4df6e055fc6532590fe76"),
    ("vocab.json", "70abefbe8a1c8865e43e0a43bbdc25b91a33e4aa053479d443ccf23e20a59e5d"),
    ("lexicon_us_gold.json.gz",
     "63ae94f8ef0e906d5b24fe9b59ffcbd1529aca5686a774610e43973cbaa86ad2"),
    ("lexicon_us_silver.json.gz",
     "c4c2546ebf1eb07010331e7ef785a431aa17ba8e7bfb6b4af8d654ee96a71fd3"),
))


def _hibari(name: str, aligner=None, language: str = "en", **_):
    from retake.voice.query import QueryVoice

    return QueryVoice(aligner, language)


# The query voice says new words first; its timing, melody and sound guide the choice of
# the speaker's own units (never heard in the output, except for a phone the speaker lacks).
QUERY_ENGINES: tuple[EngineSpec, ...] = (
    EngineSpec(
        stage="query voice", name="hibari",
        summary="a neural English voice (hibari-tts, distilled from Kokoro-82M) that says "
                "the edited phrase first, to guide unit selection (VoCo's query)",
        needs="nothing beyond the pip install",
        weights="hibari.onnx (voice 'heart') and its G2P lexicons, inside the hibari-tts wheel",
        license="Apache-2.0 (model and code)", default=True,
        probe=lambda: module_missing("hibari", "onnxruntime"), build=_hibari,
        distribution="hibari-tts", files=HIBARI_FILES),
)
