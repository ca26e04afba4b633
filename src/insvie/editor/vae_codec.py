"""Source videos into the editor's latents and latents back into frames, as the official code does it.

Encoding (official ``encode_first_stage``): pixels to [-1, 1], the whole clip through the VAE encoder in
one pass, a *sample* of the latent posterior (``DiagonalGaussianRegularizer(sample=True)``), times the
VAE scaling factor. diffusers' ``AutoencoderKLCogVideoX`` encodes 8 frames at a time to bound memory; its
causal convolutions carry a cache across the batches, but its GroupNorm layers normalise each batch
with that batch's statistics, so a batched encode is not the whole-clip one (``docs/editor.md`` gives
the measured difference). :func:`encode_source` encodes the whole clip when it fits in memory and falls
back to frame batches, with a warning, when it does not.

Decoding (official ``sample_video_edit.py``): latents divided by the scaling factor, decoded in chunks of
latent frames ``[0, 3), [3, 5), [5, 7), ...`` with the causal cache carried across them, which is also
how diffusers' decoder chunks them. With an even number of latent frames that loop stops one short:
the last latent frame is sampled but never decoded, and the video comes out 4 frames shorter than
``4 (F - 1) + 1``. :func:`decode_latents` does the same (``insvie.editor.inputs.decoded_frames`` says
how many).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from insvie.editor.inputs import SOURCE_LATENTS, SourceLatent
from insvie.editor.transformer import vae_spatial_factor

log = logging.getLogger(__name__)


@contextlib.contextmanager
def whole_clip(vae: Any, num_frames: int) -> Iterator[None]:
    """Let ``vae`` encode ``num_frames`` frames in one pass (diffusers batches 8 at a time)."""
    saved = vae.num_sample_frames_batch_size
    vae.num_sample_frames_batch_size = max(num_frames, 1)
    try:
        yield
    finally:
        vae.num_sample_frames_batch_size = saved


def _posterior(vae: Any, pixels: torch.Tensor, *, batched: bool) -> Any:
    if batched or vae.use_tiling:
        return vae.encode(pixels).latent_dist
    with whole_clip(vae, pixels.shape[2]):
        return vae.encode(pixels).latent_dist


def encode_source(
    vae: Any,
    frames: np.ndarray,
    *,
    device: torch.device,
    generator: torch.Generator | list[torch.Generator] | None = None,
    source_latent: SourceLatent = "sample",
    batched: bool = False,
) -> torch.Tensor:
    """Scaled source latents (B, F, C, h, w) of uint8 videos (B, T, H, W, 3).

    ``source_latent="sample"`` draws from the posterior with ``generator`` (the official way, and the
    first draw of a seeded edit); ``"mode"`` takes its mean, so the conditioning does not depend on the
    seed. ``batched`` forces diffusers' 8-frame batches; otherwise the clip goes through in one pass
    unless that runs out of GPU memory. With VAE tiling on (``--offload``), diffusers' tiled encode is
    used as it is.
    """
    if source_latent not in SOURCE_LATENTS:
        raise ValueError(f"source_latent must be one of {', '.join(SOURCE_LATENTS)}, got {source_latent!r}")
    pixels = torch.from_numpy(frames).to(device=device, dtype=vae.dtype)
    pixels = pixels.permute(0, 4, 1, 2, 3) / 127.5 - 1.0  # B, C, T, H, W in [-1, 1]
    try:
        posterior = _posterior(vae, pixels, batched=batched)
    except torch.OutOfMemoryError:
        if batched:
            raise
        log.warning(
            "the %d-frame source does not fit the GPU in one pass; encoding in frame batches "
            "(GroupNorm statistics per batch, unlike the official whole-clip encode)",
            pixels.shape[2],
        )
        torch.cuda.empty_cache()
        posterior = _posterior(vae, pixels, batched=True)
    latents = posterior.sample(generator) if source_latent == "sample" else posterior.mode()
    return latents.permute(0, 2, 1, 3, 4) * vae.config.scaling_factor


@torch.no_grad()
def decode_latents(vae: Any, latents: torch.Tensor) -> np.ndarray:
    """uint8 frames (B, T, H, W, 3) of scaled latents (B, F, C, h, w); T is
    :func:`~insvie.editor.inputs.decoded_frames` (F)."""
    if latents.shape[1] > 1 and latents.shape[1] % 2 == 0:
        latents = latents[:, :-1]  # the official decode loop never reaches the last of an even count
    scaled = latents.permute(0, 2, 1, 3, 4) / vae.config.scaling_factor
    video = vae.decode(scaled.to(vae.dtype)).sample  # B, C, T, H, W in [-1, 1]
    # Tiled decoding can overshoot the size by a few pixels at small tile geometries.
    spatial = vae_spatial_factor(vae.config)
    height, width = (side * spatial for side in latents.shape[-2:])
    video = video[:, :, :, :height, :width]
    video = ((video.float() / 2 + 0.5).clamp(0, 1) * 255).round().to(torch.uint8)
    return video.permute(0, 2, 3, 4, 1).cpu().numpy()
