"""The source video's side of the conditioning, and pairing it with the instruction's.

The editor sees the clean source latents beside the noisy ones (channel concatenation, see
:mod:`insvie.editor.transformer`), so every output video needs one row of source latents matching its
row of text embeddings; one video edited by several prompts, or one prompt applied to several videos,
is expanded here rather than by the caller.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from insvie.editor.inputs import SourceLatent, source_frames

if TYPE_CHECKING:
    from insvie.editor.parts import EditPipelineParts
    from insvie.editor.steps import Generator


def source_conditioning(
    pipe: EditPipelineParts,
    video: Any,
    source_latents: torch.Tensor | None,
    num_frames: int | None,
    size: tuple[int, int],
    generator: Generator,
    source_latent: SourceLatent,
) -> torch.Tensor:
    """A call's source latents (B, F, C, h, w) on the pipeline's device and in the transformer's dtype:
    the given ones, else ``video`` (one or a batch) cut, sized to ``size`` (height, width) and encoded.

    The encode is the first draw from ``generator``, as in the official sampler.
    """
    if source_latents is None:
        if video is None:
            raise ValueError("give a video or source_latents")
        frames = source_frames(video, num_frames, pipe.max_num_frames, *size)
        source_latents = pipe.encode_video(frames, generator=generator, source_latent=source_latent)
    return source_latents.to(device=pipe._execution_device, dtype=pipe.transformer.dtype)


def align_batch(
    source: torch.Tensor,
    prompt: torch.Tensor,
    negative: torch.Tensor,
    num_videos_per_prompt: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Source latents and text embeddings with one row per output video, in the same order.

    Text rows come prompt-major (each prompt's ``num_videos_per_prompt`` rows together). One video is
    shared by every prompt; one prompt is applied to every video; otherwise videos and prompts pair up.
    """
    num_prompts = prompt.shape[0] // num_videos_per_prompt
    if num_prompts == 1 and len(source) > 1:
        num_prompts = len(source)
        prompt, negative = prompt.repeat(num_prompts, 1, 1), negative.repeat(num_prompts, 1, 1)
    if len(source) == 1:
        source = source.expand(num_prompts, *source.shape[1:])
    elif len(source) != num_prompts:
        raise ValueError(f"{len(source)} videos for {num_prompts} prompts: give one, or one per prompt")
    return source.repeat_interleave(num_videos_per_prompt, dim=0), prompt, negative
