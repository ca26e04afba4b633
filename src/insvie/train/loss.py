"""The InsViE training objective: v-prediction on CogVideoX's zero-terminal-SNR schedule.

    training_alphas_cumprod(config=None) -> (1000,) float64 alpha_bar of the training schedule
    v_target(x0, noise, alphas_cumprod, timesteps) -> v = sqrt(a) eps - sqrt(1 - a) x0
    x0_estimate(model_pred, x0, noise, timesteps, alphas_cumprod) -> sqrt(a) x_t - sqrt(1 - a) v_hat
    frame_weights(num_frames) -> (1 - i/T)^2 for latent frame i of T
    editor_loss(model_pred, target_latents, noise, timesteps, alphas_cumprod, frame_weighting=True)

Schedule: DDPM ``scaled_linear`` betas (0.00085 .. 0.012, 1000 steps) whose alpha_bar is first shifted
by the SNR shift 3.0 (``a / (s + (1 - s) a)``, i.e. SNR / 3) and then rescaled to zero terminal SNR,
exactly as diffusers' ``CogVideoXDDIMScheduler`` builds it (``snr_shift_scale`` +
``rescale_betas_zero_snr``); we take its ``alphas_cumprod`` rather than re-deriving it.

Loss, as in the original SAT code (``VideoDiffusionLoss`` with the v-parameterised denoiser): the
network output is read as a velocity v, turned into a clean-latent estimate
``x0_hat = sqrt(a) x_t - sqrt(1 - a) v_hat`` and compared with the clean target latents under the
per-sample weight ``w = 1 / (1 - a_t)``. Because ``x0_hat - x0 = -sqrt(1 - a) (v_hat - v)``, this is
algebraically the plain MSE in v-space, ``w (x0_hat - x0)^2 == (v_hat - v)^2``; the x0 form is what is
computed (so it matches the reference implementation term by term). ``1 - a_t`` is clamped below at
``min_one_minus_alpha`` (1e-6): on this schedule ``a_0`` is ~0.9975 (w ~393), so the clamp never binds for the
1000-step CogVideoX schedule, but it keeps a schedule whose ``a_0`` is 1 (``set_alpha_to_one``-style or
custom) from dividing by zero; at the zero-SNR end (``a_999 = 0``) the weight is exactly 1.

Frame weighting (``frame_weighting=True``, the method's option): half the plain weighted MSE over
everything, half the mean over latent frames of each frame's weighted MSE times ``(1 - i/T)^2``
(frame i of T, i from 0), which emphasises the first latent frames (the edit is anchored on the first
frame). With ``frame_weighting=False`` the loss is the plain weighted MSE. Both are averaged over the
batch; the result is a scalar.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

MIN_ONE_MINUS_ALPHA = 1e-6


def training_alphas_cumprod(config: Mapping[str, Any] | None = None) -> Tensor:
    """alpha_bar (num_train_timesteps,) float64 of a CogVideoX scheduler config (default: CogVideoX's).

    Built by diffusers' ``CogVideoXDDIMScheduler``, which applies ``snr_shift_scale`` and
    ``rescale_betas_zero_snr`` from the config.
    """
    from diffusers import CogVideoXDDIMScheduler

    from insvie.editor.transformer import COGVIDEOX_SCHEDULER_CONFIG

    settings = dict(COGVIDEOX_SCHEDULER_CONFIG if config is None else config)
    allowed = set(inspect.signature(CogVideoXDDIMScheduler.__init__).parameters)
    scheduler = CogVideoXDDIMScheduler(**{k: v for k, v in settings.items() if k in allowed})
    return scheduler.alphas_cumprod.to(torch.float64)


def _gather(alphas_cumprod: Tensor, timesteps: Tensor, like: Tensor) -> Tensor:
    """alpha_bar at ``timesteps`` (B,), shaped (B, 1, 1, ...) to broadcast against ``like``."""
    a = alphas_cumprod.to(device=like.device, dtype=torch.float32)[timesteps.to(like.device).long()]
    return a.reshape(-1, *([1] * (like.ndim - 1)))


def v_target(x0: Tensor, noise: Tensor, alphas_cumprod: Tensor, timesteps: Tensor) -> Tensor:
    """The velocity target ``sqrt(a) * eps - sqrt(1 - a) * x0`` (float32)."""
    a = _gather(alphas_cumprod, timesteps, x0)
    return a.sqrt() * noise.float() - (1 - a).sqrt() * x0.float()


def x0_estimate(
    model_pred: Tensor, target_latents: Tensor, noise: Tensor, timesteps: Tensor, alphas_cumprod: Tensor
) -> Tensor:
    """The clean-latent estimate ``sqrt(a) x_t - sqrt(1 - a) v_hat`` a v-prediction implies (float32)."""
    a = _gather(alphas_cumprod, timesteps, target_latents)
    noisy = a.sqrt() * target_latents.float() + (1 - a).sqrt() * noise.float()
    return a.sqrt() * noisy - (1 - a).sqrt() * model_pred.float()


def frame_weights(num_frames: int, *, device: torch.device | None = None) -> Tensor:
    """``(1 - i/T)^2`` for latent frame ``i`` of ``T`` (float32, (T,))."""
    i = torch.arange(num_frames, device=device, dtype=torch.float32)
    return (1 - i / num_frames) ** 2


def editor_loss(
    model_pred: Tensor,
    target_latents: Tensor,
    noise: Tensor,
    timesteps: Tensor,
    alphas_cumprod: Tensor,
    frame_weighting: bool = True,
    *,
    min_one_minus_alpha: float = MIN_ONE_MINUS_ALPHA,
) -> Tensor:
    """The scalar training loss of a v-prediction ``model_pred`` (B, F, C, h, w), see the module doc.

    ``target_latents`` are the clean target latents x0, ``noise`` the epsilon used to noise them at
    ``timesteps`` (B,) under ``alphas_cumprod``.
    """
    if model_pred.shape != target_latents.shape or noise.shape != target_latents.shape:
        raise ValueError(
            f"shape mismatch: model_pred {tuple(model_pred.shape)}, target {tuple(target_latents.shape)}, "
            f"noise {tuple(noise.shape)}"
        )
    if model_pred.ndim != 5:
        raise ValueError(f"expected (B, F, C, h, w) latents, got {tuple(model_pred.shape)}")
    x0 = target_latents.float()
    a = _gather(alphas_cumprod, timesteps, x0)
    one_minus = (1 - a).clamp_min(min_one_minus_alpha)
    x0_hat = x0_estimate(model_pred, x0, noise, timesteps, alphas_cumprod)
    err = (x0_hat - x0) ** 2 / one_minus  # (B, F, C, h, w)
    per_frame = err.mean(dim=(2, 3, 4))  # (B, F)
    plain = per_frame.mean(dim=1)  # (B,)
    if not frame_weighting:
        return plain.mean()
    weights = frame_weights(per_frame.shape[1], device=per_frame.device)
    weighted = (per_frame * weights).mean(dim=1)
    return (0.5 * plain + 0.5 * weighted).mean()
