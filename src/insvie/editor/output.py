"""What an edit returns, and writing it to an mp4."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from diffusers.utils import BaseOutput

from insvie.media import write_video

DEFAULT_FPS = 8.0  # CogVideoX's native rate: 49 frames = six seconds
OUTPUT_TYPES: tuple[str, ...] = ("np", "pil", "latent")


@dataclass
class InsViEEditOutput(BaseOutput):
    """``frames``: uint8 (B, T, H, W, 3) for ``output_type="np"``, B lists of PIL images for ``"pil"``,
    or the scaled latents (B, F, C, h, w) for ``"latent"``; B = prompts x ``num_videos_per_prompt``."""

    frames: Any


def frames_to_pil(frames: np.ndarray) -> list[list[Any]]:
    """(B, T, H, W, 3) uint8 -> B lists of PIL images."""
    from PIL import Image

    return [[Image.fromarray(frame) for frame in video] for video in frames]


def edit_frames(latents: Any, output_type: str, decode: Callable[[Any], np.ndarray]) -> Any:
    """What a call returns as ``frames`` for ``output_type`` (one of :data:`OUTPUT_TYPES`): the sampled
    latents as they are, or ``decode`` of them as uint8 arrays or PIL images."""
    if output_type == "latent":
        return latents
    frames = decode(latents)
    return frames_to_pil(frames) if output_type == "pil" else frames


def write_edit_video(frames: Any, path: str | Path, fps: float = DEFAULT_FPS, **write_kwargs: Any) -> Path:
    """Encode one edited video to ``path`` (H.264 mp4) and return the path.

    ``frames`` is a uint8 (T, H, W, 3) array, a (1, T, H, W, 3) batch of one, or a list of PIL images
    (one entry of an ``output_type="pil"`` result). Extra keywords go to :func:`insvie.media.write_video`.
    """
    if isinstance(frames, list | tuple):
        frames = np.stack([np.asarray(frame.convert("RGB")) for frame in frames])
    frames = np.asarray(frames)
    if frames.ndim == 5:
        if frames.shape[0] != 1:
            raise ValueError(f"write one video at a time; got a batch of {frames.shape[0]}")
        frames = frames[0]
    if frames.ndim != 4 or frames.dtype != np.uint8:
        raise ValueError(f"expected uint8 frames (T, H, W, 3), got {frames.dtype} {frames.shape}")
    return write_video(path, frames, fps, **write_kwargs)
