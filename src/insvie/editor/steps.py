"""Driving the sampler: the steps to visit, the starting noise, one step, and re-noising known frames.

An editor folder may carry the official sampler (:class:`~insvie.editor.scheduler.InsViEDPMScheduler`) or,
if written before it, CogVideoX's DDIM or DPM scheduler. Their ``step`` and ``add_noise`` signatures
differ, so every place that depends on the kind is here, and the denoising loop
(:mod:`insvie.editor.denoise`) calls each the same way. Everything is float32, as the official sampler
state is, whatever the model's dtype.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from diffusers import CogVideoXDDIMScheduler, CogVideoXDPMScheduler
from diffusers.utils.torch_utils import randn_tensor

from insvie.editor.guidance import guidance_scales
from insvie.editor.scheduler import InsViEDPMScheduler

Generator = torch.Generator | list[torch.Generator] | None
Scheduler = InsViEDPMScheduler | CogVideoXDDIMScheduler | CogVideoXDPMScheduler


def schedule(
    scheduler: Scheduler,
    settings: dict[str, Any],
    device: torch.device,
    step_noises: Sequence[torch.Tensor] | None,
) -> tuple[torch.Tensor, list[tuple[float, float]]]:
    """The timesteps to visit and the (text, video) guidance scales at each, for the call's ``settings``
    (:meth:`~insvie.editor.pipeline.InsViEEditPipeline.sampling_settings`); injected ``step_noises`` must
    be one per step but the last, and only the official sampler takes them."""
    scheduler.set_timesteps(settings["num_inference_steps"], device=device)
    timesteps = scheduler.timesteps
    if step_noises is not None:
        if not isinstance(scheduler, InsViEDPMScheduler):
            raise ValueError("step_noises need the official sampler (InsViEDPMScheduler)")
        if len(step_noises) != len(timesteps) - 1:
            raise ValueError(
                f"{len(timesteps)} steps add {len(timesteps) - 1} noises, got {len(step_noises)}"
            )
    scales = guidance_scales(
        settings["guidance_scale"],
        settings["video_guidance_scale"],
        settings["guidance_schedule"],
        [int(t) for t in timesteps],
    )
    return timesteps, scales


def initial_noise(
    scheduler: Scheduler,
    latents: torch.Tensor | None,
    shape: torch.Size,
    generator: Generator,
    device: torch.device,
) -> torch.Tensor:
    """The float32 starting point: the given noise (checked) or a draw from ``generator``."""
    if latents is None:
        latents = randn_tensor(shape, generator=generator, device=device, dtype=torch.float32)
    else:
        latents = latents.to(device=device, dtype=torch.float32)
        if latents.shape != shape:
            raise ValueError(f"latents {tuple(latents.shape)} do not match {tuple(shape)}")
    return latents * scheduler.init_noise_sigma


def scheduler_step(
    scheduler: Scheduler,
    noise_pred: torch.Tensor,
    timesteps: torch.Tensor,
    i: int,
    latents: torch.Tensor,
    old_pred_original_sample: torch.Tensor | None,
    *,
    eta: float,
    generator: Generator,
    noise: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Step ``i`` in float32: the next latents, and the x0 prediction CogVideoX's DPM sampler needs back
    at the next step (2nd order; the official sampler keeps its own, and DDIM needs none)."""
    t = timesteps[i]
    if isinstance(scheduler, InsViEDPMScheduler):
        step = scheduler.step(
            noise_pred, t, latents, generator=generator, variance_noise=noise, return_dict=False
        )
        return step[0], None
    if isinstance(scheduler, CogVideoXDPMScheduler):
        return scheduler.step(
            noise_pred,
            old_pred_original_sample,
            t,
            timesteps[i - 1] if i > 0 else None,
            latents.float(),
            eta=eta,
            generator=generator,
            return_dict=False,
        )
    step = scheduler.step(noise_pred, t, latents.float(), eta=eta, generator=generator, return_dict=False)
    return step[0], None


def noised_prefix(
    scheduler: Scheduler, prefix: torch.Tensor, noise: torch.Tensor, i: int, t: torch.Tensor
) -> torch.Tensor:
    """Known latent frames at the noise level step ``i`` (at timestep ``t``) starts from."""
    if isinstance(scheduler, InsViEDPMScheduler):
        return scheduler.add_noise_at_step(prefix, noise, i)
    return scheduler.add_noise(prefix, noise, t.reshape(1))
