"""Rotary position embeddings of the latent grid, for editors built on the 5B and 1.5 CogVideoX models.

The 2B model uses sin-cos positions inside the transformer and gets none from here. The 5B model was
trained at one grid size and maps another onto the region of its training grid that the same aspect
covers; the 1.5 models patch latent frames in pairs and slice a larger table instead. Both follow
diffusers' CogVideoX pipelines, so an editor grown from those models sees the positions it was trained on.
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers.models.embeddings import get_3d_rotary_pos_embed


def _grid_crop_region(
    grid: tuple[int, int], base_width: int, base_height: int
) -> tuple[tuple[int, int], ...]:
    """The region of the training grid a smaller/larger grid maps to (diffusers' CogVideoX helper)."""
    height, width = grid
    if height / width > base_height / base_width:
        resize_height, resize_width = base_height, round(base_height / height * width)
    else:
        resize_width, resize_height = base_width, round(base_width / width * height)
    top = round((base_height - resize_height) / 2.0)
    left = round((base_width - resize_width) / 2.0)
    return (top, left), (top + resize_height, left + resize_width)


def rotary_embeddings(
    config: Any, spatial_factor: int, height: int, width: int, latent_frames: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(cos, sin) for a ``height`` x ``width`` pixel edit of ``latent_frames`` latent frames, or None
    when the transformer (its ``config``) has no rotary embeddings; ``spatial_factor`` is the VAE's."""
    if not config.use_rotary_positional_embeddings:
        return None
    p, p_t = config.patch_size, config.patch_size_t
    grid = (height // (spatial_factor * p), width // (spatial_factor * p))
    base_width, base_height = config.sample_width // p, config.sample_height // p
    if p_t is None:
        return get_3d_rotary_pos_embed(
            embed_dim=config.attention_head_dim,
            crops_coords=_grid_crop_region(grid, base_width, base_height),
            grid_size=grid,
            temporal_size=latent_frames,
            device=device,
        )
    return get_3d_rotary_pos_embed(
        embed_dim=config.attention_head_dim,
        crops_coords=None,
        grid_size=grid,
        temporal_size=(latent_frames + p_t - 1) // p_t,
        grid_type="slice",
        max_size=(base_height, base_width),
        device=device,
    )
