"""A tiny FLUX.1 Kontext: the real transformer, VAE, CLIP and T5 classes at toy widths."""

from __future__ import annotations

from pathlib import Path

from insvie.tiny._common import save, seeded, tiny_t5_settings
from insvie.tiny.tokenizer_builders import CLIP_MAX_LENGTH, tiny_clip_tokenizer, tiny_t5_tokenizer


def build_tiny_flux_kontext(dest: str | Path, *, seed: int = 0) -> Path:
    """Write a randomly initialised ``FluxKontextPipeline`` folder to ``dest``.

    Same structure as FLUX.1-Kontext-dev: guidance-embedding ``FluxTransformer2DModel`` (double and
    single stream blocks), 8x VAE with shift/scale factors, CLIP + T5 text encoders, dynamic-shift
    flow-matching scheduler.
    """
    from diffusers import (
        AutoencoderKL,
        FlowMatchEulerDiscreteScheduler,
        FluxKontextPipeline,
        FluxTransformer2DModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

    tokenizer = tiny_clip_tokenizer()
    tokenizer_2 = tiny_t5_tokenizer()
    latent_channels = 4
    with seeded(seed):
        transformer = FluxTransformer2DModel(
            patch_size=1,
            in_channels=latent_channels * 4,  # latents are packed in 2x2 patches
            num_layers=1,
            num_single_layers=1,
            attention_head_dim=8,
            num_attention_heads=2,
            joint_attention_dim=16,
            pooled_projection_dim=16,
            guidance_embeds=True,
            axes_dims_rope=(2, 2, 4),
        )
        vae = AutoencoderKL(
            sample_size=32,
            in_channels=3,
            out_channels=3,
            latent_channels=latent_channels,
            block_out_channels=(4, 8, 8, 8),
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            layers_per_block=1,
            norm_num_groups=4,
            use_quant_conv=False,
            use_post_quant_conv=False,
            shift_factor=0.1159,
            scaling_factor=0.3611,
        )
        text_encoder = CLIPTextModel(
            CLIPTextConfig(
                vocab_size=len(tokenizer),
                hidden_size=16,
                intermediate_size=32,
                projection_dim=16,
                num_hidden_layers=1,
                num_attention_heads=2,
                max_position_embeddings=CLIP_MAX_LENGTH,
                layer_norm_eps=1e-5,
                bos_token_id=0,
                eos_token_id=1,
                pad_token_id=1,
            )
        )
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
