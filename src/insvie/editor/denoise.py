"""The denoising loop: from noise to the edited latents, one guided prediction and sampler step at a time.

Random draws come in the official order (the source posterior is drawn before this loop): the initial
noise, the prefix noise, then each step's noise. Two things beyond the plain loop:

- CogVideoX 1.5 patches latent frames in pairs (``patch_size_t``): an odd count is padded at the front
  with copies of the first source frame for sampling, and the padding dropped afterwards;
- prefix latents (clean latent frames the edit must keep, used to chain the windows of a long video,
  :mod:`insvie.editor.windows`) are re-noised to each step's level and written over the noisy latents
  before the step, and written clean after the last one: the original sampler's ``fixed_frames`` with
  ``sdedit``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch
from diffusers.utils.torch_utils import randn_tensor

from insvie.editor.steps import Generator, initial_noise, noised_prefix, schedule, scheduler_step

if TYPE_CHECKING:
    from insvie.editor.parts import EditPipelineParts


@dataclasses.dataclass
class StepTensors:
    """What each step reads, under the names a step-end callback gets and may replace them by."""

    latents: torch.Tensor
    source_latents: torch.Tensor
    prompt_embeds: torch.Tensor
    negative_prompt_embeds: torch.Tensor

    def named(self, names: Sequence[str]) -> dict[str, torch.Tensor]:
        """The tensors a callback asked for, by name."""
        return {name: getattr(self, name) for name in names}

    def replace(self, returned: dict[str, torch.Tensor]) -> StepTensors:
        """These tensors, with those a callback returned under a known name in their place."""
        return dataclasses.replace(
            self, **{name: returned[name] for name in CALLBACK_TENSORS if name in returned}
        )


CALLBACK_TENSORS: tuple[str, ...] = tuple(field.name for field in dataclasses.fields(StepTensors))


@dataclasses.dataclass(frozen=True)
class Denoising:
    """How one call samples: its resolved sampling settings (steps, scales, schedule) and what steers
    each step (see ``InsViEEditPipeline.__call__`` for each argument)."""

    settings: dict[str, Any]
    generator: Generator = None
    eta: float = 0.0
    step_noises: Sequence[torch.Tensor] | None = None
    attention_kwargs: dict[str, Any] | None = None
    callback: Callable[..., dict[str, Any]] | None = None
    callback_tensors: Sequence[str] = ("latents",)

    def step_noise(self, i: int) -> torch.Tensor | None:
        """The injected noise of step ``i``, or None to draw it (always None at the last step)."""
        return None if self.step_noises is None or i >= len(self.step_noises) else self.step_noises[i]


def _pad_front(source: torch.Tensor, patch_size_t: int | None) -> tuple[torch.Tensor, int]:
    """``source`` padded at the front with its first frame to a multiple of ``patch_size_t``, and the pad."""
    pad = (-source.shape[1]) % patch_size_t if patch_size_t else 0
    if pad:
        source = torch.cat([source[:, :1].repeat(1, pad, 1, 1, 1), source], dim=1)
    return source, pad


@dataclasses.dataclass(frozen=True)
class _Prefix:
    """Latent frames the edit keeps: where they sit in the sampled latents, their values, their noise."""

    frames: slice
    clean: torch.Tensor
    noise: torch.Tensor


def _prefix(
    prefix_latents: torch.Tensor, pad: int, latent_frames: int, latents: torch.Tensor, generator: Generator
) -> _Prefix:
    """Prefix latents as (batch, P, C, h, w) after the ``pad`` frames, checked against the latents they
    will be written into, with the noise that re-noises them at every step (drawn now, in draw order)."""
    prefix = prefix_latents.to(device=latents.device, dtype=torch.float32)
    if prefix.ndim == 4:
        prefix = prefix.unsqueeze(0)
    prefix = prefix.expand(latents.shape[0], *prefix.shape[1:])
    if prefix.shape[1] > latent_frames or prefix.shape[2:] != latents.shape[2:]:
        raise ValueError(f"prefix_latents {tuple(prefix.shape)} do not fit latents {tuple(latents.shape)}")
    noise = randn_tensor(prefix.shape, generator=generator, device=latents.device, dtype=torch.float32)
    return _Prefix(slice(pad, pad + prefix.shape[1]), prefix, noise)


def denoise(
    pipe: EditPipelineParts,
    conditioning: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    run: Denoising,
    latents: torch.Tensor | None,
    prefix_latents: torch.Tensor | None,
    size: tuple[int, int],
) -> torch.Tensor:
    """The sampled latents (B, F, C, h, w), float32, for ``conditioning`` (source latents, text and
    "no text" embeddings, one row per output video), starting from ``latents`` or drawn noise."""
    device, scheduler = pipe._execution_device, pipe.scheduler
    source, prompt, negative = conditioning
    latent_frames = source.shape[1]
    source, pad = _pad_front(source, pipe.transformer.config.patch_size_t)
    timesteps, scales = schedule(scheduler, run.settings, device, run.step_noises)
    guided = any(pair != (1.0, 1.0) for pair in scales)
    tensors = StepTensors(
        initial_noise(scheduler, latents, source.shape, run.generator, device), source, prompt, negative
    )
    prefix = None
    if prefix_latents is not None:
        prefix = _prefix(prefix_latents, pad, latent_frames, tensors.latents, run.generator)
    rotary = pipe._rotary_embeddings(*size, tensors.latents.shape[1], device)
    pipe._num_timesteps = len(timesteps)
    old_pred_original_sample = None
    with pipe.progress_bar(total=len(timesteps)) as progress:
        for i, t in enumerate(timesteps):
            if prefix is not None:
                tensors.latents[:, prefix.frames] = noised_prefix(scheduler, prefix.clean, prefix.noise, i, t)
            noise_pred = pipe.guided_prediction(
                tensors.latents,
                tensors.source_latents,
                tensors.prompt_embeds,
                tensors.negative_prompt_embeds,
                t,
                *scales[i],
                image_rotary_emb=rotary,
                attention_kwargs=run.attention_kwargs,
                guided=guided,
            )
            tensors.latents, old_pred_original_sample = scheduler_step(
                scheduler,
                noise_pred,
                timesteps,
                i,
                tensors.latents,
                old_pred_original_sample,
                eta=run.eta,
                generator=run.generator,
                noise=run.step_noise(i),
            )
            if run.callback is not None:
                tensors = tensors.replace(run.callback(pipe, i, t, tensors.named(run.callback_tensors)) or {})
            progress.update()
    if prefix is not None:
        tensors.latents[:, prefix.frames] = prefix.clean
    return tensors.latents[:, pad:]
