"""A tiny FLUX.1 Kontext: the real transformer, VAE, CLIP and T5 classes at toy widths."""

from __future__ import annotations

from pathlib import Path

from insvie.tiny._common import save, seeded, tiny_t5_settings
from insvie.tiny._sd_parts import SD_LATENT_CHANNELS, tiny_clip_text_encoder, tiny_sd_vae
from insvie.tiny.tokenizer_builders import tiny_clip_tokenizer, tiny_t5_tokenizer


def build_tiny_flux_kontext(dest: str | Path, *, seed: int = 0) -> Path:
    """Write a randomly initialised ``FluxKontextPipeline`` folder to ``dest``.

    Same structure as FLUX.1-Kontext-dev: guidance-embedding ``FluxTransformer2DModel`` (double and
    single stream blocks), 8x VAE with shift/scale factors, CLIP + T5 text encoders, dynamic-shift
    flow-matching scheduler.
    """
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxKontextPipeline, FluxTransformer2DModel
    from transformers import T5Config, T5EncoderModel

    tokenizer = tiny_clip_tokenizer()
    tokenizer_2 = tiny_t5_tokenizer()
    with seeded(seed):
        transformer = FluxTransformer2DModel(
            patch_size=1,
            in_channels=SD_LATENT_CHANNELS * 4,  # latents are packed in 2x2 patches
            num_layers=1,
            num_single_layers=1,
            attention_head_dim=8,
            num_attention_heads=2,
            joint_attention_dim=16,
            pooled_projection_dim=16,
            guidance_embeds=True,
            axes_dims_rope=(2, 2, 4),
        )
        vae = tiny_sd_vae(
            use_quant_conv=False,
            use_post_quant_conv=False,
            shift_factor=0.1159,
            scaling_factor=0.3611,
        )
        text_encoder = tiny_clip_text_encoder(len(tokenizer), num_hidden_layers=1)
        text_encoder_2 = T5EncoderModel(
            T5Config(**tiny_t5_settings(len(tokenizer_2), decoder_start_token_id=0))
        )
    scheduler = FlowMatchEulerDiscreteScheduler(
        shift=3.0,
        use_dynamic_shifting=True,
        base_shift=0.5,
        max_shift=1.15,
        base_image_seq_len=256,
        max_image_seq_len=4096,
    )
    pipe = FluxKontextPipeline(
        scheduler=scheduler,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        text_encoder_2=text_encoder_2,
        tokenizer_2=tokenizer_2,
        transformer=transformer,
    )
    return save(pipe, dest)
