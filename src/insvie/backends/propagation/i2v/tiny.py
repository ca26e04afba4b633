"""Tiny random image-to-video checkpoints (SVD and Wan 2.1 I2V layouts) for tests and benchmarks.

Each builder makes the very classes a real checkpoint loads, with configs shrunk to a few thousand
parameters, and writes them with ``save_pretrained``: the propagators then load the folder exactly as
they would load ``stabilityai/stable-video-diffusion-img2vid-xt`` or ``Wan-AI/Wan2.1-I2V-14B-480P-Diffusers``.
"""

from __future__ import annotations

from pathlib import Path

from insvie.tiny._common import save, seeded


def _tiny_clip_vision(projection: bool):
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
