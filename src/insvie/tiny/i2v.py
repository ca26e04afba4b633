"""Tiny random image-to-video checkpoints (SVD and Wan 2.1 I2V layouts) for tests and benchmarks.

Each builder makes the very classes a real checkpoint loads, with configs shrunk to a few thousand
parameters, and writes them with ``save_pretrained``: the propagators then load the folder exactly as
they would load ``stabilityai/stable-video-diffusion-img2vid-xt`` or ``Wan-AI/Wan2.1-I2V-14B-480P-Diffusers``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from insvie.tiny._common import save, seeded, tiny_t5_settings
from insvie.tiny.tokenizer_builders import tiny_t5_tokenizer


def _tiny_clip_vision(projection: bool) -> tuple[Any, Any]:
    """A 2-layer CLIP vision tower with its image processor; 224 px as real ones, since SVD resizes to 224."""
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        CLIPVisionModel,
        CLIPVisionModelWithProjection,
    )

    config = CLIPVisionConfig(
        hidden_size=16,
        intermediate_size=32,
        projection_dim=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=224,
        patch_size=32,
        layer_norm_eps=1e-5,
    )
    model = (CLIPVisionModelWithProjection if projection else CLIPVisionModel)(config).eval()
    processor = CLIPImageProcessor(crop_size=224, size={"shortest_edge": 224})
    return model, processor


def build_tiny_svd(dest: str | Path, *, seed: int = 0) -> Path:
    """Write a randomly initialised ``StableVideoDiffusionPipeline`` folder to ``dest``.

    Same structure as SVD-XT (8-channel spatio-temporal UNet: 4 noisy + 4 image latents, temporal VAE
    decoder, CLIP image embeddings, EDM Euler scheduler with v-prediction and Karras sigmas); VAE
    factor 2 and two UNet levels, so a 32x32 frame makes 16x16 latents.
    """
    from diffusers import (
        AutoencoderKLTemporalDecoder,
        EulerDiscreteScheduler,
        StableVideoDiffusionPipeline,
        UNetSpatioTemporalConditionModel,
    )

    with seeded(seed):
        unet = UNetSpatioTemporalConditionModel(
            sample_size=16,
            in_channels=8,
            out_channels=4,
            down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
            up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
            block_out_channels=(32, 32),
            addition_time_embed_dim=8,
            projection_class_embeddings_input_dim=24,
            layers_per_block=1,
            cross_attention_dim=16,
            num_attention_heads=(2, 2),
            num_frames=4,
        ).eval()
        vae = AutoencoderKLTemporalDecoder(
            block_out_channels=(32, 32),
            down_block_types=("DownEncoderBlock2D",) * 2,
            latent_channels=4,
            layers_per_block=1,
        ).eval()
        image_encoder, feature_extractor = _tiny_clip_vision(projection=True)
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        interpolation_type="linear",
        num_train_timesteps=1000,
        prediction_type="v_prediction",
        sigma_max=700.0,
        sigma_min=0.002,
        steps_offset=1,
        timestep_spacing="leading",
        timestep_type="continuous",
        use_karras_sigmas=True,
    )
    pipe = StableVideoDiffusionPipeline(
        vae=vae,
        image_encoder=image_encoder,
        unet=unet,
        scheduler=scheduler,
        feature_extractor=feature_extractor,
    )
    return save(pipe, dest)


def build_tiny_wan_i2v(dest: str | Path, *, seed: int = 0) -> Path:
    """Write a randomly initialised ``WanImageToVideoPipeline`` folder (Wan 2.1 I2V layout) to ``dest``.

    Same structure as Wan2.1-I2V: a DiT over 36 channels (16 noisy latents + 4 first-frame mask + 16
    first-frame video latents), CLIP image tokens through ``image_dim``, UMT5 text, the causal 3D VAE
    (8x space, 4x time: 4k+1 frames) and a flow-matching Euler scheduler.
    """
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        WanImageToVideoPipeline,
        WanTransformer3DModel,
    )
    from transformers import UMT5Config, UMT5EncoderModel

    tokenizer = tiny_t5_tokenizer(max_length=512)
    with seeded(seed):
        vae = AutoencoderKLWan(
            base_dim=3,
            z_dim=16,
            dim_mult=[1, 1, 1, 1],
            num_res_blocks=1,
            temperal_downsample=[False, True, True],
        ).eval()
        text_encoder = UMT5EncoderModel(UMT5Config(**tiny_t5_settings(len(tokenizer)))).eval()
        image_encoder, image_processor = _tiny_clip_vision(projection=False)
        transformer = WanTransformer3DModel(
            patch_size=(1, 2, 2),
            num_attention_heads=2,
            attention_head_dim=12,
            in_channels=36,
            out_channels=16,
            text_dim=16,
            freq_dim=32,
            ffn_dim=32,
            num_layers=4,
            image_dim=16,
            rope_max_seq_len=32,
        ).eval()
    scheduler = FlowMatchEulerDiscreteScheduler(shift=3.0)
    pipe = WanImageToVideoPipeline(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        vae=vae,
        scheduler=scheduler,
        image_processor=image_processor,
        image_encoder=image_encoder,
        transformer=transformer,
    )
    return save(pipe, dest)


def panning_texture(count: int = 4, size: int = 32, seed: int = 0) -> np.ndarray:
    """A smooth random texture panning diagonally, (count, size, size, 3) uint8: the tiny models' clip,
    with structure and motion at sizes where a real clip would be a few blurred pixels."""
    rng = np.random.default_rng(seed)
    big = size + 2 * count
    texture = (rng.random((8, 8, 3)) * 255).astype(np.uint8)
    base = cv2.resize(texture, (big, big), interpolation=cv2.INTER_CUBIC)
    return np.stack([base[2 * i : 2 * i + size, 2 * i : 2 * i + size] for i in range(count)])
