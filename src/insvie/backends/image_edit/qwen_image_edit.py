"""``qwen_image_edit``: diffusers' ``QwenImageEditPipeline`` (Qwen-Image-Edit).

Text guidance is ``true_cfg_scale``: real classifier-free guidance against ``negative_prompt`` (a
single space by default, which is what switches it on); there is no image guidance (recorded as None).
The pipeline always encodes the source image at about 1 MP for its own conditioning; the output is made
at the working size (the input's aspect at ``resolution``², multiples of 16, 1024 by default). The
prompt processor is built by us from the checkpoint's ``processor/`` folder, torchvision or not.

The sweep sampler encodes each item's prompt, negative prompt and source once, stacks the conditional
and negative branches of every candidate into one transformer batch (prompts of different lengths padded
and masked, as the pipeline does for a list of prompts) and applies ``true_cfg_scale`` per candidate,
norm rescaling included; a candidate at ``true_cfg_scale`` <= 1 takes its conditional branch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from insvie.backends.hub import cannot_load
from insvie.backends.image_edit.diffusers_base import DiffusersEditor, Resolution
from insvie.backends.image_edit.sweep import SweepChunk, flow_match_timesteps, fresh_scheduler, scaled
from insvie.errors import ConfigError


class QwenImageEditEditor(DiffusersEditor):
    name: ClassVar[str] = "qwen_image_edit"
    pipeline_class: ClassVar[str] = "QwenImageEditPipeline"
    multiple: ClassVar[int] = 16
    default_resolution: ClassVar[Resolution] = 1024
    guidance_arguments: ClassVar[tuple[str, str | None]] = ("true_cfg_scale", None)

    def __init__(self, model: str, *, negative_prompt: str = " ", **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self.negative_prompt = negative_prompt

    def _processor_folder(self) -> Path:
        folder = Path(self.model)
        if folder.is_dir():
            return folder / "processor"
        from huggingface_hub import snapshot_download

        try:
            snapshot = snapshot_download(self.model, revision=self.revision, allow_patterns=["processor/*"])
        except Exception as exc:  # hub errors are many classes; all mean the same here
            raise cannot_load(
                f"image editor {self.name!r} model", self.model, exc, part="its processor"
            ) from exc
        return Path(snapshot) / "processor"

    def _extra_components(self) -> dict[str, Any]:
        """Always the image-only processor: the stock one needs torchvision (see ``qwen_processor``), and
        one processor everywhere keeps candidates the same on machines with and without it."""
        from insvie.backends.image_edit.qwen_processor import ImageOnlyQwen2VLProcessor

        folder = self._processor_folder()
        try:
            processor = ImageOnlyQwen2VLProcessor.from_folder(folder)
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"image editor {self.name!r}: cannot read the processor in {folder}: {exc}"
            ) from exc
        return {"processor": processor}

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "negative_prompt": self.negative_prompt,
            "processor": "ImageOnlyQwen2VLProcessor (Qwen2VLImageProcessorPil + Qwen2Tokenizer)",
        }

    def _inputs(self, image: Any, instruction: str, count: int, size: tuple[int, int]) -> dict[str, Any]:
        """The negative prompt is what switches ``true_cfg_scale`` on (see the module docstring)."""
        return {**super()._inputs(image, instruction, count, size), "negative_prompt": self.negative_prompt}

    def _sweep(self, chunk: SweepChunk) -> np.ndarray:
        """The pipeline's ``__call__`` over all candidates at once, with per-candidate ``true_cfg_scale``."""
        import torch
        from diffusers.pipelines.qwenimage.pipeline_qwenimage_edit import calculate_dimensions

        pipe = self.pipe
        device = pipe._execution_device
        height, width = chunk.size
        count = len(chunk.settings)
        true_cfg = [self.negative_prompt is not None and s.text_guidance > 1 for s in chunk.settings]
        # Per item, as the pipeline makes them: the ~1 MP prompt image, the prompt embeddings of the
        # instruction (and of the negative prompt) with that image, and the image's latents, each alone.
        cond_width, cond_height, _ = calculate_dimensions(1024 * 1024, width / height)
        prompts, negatives, sources = [], [], []
        for image, instruction in zip(chunk.images, chunk.instructions, strict=True):
            prompt_image = pipe.image_processor.resize(image, cond_height, cond_width)
            embeds = pipe.encode_prompt(prompt=instruction, image=prompt_image, device=device)[0]
            prompts.append(embeds[0])
            if any(true_cfg):
                negative = pipe.encode_prompt(prompt=self.negative_prompt, image=prompt_image, device=device)
                negatives.append(negative[0][0])
            pixels = pipe.image_processor.preprocess(prompt_image, cond_height, cond_width).unsqueeze(2)
            sources.append(pipe._encode_vae_image(pixels.to(device, embeds.dtype), None))
        rows = [prompts[o] for o in chunk.owners]  # the conditional branch, then the negative one
        if negatives:
            rows += [negatives[o] for o in chunk.owners]
        length = max(row.shape[0] for row in rows)
        embeds = torch.stack(
            [torch.cat([row, row.new_zeros(length - row.shape[0], row.shape[1])]) for row in rows]
        )
        mask = torch.stack([torch.arange(length, device=device) < row.shape[0] for row in rows])
        mask = None if mask.all() else mask  # the pipeline passes no mask when nothing is padded

        latents, image_latents = pipe.prepare_latents(
            chunk.per_candidate(torch.cat(sources)),
            count,
            pipe.transformer.config.in_channels // 4,
            height,
            width,
            embeds.dtype,
            device,
            chunk.generators,
        )
        factor = pipe.vae_scale_factor * 2
        shapes = [(1, height // factor, width // factor), (1, cond_height // factor, cond_width // factor)]
        scheduler = fresh_scheduler(pipe.scheduler)
        timesteps = flow_match_timesteps(scheduler, chunk.steps, latents.shape[1], device)
        scale = chunk.column([s.text_guidance for s in chunk.settings], latents)
        guided = chunk.column([float(on) for on in true_cfg], latents).bool()
        for t in timesteps:
            model_input = torch.cat([latents, image_latents], dim=1).repeat(len(rows) // count, 1, 1)
            noise = pipe.transformer(
                hidden_states=model_input,
                timestep=t.expand(len(rows)).to(latents.dtype) / 1000,
                encoder_hidden_states_mask=mask,
                encoder_hidden_states=embeds,
                img_shapes=[shapes] * len(rows),
                return_dict=False,
            )[0][:, : latents.size(1)]
            if negatives:
                noise, negative = noise.chunk(2)
                combined = negative + scaled(scale, noise - negative)
                combined = combined * (
                    torch.norm(noise, dim=-1, keepdim=True) / torch.norm(combined, dim=-1, keepdim=True)
                )
                noise = torch.where(guided, combined, noise)
            latents = scheduler.step(noise, t, latents, return_dict=False)[0]

        latents = pipe._unpack_latents(latents, height, width, pipe.vae_scale_factor).to(pipe.vae.dtype)
        config = pipe.vae.config

        def per_channel(values: list[float]) -> torch.Tensor:
            return torch.tensor(values).view(1, config.z_dim, 1, 1, 1).to(latents.device, latents.dtype)

        # Written as the pipeline writes it (divided by 1/std), so half precision rounds the same.
        latents = latents / (1.0 / per_channel(config.latents_std)) + per_channel(config.latents_mean)
        images = pipe.vae.decode(latents, return_dict=False)[0][:, :, 0]
        return pipe.image_processor.postprocess(images, output_type="np")
