"""``flux_kontext``: diffusers' ``FluxKontextPipeline`` (FLUX.1 Kontext [dev] and fine-tunes).

Kontext is guidance-distilled: text guidance is the embedded ``guidance_scale`` fed to the transformer,
not classifier-free guidance, and there is no image guidance (recorded as None). The pipeline would
snap the image to one of its preferred ~1 MP resolutions and the output to ``max_area``; here both are
set to the working size (the input's aspect at ``resolution``², multiples of 16, 1024 by default, which
lands within a few pixels of Kontext's preferred sizes) so the output maps back onto the input exactly.

The sweep sampler needs no extra branches: the guidance embedding takes one value per row, so every
candidate of a chunk runs in one transformer batch with its own guidance.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from insvie.backends.image_edit.diffusers_base import DiffusersEditor, Resolution
from insvie.backends.image_edit.sweep import SweepChunk, flow_match_timesteps, fresh_scheduler


class FluxKontextEditor(DiffusersEditor):
    name: ClassVar[str] = "flux_kontext"
    pipeline_class: ClassVar[str] = "FluxKontextPipeline"
    multiple: ClassVar[int] = 16
    default_resolution: ClassVar[Resolution] = 1024
    guidance_arguments: ClassVar[tuple[str, str | None]] = ("guidance_scale", None)

    def _inputs(self, image: Any, instruction: str, count: int, size: tuple[int, int]) -> dict[str, Any]:
        """Pins both the image snap and the output area to the working size (see the module docstring)."""
        height, width = size
        return {
            **super()._inputs(image, instruction, count, size),
            "max_area": height * width,
            "_auto_resize": False,
        }

    def _sweep(self, chunk: SweepChunk) -> np.ndarray:
        """The pipeline's ``__call__`` (no true CFG, no IP-adapter) over all candidates at once."""
        import torch

        pipe = self.pipe
        device = pipe._execution_device
        height, width = chunk.size
        count = len(chunk.settings)
        text, pooled, text_ids = pipe.encode_prompt(
            prompt=chunk.instructions, prompt_2=None, device=device, max_sequence_length=512
        )
        text, pooled = chunk.per_candidate(text), chunk.per_candidate(pooled)
        # The pipeline encodes one source per candidate, each alone (a list of generators): once per
        # item here, each alone too, so the latents are the very same.
        sources = [
            pipe._encode_vae_image(
                pipe.image_processor.preprocess(image, height, width).to(device, text.dtype), None
            )
            for image in chunk.images
        ]
        latents, image_latents, latent_ids, image_ids = pipe.prepare_latents(
            chunk.per_candidate(torch.cat(sources)),
            count,
            pipe.transformer.config.in_channels // 4,
            height,
            width,
            text.dtype,
            device,
            chunk.generators,
        )
        latent_ids = torch.cat([latent_ids, image_ids], dim=0)

        scheduler = fresh_scheduler(pipe.scheduler)
        timesteps = flow_match_timesteps(scheduler, chunk.steps, latents.shape[1], device)
        guidance = None
        if pipe.transformer.config.guidance_embeds:
            guidance = chunk.column([s.text_guidance for s in chunk.settings], latents).view(count)
        for t in timesteps:
            noise = pipe.transformer(
                hidden_states=torch.cat([latents, image_latents], dim=1),
                timestep=t.expand(count).to(latents.dtype) / 1000,
                guidance=guidance,
                pooled_projections=pooled,
                encoder_hidden_states=text,
                txt_ids=text_ids,
                img_ids=latent_ids,
                return_dict=False,
            )[0][:, : latents.size(1)]
            latents = scheduler.step(noise, t, latents, return_dict=False)[0]

        latents = pipe._unpack_latents(latents, height, width, pipe.vae_scale_factor)
        latents = latents / pipe.vae.config.scaling_factor + pipe.vae.config.shift_factor
        images = pipe.vae.decode(latents, return_dict=False)[0]
        return pipe.image_processor.postprocess(images, output_type="np")
