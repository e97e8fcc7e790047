"""The coqui engine's loading and inference path, on a tiny model the test builds itself."""

from __future__ import annotations

import pytest

from retake.align import Audio
from retake.core.errors import EngineUnavailable
from retake.voice import EditOptions, Editor


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    torch = pytest.importorskip("torch")
    from coqui_tools import tiny_vits_config
    from TTS.tts.models.vits import Vits

    torch.manual_seed(0)
    cfg = tiny_vits_config()
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
