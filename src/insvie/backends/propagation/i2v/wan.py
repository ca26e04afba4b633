"""Wan 2.1 image-to-video as an invertible model: flow matching, so inversion is the Euler ODE backwards.

Loads a ``WanImageToVideoPipeline`` folder or hub id (Wan2.1-I2V layout: DiT over noisy latents
concatenated with a first-frame mask and the VAE latents of [first frame, zeros...], CLIP image
tokens, UMT5 text). The velocity field is sampled with first-order Euler steps on the flow-matching
sigmas (``FlowMatchEulerDiscreteScheduler``; a checkpoint shipping UniPC gets the Euler scheduler with
its ``flow_shift``), whose inverse is the same steps up from sigma 0, where the model is defined.

Windows must hold 4k+1 frames (the VAE packs 4 frames per latent after the first); a shorter last
window is padded with its last frame and cropped. Wan 2.2's two-expert and TI2V checkpoints are not
supported. Prompt text is encoded here rather than by the pipeline, whose cleaning needs ``ftfy``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from insvie.backends.image_edit.loading import to_uint8
from insvie.backends.propagation.i2v.injection import FeatureInjector
from insvie.backends.propagation.i2v.pipeline_model import PipelineModel, noise_levels
from insvie.backends.propagation.i2v.sampler import Schedule
from insvie.backends.propagation.i2v.settings import I2VSettings

MAX_TEXT_TOKENS = 512  # the pipeline's max_sequence_length


@dataclass(frozen=True)
class WanCondition:
    """Conditioning frames, one per window of a loop (batch axis ``B``): mask + frame latents, CLIP
    tokens, text embeddings."""

    latents: Any  # (B, 4 + C, f, h, w)
    image_embeds: Any  # (B, tokens, D) or None for checkpoints without image cross-attention
    prompt: Any  # (B, 512, D)
    negative: Any


class WanModel(PipelineModel):
    """The Wan components behind the sampler's :class:`~.sampler.Denoiser` protocol (float32 ODE state)."""

    name = "wan"
    default_guidance = 5.0

    def __init__(self, pipe: Any, settings: I2VSettings) -> None:
        super().__init__(pipe, settings)
        self.multiple = pipe.vae_scale_factor_spatial * pipe.transformer.config.patch_size[1]
        self.frame_multiple = pipe.vae_scale_factor_temporal
        self._texts: dict[str, Any] = {}
        if (settings.num_frames - 1) % self.frame_multiple:
            raise ValueError(
                f"Wan windows hold {self.frame_multiple}k+1 frames, got num_frames={settings.num_frames}"
            )

    @staticmethod
    def from_pretrained(settings: I2VSettings, dtype: Any) -> Any:
        """The ``WanImageToVideoPipeline`` of ``settings.model``; VAE and CLIP stay float32 as Wan advises."""
        import torch
        from diffusers import AutoencoderKLWan, WanImageToVideoPipeline
        from transformers import CLIPVisionModel

        # VAE and CLIP load in float32, as Wan's model cards do (a cast after loading would not keep the
        # modules diffusers pins to float32)
        kept = {"vae": AutoencoderKLWan}
        index = WanImageToVideoPipeline.load_config(settings.model, revision=settings.revision)
        if (index.get("image_encoder") or [None])[0] is not None:
            kept["image_encoder"] = CLIPVisionModel
        components = {
            name: cls.from_pretrained(
                settings.model, subfolder=name, revision=settings.revision, torch_dtype=torch.float32
            )
            for name, cls in kept.items()
        }
        pipe = WanImageToVideoPipeline.from_pretrained(
            settings.model, revision=settings.revision, torch_dtype=dtype, **components
        )
        if pipe.transformer_2 is not None or pipe.config.expand_timesteps or pipe.transformer is None:
            raise ValueError(
                f"{settings.model}: Wan 2.2 two-expert / TI2V checkpoints are not supported (Wan 2.1 I2V)"
            )
        return pipe

    @property
    def network(self) -> Any:
        return self.pipe.transformer

    def schedule(self, steps: int) -> Schedule:
        import torch
        from diffusers import FlowMatchEulerDiscreteScheduler

        scheduler = self.pipe.scheduler
        if not isinstance(scheduler, FlowMatchEulerDiscreteScheduler):
            shift = getattr(scheduler.config, "flow_shift", None) or 1.0
            scheduler = FlowMatchEulerDiscreteScheduler(
                num_train_timesteps=scheduler.config.num_train_timesteps, shift=shift
            )
        sigmas = noise_levels(scheduler, steps)
        timesteps = [*scheduler.timesteps, torch.tensor(0.0)]  # sigma 0 is a valid input: t = 0
        return Schedule(sigmas, timesteps, clean_index=len(sigmas) - 1)

    def _normalise(self, latents: Any, forward: bool) -> Any:
        import torch

        config = self.pipe.vae.config
        mean = torch.tensor(config.latents_mean).view(1, config.z_dim, 1, 1, 1).to(latents.device)
        std = torch.tensor(config.latents_std).view(1, config.z_dim, 1, 1, 1).to(latents.device)
        return (latents - mean) / std if forward else latents * std + mean

    def encode_video(self, frames: np.ndarray) -> Any:
        """Normalised clean latents (1, C, f, h, w) of uint8 frames (4k+1 of them) at the working size."""
        import torch

        pixels = torch.from_numpy(np.ascontiguousarray(frames)).permute(3, 0, 1, 2).float() / 127.5 - 1.0
        with torch.no_grad():
            latents = self.pipe.vae.encode(pixels[None].to(self.device)).latent_dist.mode()
        return self._normalise(latents.float(), forward=True)

    def _text(self, prompt: str) -> Any:
        """``_get_t5_prompt_embeds`` without ftfy: padded to 512 tokens, zeros past the prompt's length.

        Encoded once per prompt and model: every window of every clip is conditioned on the same two
        texts, and Wan's UMT5-XXL encoder has billions of parameters."""
        if prompt not in self._texts:
            self._texts[prompt] = self._encode_text(prompt)
        return self._texts[prompt]

    def _encode_text(self, prompt: str) -> Any:
        import torch

        pipe = self.pipe
        text = " ".join(html.unescape(html.unescape(prompt)).split())
        tokens = pipe.tokenizer(
            [text],
            padding="max_length",
            max_length=MAX_TEXT_TOKENS,
            truncation=True,
            add_special_tokens=True,
            return_attention_mask=True,
            return_tensors="pt",
        )
        mask = tokens.attention_mask.to(self.device)
        with torch.no_grad():
            embeds = pipe.text_encoder(tokens.input_ids.to(self.device), mask).last_hidden_state
        return (embeds * mask[..., None]).to(self.dtype)

    def condition(self, image: np.ndarray, num_frames: int, seed: int | None = None) -> WanCondition:
        """The pipeline's own first-frame conditioning (mask + latents of [frame, zeros...]) for a window;
        it draws no noise, so ``seed`` (the SVD model's signature) changes nothing."""
        import torch
        from PIL import Image

        pipe = self.pipe
        pil = Image.fromarray(image)
        height, width = image.shape[:2]
        with torch.no_grad():
            image_embeds = None
            if pipe.transformer.config.image_dim is not None:
                image_embeds = pipe.encode_image(pil, self.device).to(self.dtype)
            pixels = pipe.video_processor.preprocess(pil, height=height, width=width).to(
                self.device, torch.float32
            )
            placeholder = torch.zeros(1, device=self.device)  # given latents: prepare_latents draws no noise
            _, latents = pipe.prepare_latents(
                pixels,
                1,
                pipe.vae.config.z_dim,
                height,
                width,
                num_frames,
                torch.float32,
                self.device,
                None,
                placeholder,
            )
        cfg = self.settings
        return WanCondition(latents, image_embeds, self._text(cfg.prompt), self._text(cfg.negative_prompt))

    @staticmethod
    def stack(conditions: Sequence[WanCondition]) -> WanCondition:
        """One condition for windows stacked on the batch axis, in the order given."""
        import torch

        first = conditions[0]
        return WanCondition(
            torch.cat([c.latents for c in conditions]),
            None if first.image_embeds is None else torch.cat([c.image_embeds for c in conditions]),
            torch.cat([c.prompt for c in conditions]),
            torch.cat([c.negative for c in conditions]),
        )

    def _velocity(self, model_input: Any, timestep: Any, condition: WanCondition, prompt: Any) -> Any:
        return self.pipe.transformer(
            hidden_states=model_input,
            timestep=timestep,
            encoder_hidden_states=prompt,
            encoder_hidden_states_image=condition.image_embeds,
            return_dict=False,
        )[0]

    def derivative(
        self, latents: Any, schedule: Schedule, index: int, condition: WanCondition, guided: bool
    ) -> Any:
        """The predicted velocity, guided as the pipeline does (conditional call, then unconditional)."""
        import torch

        model_input = torch.cat([latents, condition.latents], dim=1).to(self.dtype)
        timestep = schedule.timesteps[index].to(self.device).expand(latents.shape[0])
        with torch.no_grad():
            velocity = self._velocity(model_input, timestep, condition, condition.prompt).float()
            if guided and self.guidance > 1.0:
                unconditional = self._velocity(model_input, timestep, condition, condition.negative).float()
                velocity = unconditional + self.guidance * (velocity - unconditional)
        return velocity

    def initial_noise(self, num_frames: int, height: int, width: int, generator: Any) -> Any:
        """Gaussian latents at sigma 1, the pipeline's shape."""
        import torch
        from diffusers.utils.torch_utils import randn_tensor

        pipe = self.pipe
        shape = (
            1,
            pipe.vae.config.z_dim,
            (num_frames - 1) // pipe.vae_scale_factor_temporal + 1,
            height // pipe.vae_scale_factor_spatial,
            width // pipe.vae_scale_factor_spatial,
        )
        return randn_tensor(shape, generator=generator, device=self.device, dtype=torch.float32)

    def decode(self, latents: Any) -> np.ndarray:
        """uint8 frames (T, H, W, 3); Wan's causal VAE decodes one latent frame at a time by itself."""
        import torch

        with torch.no_grad():
            video = self.pipe.vae.decode(self._normalise(latents, forward=False), return_dict=False)[0]
        images = self.pipe.video_processor.postprocess_video(video, output_type="np")[0]
        return to_uint8(np.asarray(images))

    def injector(self, blocks: str) -> FeatureInjector:
        """``up``: the output of the middle block (the residual stream there) and the self-attention q/k
        of the second half of the blocks, the DiT counterpart of plug-and-play's decoder layers;
        ``all``: every block's output and self-attention."""
        layers = list(self.pipe.transformer.blocks)
        half = len(layers) // 2
        features, attended = (layers, layers) if blocks == "all" else ([layers[half]], layers[half:])
        attention = [p for block in attended for p in (block.attn1.to_q, block.attn1.to_k)]
        return FeatureInjector(features, attention, offload=self.settings.cpu_offload)
