"""One denoising loop over many candidates: what the three backends' sweep samplers share.

diffusers takes one guidance scale per call, so a six-setting sweep over a batch of items costs one call
per (item, setting), each running the denoiser on a handful of images: far below what a GPU needs to be
busy. A sweep sampler instead runs the pipeline's own parts (its prompt and image encoders, a fresh copy
of its scheduler, its UNet or transformer, its VAE) in one loop over every candidate of a
:class:`SweepChunk`, with the guidance as per-candidate tensors broadcast over the batch. Each candidate
keeps its own CPU generator, which draws its initial noise and any scheduler noise in the order the
pipeline draws them, so a candidate does not depend on what else shares its loop.

Only the loops live in the backend modules; this module holds the pieces they have in common.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from insvie.backends.image_edit.settings import GuidanceSetting

if TYPE_CHECKING:
    import torch
    from PIL import Image


@dataclass(frozen=True)
class SweepChunk:
    """The candidates of one denoising loop and the items they edit.

    ``images`` and ``instructions`` are per item (the image already at the working ``size``); ``owners``,
    ``settings`` and ``generators`` are per candidate, ``owners[j]`` naming candidate j's item. Every
    setting has the same step count: the loop's timesteps depend on it.
    """

    images: list[Image.Image]
    instructions: list[str]
    owners: list[int]
    settings: list[GuidanceSetting]
    generators: list[torch.Generator]
    size: tuple[int, int]

    @property
    def steps(self) -> int:
        return self.settings[0].steps

    def per_candidate(self, rows: torch.Tensor) -> torch.Tensor:
        """Per-item ``rows`` (item-major, first dimension) repeated into one row per candidate."""
        import torch

        return rows.index_select(0, torch.tensor(self.owners, device=rows.device))

    def column(self, values: Sequence[float], like: torch.Tensor) -> torch.Tensor:
        """One float32 value per candidate, shaped to broadcast over ``like``'s candidate dimension.

        float32 even for half-precision models: see :func:`scaled`.
        """
        import torch

        shape = (len(values),) + (1,) * (like.ndim - 1)
        return torch.tensor(values, dtype=torch.float32, device=like.device).view(shape)


def scaled(scale: torch.Tensor, tensor: torch.Tensor) -> torch.Tensor:
    """``scale * tensor`` rounded once to ``tensor``'s dtype.

    The pipelines multiply by a Python float, which PyTorch applies in float32 and rounds once to the
    tensor's dtype; a float32 scale tensor followed by this cast does the same, so a bfloat16 sweep
    rounds like the per-call pipeline (a bfloat16 scale would first round 4.4 to 4.40625).
    """
    return (scale * tensor).to(tensor.dtype)


def fresh_scheduler(scheduler: Any) -> Any:
    """A new scheduler of the pipeline's class and config: ``set_timesteps`` mutates the one it is called
    on, so each loop gets its own and the pipeline's (used by the per-call sampler) is left alone."""
    return type(scheduler).from_config(scheduler.config)


def flow_match_timesteps(scheduler: Any, steps: int, image_seq_len: int, device: Any) -> torch.Tensor:
    """The timesteps FLUX.1 Kontext and Qwen-Image-Edit set: sigmas 1 -> 1/steps, shifted by ``mu``.

    Both pipelines compute ``mu`` from the packed latents' sequence length with the scheduler's config
    and start the scheduler at index 0; their helpers are the same (Qwen's are copied from FLUX's).
    """
    import numpy as np
    from diffusers.pipelines.flux.pipeline_flux import calculate_shift, retrieve_timesteps

    config = scheduler.config
    mu = calculate_shift(
        image_seq_len,
        config.get("base_image_seq_len", 256),
        config.get("max_image_seq_len", 4096),
        config.get("base_shift", 0.5),
        config.get("max_shift", 1.15),
    )
    sigmas = np.linspace(1.0, 1 / steps, steps)
    timesteps, _ = retrieve_timesteps(scheduler, steps, device, sigmas=sigmas, mu=mu)
    scheduler.set_begin_index(0)
    return timesteps
