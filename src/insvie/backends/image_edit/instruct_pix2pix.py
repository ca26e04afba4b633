"""``instruct_pix2pix``: diffusers' ``StableDiffusionInstructPix2PixPipeline`` (InstructPix2Pix, MagicBrush).

The paper's editor family. Text guidance is ``guidance_scale``, image guidance ``image_guidance_scale``;
the pipeline runs its three-branch guidance only while text guidance > 1 and image guidance >= 1 (below
that it samples the conditional branch alone, which is a valid but unguided candidate). Works at the
input's own size by default: Stable Diffusion 1.5 handles 480x720 and 576x1024 frames directly.

The sweep sampler stacks the three branches (text+image, image only, neither) of every candidate into one
UNet batch and applies both guidance scales as per-candidate tensors; a candidate whose setting turns the
guidance off takes its text branch, as the pipeline's single-branch path does.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from insvie.backends.image_edit.diffusers_base import DiffusersEditor, Resolution
from insvie.backends.image_edit.settings import DEFAULT_IMAGE_GUIDANCE, GuidanceSetting
from insvie.backends.image_edit.sweep import SweepChunk, fresh_scheduler, scaled


class InstructPix2PixEditor(DiffusersEditor):
    name: ClassVar[str] = "instruct_pix2pix"
    pipeline_class: ClassVar[str] = "StableDiffusionInstructPix2PixPipeline"
    multiple: ClassVar[int] = 8
    default_resolution: ClassVar[Resolution] = "input"
    guidance_arguments: ClassVar[tuple[str, str | None]] = ("guidance_scale", "image_guidance_scale")

    def effective(self, setting: GuidanceSetting) -> GuidanceSetting:
        """A missing image guidance means the usual 1.5."""
        image = DEFAULT_IMAGE_GUIDANCE if setting.image_guidance is None else setting.image_guidance
        return GuidanceSetting(setting.text_guidance, image, setting.steps)

    def _inputs(self, image: Any, instruction: str, count: int, size: tuple[int, int]) -> dict[str, Any]:
        """One prompt and image per candidate (the pipeline deprecates broadcasting), and no size: the
        pipeline makes the image's own, which is already the working size."""
        return {"prompt": [instruction] * count, "image": [image] * count}

    def _sweep(self, chunk: SweepChunk) -> np.ndarray:
        """The pipeline's ``__call__`` over all candidates at once, with per-candidate guidance."""
        import torch
        from diffusers.utils.torch_utils import randn_tensor

        pipe = self.pipe
        device = pipe._execution_device
        count = len(chunk.settings)
        # Per item: prompt embeddings (branches: instruction, "", "") and the source's VAE latents.
        text, negative, _ = pipe._encode_prompt(chunk.instructions, device, 1, True).chunk(3)
        dtype = text.dtype
        sources = pipe.image_processor.preprocess(chunk.images)
        latents_of_items = pipe.prepare_image_latents(sources, len(chunk.images), 1, dtype, device, False)
        image_latents = chunk.per_candidate(latents_of_items)
        image_latents = torch.cat([image_latents, image_latents, torch.zeros_like(image_latents)])
        embeds = torch.cat([chunk.per_candidate(text), *[chunk.per_candidate(negative)] * 2])

        scheduler = fresh_scheduler(pipe.scheduler)
        scheduler.set_timesteps(chunk.steps, device=device)
        # pipe.prepare_latents would scale by the pipeline's own scheduler's init_noise_sigma, which
        # depends on the step count it last ran; the loop's scheduler is the one that counts.
        shape = (count, pipe.vae.config.latent_channels, *image_latents.shape[-2:])
        latents = randn_tensor(shape, generator=chunk.generators, device=device, dtype=dtype)
        latents = latents * scheduler.init_noise_sigma
        step_kwargs = pipe.prepare_extra_step_kwargs(chunk.generators, 0.0)

        text_scale = chunk.column([s.text_guidance for s in chunk.settings], latents)
        image_scale = chunk.column([s.image_guidance for s in chunk.settings], latents)
        guided = chunk.column(
            [float(s.text_guidance > 1.0 and s.image_guidance >= 1.0) for s in chunk.settings], latents
        ).bool()
        for t in scheduler.timesteps:
            model_input = scheduler.scale_model_input(torch.cat([latents] * 3), t)
            model_input = torch.cat([model_input, image_latents], dim=1)
            noise = pipe.unet(model_input, t, encoder_hidden_states=embeds, return_dict=False)[0]
            noise_text, noise_image, noise_uncond = noise.chunk(3)
            combined = (
                noise_uncond
                + scaled(text_scale, noise_text - noise_image)
                + scaled(image_scale, noise_image - noise_uncond)
            )
            noise = torch.where(guided, combined, noise_text)
            latents = scheduler.step(noise, t, latents, **step_kwargs, return_dict=False)[0]

        images = pipe.vae.decode(latents / pipe.vae.config.scaling_factor, return_dict=False)[0]
        images, nsfw = pipe.run_safety_checker(images, device, dtype)
        denormalize = [True] * count if nsfw is None else [not flagged for flagged in nsfw]
        return pipe.image_processor.postprocess(images, output_type="np", do_denormalize=denormalize)
