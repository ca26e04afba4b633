"""Stable Video Diffusion as an invertible image-to-video model (diffusers components).

Loads a ``StableVideoDiffusionPipeline`` folder or hub id and reuses the pipeline's own conditioning
code (CLIP image embedding at 224 px, VAE latents of the noise-augmented frame, fps/motion/noise
micro-conditioning, per-frame guidance ramp), so a plain sample here equals the pipeline's output for
the same noise; the sampler adds inversion and feature injection around it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from insvie.backends.image_edit.loading import to_uint8
from insvie.backends.propagation.i2v.injection import FeatureInjector
from insvie.backends.propagation.i2v.pipeline_model import PipelineModel, noise_levels
from insvie.backends.propagation.i2v.sampler import Schedule
from insvie.backends.propagation.i2v.settings import I2VSettings


@dataclass(frozen=True)
class SvdCondition:
    """Conditioning frames ready for the UNet, one per window of a loop (batch axis ``B``): CLIP
    embedding, frame latents, micro-conditioning."""

    embeddings: Any  # (B, 1, D)
    image_latents: Any  # (B, F, C, h, w): the frame's latents repeated over the window
    time_ids: Any  # (B, 3): fps - 1, motion bucket, noise augmentation


def predicted_clean(output: Any, latents: Any, sigma: float, prediction_type: str) -> Any:
    """x0 from the model output, as ``EulerDiscreteScheduler.step`` computes it."""
    if prediction_type == "epsilon":
        return latents - sigma * output
    if prediction_type == "v_prediction":
        return output * (-sigma / (sigma**2 + 1) ** 0.5) + latents / (sigma**2 + 1)
    if prediction_type == "sample":
        return output
    raise ValueError(f"unsupported prediction_type {prediction_type!r}")


class SvdModel(PipelineModel):
    """The SVD components behind the sampler's :class:`~.sampler.Denoiser` protocol.

    Latents travel between steps in float32 whatever the model's dtype: at sigma ~700 a half-precision
    ODE state would lose the detail the inversion has to bring back.
    """

    name = "svd"
    default_guidance = 3.0

    def __init__(self, pipe: Any, settings: I2VSettings) -> None:
        super().__init__(pipe, settings)
        # pixels per latent cell of the deepest UNet level: frame sides must be multiples of it
        self.multiple = pipe.vae_scale_factor * 2 ** (len(pipe.unet.config.block_out_channels) - 1)

    @staticmethod
    def from_pretrained(settings: I2VSettings, dtype: Any) -> Any:
        """The ``StableVideoDiffusionPipeline`` of ``settings.model``."""
        from diffusers import StableVideoDiffusionPipeline

        return StableVideoDiffusionPipeline.from_pretrained(
            settings.model, revision=settings.revision, torch_dtype=dtype
        )

    @property
    def network(self) -> Any:
        return self.pipe.unet

    def schedule(self, steps: int) -> Schedule:
        sigmas = noise_levels(self.pipe.scheduler, steps)
        return Schedule(sigmas, list(self.pipe.scheduler.timesteps), clean_index=len(sigmas) - 2)

    @contextlib.contextmanager
    def _vae_precision(self) -> Iterator[None]:
        """float16 SVD VAEs run in float32 (``force_upcast``), as the pipeline does."""
        import torch

        vae = self.pipe.vae
        upcast = vae.dtype == torch.float16 and vae.config.force_upcast
        if upcast:
            vae.to(dtype=torch.float32)
        try:
            yield
        finally:
            if upcast:
                vae.to(dtype=torch.float16)

    def _pixels(self, frames: np.ndarray) -> Any:
        """uint8 (T, H, W, 3) to the pipeline's [-1, 1] (T, 3, H, W) tensor on the device."""
        import torch

        tensor = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        return tensor.to(self.device)

    def encode_video(self, frames: np.ndarray) -> Any:
        """Clean latents (1, T, C, h, w) of uint8 frames at the working size (VAE mode, scaled)."""
        import torch

        vae = self.pipe.vae
        chunk = self.settings.decode_chunk_size or len(frames)
        pixels = self._pixels(frames)
        with torch.no_grad(), self._vae_precision():
            parts = [
                vae.encode(pixels[i : i + chunk].to(vae.dtype)).latent_dist.mode()
                for i in range(0, len(pixels), chunk)
            ]
        latents = torch.cat(parts) * vae.config.scaling_factor
        return latents.unsqueeze(0).float()

    def condition(self, image: np.ndarray, num_frames: int, seed: int | None = None) -> SvdCondition:
        """The conditioning of one first frame (uint8 at the working size) for a ``num_frames`` window.

        The noise augmentation is drawn from ``seed`` (default ``settings.seed``), the clip's own, so the
        source and the edited frame get the same noise, an unchanged edit conditions exactly as the
        source, and a clip conditions the same whichever clips share its loop.
        """
        import torch
        from diffusers.utils.torch_utils import randn_tensor
        from PIL import Image

        pipe, cfg = self.pipe, self.settings
        pil = Image.fromarray(image)
        with torch.no_grad():
            embeddings = pipe._encode_image(pil, self.device, 1, False)
            pixels = pipe.video_processor.preprocess(pil, height=image.shape[0], width=image.shape[1])
            pixels = pixels.to(self.device)
            generator = torch.Generator("cpu").manual_seed(cfg.seed if seed is None else seed)
            noise = randn_tensor(pixels.shape, generator=generator, device=self.device, dtype=pixels.dtype)
            with self._vae_precision():
                latents = pipe._encode_vae_image(
                    pixels + cfg.noise_aug_strength * noise, self.device, 1, False
                )
        latents = latents.to(embeddings.dtype).unsqueeze(1).repeat(1, num_frames, 1, 1, 1)
        time_ids = pipe._get_add_time_ids(
            cfg.fps - 1, cfg.motion_bucket_id, cfg.noise_aug_strength, embeddings.dtype, 1, 1, False
        )
        return SvdCondition(embeddings, latents, time_ids.to(self.device))

    @staticmethod
    def stack(conditions: Sequence[SvdCondition]) -> SvdCondition:
        """One condition for windows stacked on the batch axis, in the order given."""
        import torch

        return SvdCondition(
            torch.cat([c.embeddings for c in conditions]),
            torch.cat([c.image_latents for c in conditions]),
            torch.cat([c.time_ids for c in conditions]),
        )

    def derivative(
        self, latents: Any, schedule: Schedule, index: int, condition: SvdCondition, guided: bool
    ) -> Any:
        """``(x - x0) / sigma`` with x0 from the UNet, guided per frame as the pipeline does."""
        import torch

        sigma = schedule.sigmas[index]
        guided = guided and self.guidance > 1.0
        model_input = latents / (sigma**2 + 1) ** 0.5  # EulerDiscreteScheduler.scale_model_input
        image_latents, embeddings = condition.image_latents, condition.embeddings
        time_ids = condition.time_ids
        if guided:
            model_input = torch.cat([model_input] * 2)
            image_latents = torch.cat([torch.zeros_like(image_latents), image_latents])
            embeddings = torch.cat([torch.zeros_like(embeddings), embeddings])
            time_ids = torch.cat([time_ids] * 2)
        with torch.no_grad():
            output = self.pipe.unet(
                torch.cat([model_input, image_latents], dim=2).to(self.dtype),
                schedule.timesteps[index].to(self.device),
                encoder_hidden_states=embeddings,
                added_time_ids=time_ids,
                return_dict=False,
            )[0]
        if guided:
            uncond, cond = output.chunk(2)
            frames = latents.shape[1]
            scale = torch.linspace(self.settings.min_guidance, self.guidance, frames, device=output.device)
            output = uncond + scale.to(output.dtype).view(1, frames, 1, 1, 1) * (cond - uncond)
        prediction = self.pipe.scheduler.config.prediction_type
        clean = predicted_clean(output.float(), latents, sigma, prediction)
        return (latents - clean) / sigma

    def initial_noise(self, num_frames: int, height: int, width: int, generator: Any) -> Any:
        """Gaussian latents at level 0, scaled as the pipeline's ``prepare_latents``."""
        import torch
        from diffusers.utils.torch_utils import randn_tensor

        factor = self.pipe.vae_scale_factor
        shape = (1, num_frames, self.pipe.unet.config.in_channels // 2, height // factor, width // factor)
        noise = randn_tensor(shape, generator=generator, device=self.device, dtype=torch.float32)
        return noise * self.pipe.scheduler.init_noise_sigma

    def decode(self, latents: Any) -> np.ndarray:
        """uint8 frames (T, H, W, 3) of latents (1, T, C, h, w), ``decode_chunk_size`` frames at a time."""
        import torch

        frames = latents.shape[1]
        chunk = self.settings.decode_chunk_size or frames
        with torch.no_grad(), self._vae_precision():
            video = self.pipe.decode_latents(latents.to(self.pipe.vae.dtype), frames, chunk)
        images = self.pipe.video_processor.postprocess_video(video=video, output_type="np")[0]
        return to_uint8(np.asarray(images))

    def injector(self, blocks: str) -> FeatureInjector:
        """Hooks for ``blocks``: ``up`` (plug-and-play's choice) takes the resnets of every decoder block
        but the last, highest-resolution one, and the spatial and temporal self-attention q/k of every
        decoder block; ``all`` takes every resnet and self-attention of the UNet.

        Replacing the last decoder block's resnets too would hand the edited branch nearly the source's
        output; ``all`` does so on purpose, a strict lock in which only the cross-attention to the
        edited frame's CLIP embedding still differs.
        """
        unet = self.pipe.unet
        last_up = f"up_blocks.{len(unet.up_blocks) - 1}."
        features, attention = [], []
        for name, module in unet.named_modules():
            in_up = name.startswith("up_blocks.")
            if type(module).__name__ == "SpatioTemporalResBlock":
                if blocks == "all" or (in_up and not name.startswith(last_up)):
                    features.append(module)
            elif name.endswith(".attn1") and (blocks == "all" or in_up):
                attention += [module.to_q, module.to_k]
        return FeatureInjector(features, attention, offload=self.settings.cpu_offload)
