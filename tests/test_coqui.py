"""The coqui engine's loading and inference path, on a tiny model the test builds itself."""

from __future__ import annotations

import pytest

from retake.align import Audio
from retake.core.errors import EngineUnavailable
from retake.voice import EditOptions, Editor


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    torch = pytest.importorskip("torch")
    from TTS.tts.configs.vits_config import VitsConfig
    from TTS.tts.models.vits import Vits, VitsArgs

    torch.manual_seed(0)
    cfg = VitsConfig()
    cfg.model_args = VitsArgs(
        hidden_channels=16, hidden_channels_ffn_text_encoder=32, num_heads_text_encoder=1,
        num_layers_text_encoder=1, num_layers_flow=1, num_layers_posterior_encoder=1,
        resblock_kernel_sizes_decoder=[3], resblock_dilation_sizes_decoder=[[1, 3, 5]],
        upsample_rates_decoder=[8, 8, 4], upsample_initial_channel_decoder=16,
        upsample_kernel_sizes_decoder=[16, 16, 8], init_discriminator=False)
    cfg.audio.sample_rate = 16000
    cfg.text_cleaner = "english_cleaners"
    cfg.use_phonemes = False
    model = Vits(cfg)
    folder = tmp_path_factory.mktemp("tiny-vits")
    torch.save({"model": model.state_dict()}, folder / "model.pth")
    cfg.save_json(str(folder / "config.json"))
    return folder


def test_coqui_engine_renders_new_words(tiny_model, speech):
    text = "The weather station reported a cold front moving in from the north."
    synth, _ = speech(text)
    editor = Editor()
    rec = editor.load(Audio(synth.audio, synth.sample_rate), text)
    result = editor.edit(rec, text.replace("cold", "warm"),
                         EditOptions(engine=f"coqui:{tiny_model}", verify=False))
    [span] = [e for e in result.report.edits if e.kind != "delete"]
    assert span.engine == f"coqui:{tiny_model}"
    assert span.end - span.start > 0.1
    assert result.timemap.inserted[0].source == "synthesized"
    assert result.report.synthesized


def test_models_that_are_not_on_disk_are_never_downloaded(speech):
    from retake.voice.coqui import resolve

    with pytest.raises(EngineUnavailable, match="never downloads"):
        resolve("tts_models/multilingual/multi-dataset/xtts_v2")
    with pytest.raises(EngineUnavailable):
        resolve("/no/such/model")
