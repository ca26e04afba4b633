"""A tiny InstructPix2Pix: Stable Diffusion 1.5's classes with an 8-channel UNet, a few kB of weights."""

from __future__ import annotations

from pathlib import Path

from insvie.tiny._common import save, seeded
from insvie.tiny._sd_parts import SD_LATENT_CHANNELS, tiny_clip_text_encoder, tiny_sd_vae
from insvie.tiny.tokenizer_builders import tiny_clip_tokenizer


def build_tiny_instruct_pix2pix(dest: str | Path, *, seed: int = 0) -> Path:
    """Write a randomly initialised ``StableDiffusionInstructPix2PixPipeline`` folder to ``dest``.

    Same structure as timbrooks/instruct-pix2pix (UNet with 8 input channels: 4 noisy + 4 image
    latents, VAE factor 8, CLIP text encoder, Euler-ancestral scheduler, no safety checker).
    """
    from diffusers import (
        EulerAncestralDiscreteScheduler,
        StableDiffusionInstructPix2PixPipeline,
        UNet2DConditionModel,
    )

    tokenizer = tiny_clip_tokenizer()
    with seeded(seed):
        unet = UNet2DConditionModel(
            sample_size=8,
            in_channels=SD_LATENT_CHANNELS * 2,  # noisy latents beside the source image's
            out_channels=SD_LATENT_CHANNELS,
            block_out_channels=(8, 16),
            layers_per_block=1,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=16,
            attention_head_dim=2,
            norm_num_groups=4,
        )
        vae = tiny_sd_vae()
        text_encoder = tiny_clip_text_encoder(len(tokenizer), num_hidden_layers=2)
    scheduler = EulerAncestralDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000
    )
    pipe = StableDiffusionInstructPix2PixPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    return save(pipe, dest)
