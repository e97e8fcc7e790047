"""A tiny VITS model config the coqui tests build themselves (no weights are downloaded)."""

from __future__ import annotations


def tiny_vits_config(**model_args):
    """coqui-tts VitsConfig for a VITS small enough to build and run in seconds on a CPU."""
    from TTS.tts.configs.vits_config import VitsConfig
    from TTS.tts.models.vits import VitsArgs

    cfg = VitsConfig()
    cfg.model_args = VitsArgs(
        hidden_channels=16, hidden_channels_ffn_text_encoder=32, num_heads_text_encoder=1,
        num_layers_text_encoder=1, num_layers_flow=1, num_layers_posterior_encoder=1,
        resblock_kernel_sizes_decoder=[3], resblock_dilation_sizes_decoder=[[1, 3, 5]],
        upsample_rates_decoder=[8, 8, 4], upsample_initial_channel_decoder=16,
        upsample_kernel_sizes_decoder=[16, 16, 8], init_discriminator=False, **model_args)
    cfg.audio.sample_rate = 16000
    cfg.text_cleaner = "english_cleaners"
    cfg.use_phonemes = False
    return cfg
