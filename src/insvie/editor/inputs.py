"""Bringing source videos of any form, size and length to what the editor accepts.

A source video is a file path, a uint8 array (T, H, W, 3) or a list of PIL images; a batch is a list of
those (or a (B, T, H, W, 3) array). Every video is resized to cover the working size and centre-cropped
(no stretching, no borders), and cut to its first ``num_frames`` frames, a 4k+1 count because the
CogVideoX VAE keeps the first frame alone and packs the rest four to a latent frame.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from insvie.media import largest_valid_length, read_frames, resize_center_crop

log = logging.getLogger(__name__)

# How the source video becomes its latent: a posterior sample (the official code) or the posterior mean.
SourceLatent = Literal["sample", "mode"]
SOURCE_LATENTS: tuple[str, ...] = ("sample", "mode")


def _is_pil(obj: object) -> bool:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a core dependency
        return False
    return isinstance(obj, Image.Image)


def _frames_of(video: Any, limit: int | None) -> np.ndarray:
    """One video as a uint8 (T, H, W, 3) array of at most ``limit`` frames (files decode no further)."""
    if isinstance(video, str | Path):
        return read_frames(video, end=limit, max_frames=None)
    if isinstance(video, np.ndarray):
        frames = video
    elif isinstance(video, Sequence) and video and all(_is_pil(frame) for frame in video):
        frames = np.stack([np.asarray(frame.convert("RGB")) for frame in video])
    else:
        raise TypeError(
            "a video is a path, a uint8 array (T, H, W, 3) or a list of PIL images, "
            f"got {type(video).__name__}"
        )
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"a video array must be (T, H, W, 3), got shape {frames.shape}")
    if frames.dtype != np.uint8:
        raise ValueError(f"a video array must be uint8, got {frames.dtype}")
    if len(frames) == 0:
        raise ValueError("the video has no frames")
    return frames[:limit]


def as_video_batch(video: Any, *, limit: int | None = None) -> list[np.ndarray]:
    """The videos in ``video``: one video, or a batch given as a list or a (B, T, H, W, 3) array.

    Each keeps at most its first ``limit`` frames.
    """
    if isinstance(video, np.ndarray) and video.ndim == 5:
        return [_frames_of(v, limit) for v in video]
    if isinstance(video, list | tuple) and video and not _is_pil(video[0]):
        return [_frames_of(v, limit) for v in video]
    return [_frames_of(video, limit)]


def choose_num_frames(available: int, requested: int | None, maximum: int) -> int:
    """The 4k+1 frame count to edit.

    ``requested`` must be 4k+1 and at most ``available``; without it, the largest 4k+1 that fits both
    ``available`` and ``maximum`` (the model's frame count).
    """
    if requested is not None:
        if requested < 1 or (requested - 1) % 4:
            raise ValueError(f"num_frames must be 4k+1 (1, 5, 9, ..., 49), got {requested}")
        if requested > available:
            raise ValueError(f"num_frames={requested} but the video has only {available} frames")
        return requested
    return largest_valid_length(min(available, maximum))


def prepare_videos(
    videos: list[np.ndarray], num_frames: int, height: int, width: int
) -> np.ndarray:  # (B, T, H, W, 3) uint8
    """Cut each video to ``num_frames`` and resize/centre-crop it to ``height`` x ``width``."""
    out = []
    for frames in videos:
        clip = frames[:num_frames]
        if clip.shape[1:3] != (height, width):
            clip = resize_center_crop(clip, (height, width))
        out.append(np.ascontiguousarray(clip))
    return np.stack(out)


def source_frames(
    video: Any, num_frames: int | None, max_frames: int, height: int, width: int
) -> np.ndarray:  # (B, T, H, W, 3) uint8
    """One video or a batch as the editor takes it: cut to one 4k+1 frame count (``num_frames``, else
    the largest that every video and the model's ``max_frames`` allow) and sized to ``height`` x ``width``."""
    videos = as_video_batch(video, limit=num_frames or max_frames)
    count = choose_num_frames(min(len(v) for v in videos), num_frames, max_frames)
    if count > max_frames:
        log.warning("editing %d frames, more than the model's %d", count, max_frames)
    return prepare_videos(videos, count, height, width)


def decoded_frames(latent_frames: int, temporal_compression: int = 4) -> int:
    """How many frames the decode of ``latent_frames`` gives, as the official decode loop counts them:
    an even count loses its last latent frame (see :mod:`insvie.editor.vae_codec`)."""
    if latent_frames > 1 and latent_frames % 2 == 0:
        latent_frames -= 1
    return (latent_frames - 1) * temporal_compression + 1
