"""Two-condition classifier-free guidance: the source video and the instruction, as InsViE samples it.

Each step evaluates three branches in one batch:

- ``uu``: no video (source latents zeroed) and no text,
- ``cu``: the video and no text,
- ``cc``: the video and the text,

and combines them as ``uu + s_video * (cu - uu) + s_text * (cc - cu)`` (InstructPix2Pix's two-scale
guidance, ordered video first). "No text" is the all-zero text embedding, as in the original sampler
(``force_uc_zero_embeddings=["txt"]``) and in training, where dropping the text zeroed its embedding;
a negative prompt replaces it when given. The combination is linear with weights summing to one, so
it is the same whether applied to v-, epsilon- or x0-predictions.

Schedules (``s`` is the scale given, ``N`` the number of sampling steps, ``i`` the step index 0..N-1,
``t`` the discrete DDPM timestep fed to the model at that step; ``N = 50`` with trailing spacing gives
``t = 999, 979, ..., 19``):

``constant``
    ``s`` at every step.

``cosine`` (the original code, faithfully)
    ``1 + s * (1 - cos(pi * ((N - t) / N) ** 5)) / 2``, for both scales. This is SAT's
    ``DynamicCFG_edit`` guider (exp 5, num_steps 50) called with ``step_index = num_steps - timestep``,
    where ``timestep`` is the DDPM index (999..19), not the step counter; diffusers' CogVideoX
    ``use_dynamic_cfg`` computes the same expression with ``t.item()``. The formula was written for a
    step counter in ``[0, N]``, which would give a smooth ramp from 1 to ``1 + s``; fed the timestep,
    its base ``(N - t) / N`` runs from -18.98 to 0.62, and for every ``t >= 2N`` the fifth power is so
    large (up to ~2.5e6) that the cosine aliases: the effective scale is a deterministic but
    pseudo-random value in ``[1, 1 + s]`` at each step. With the paper's scales at 50 steps, the text
    scale takes values from 1.00 to 8.50 (mean 4.52) and the video scale from 1.00 to 2.20 (mean 1.56);
    the last three steps (t = 59, 39, 19) sit near 1. The exact sequence depends on ``N`` and on the
    scheduler's timesteps, so this is reproduced, not "fixed".

``cosine_step`` (what the formula intends)
    ``1 + s * (1 - cos(pi * (i / N) ** 5)) / 2``: 1.0 for the first ~20 of 50 steps, then rising to
    ``~1 + s`` at the last step. Offered for experiments; the released model was sampled with ``cosine``.

Note that both cosine schedules peak at ``1 + s``, not ``s``: ``text 7.5`` means at most 8.5 there.
The official guider's ``N`` is its own ``num_steps`` (50), which the released config keeps equal to the
sampler's; here ``N`` is always the number of steps sampled. A model folder's recipe (scales, schedule,
steps) is its :class:`~insvie.editor.guider.InsViEGuider`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, TypeVar

if TYPE_CHECKING:
    import torch

GuidanceSchedule = Literal["constant", "cosine", "cosine_step"]
SCHEDULES: tuple[str, ...] = ("constant", "cosine", "cosine_step")
COSINE_EXPONENT = 5

T = TypeVar("T", "torch.Tensor", float)


def combine_guidance(uu: T, cu: T, cc: T, s_text: float, s_video: float) -> T:
    """``uu + s_video * (cu - uu) + s_text * (cc - cu)``: the three branches' guided prediction.

    With both scales 1 this is ``cc``; with ``s_video = 1`` it is plain text guidance on top of the
    video-conditioned prediction; with ``s_text = s_video = s`` it is ordinary CFG between ``uu`` and
    ``cc``.
    """
    return uu + s_video * (cu - uu) + s_text * (cc - cu)


def scheduled_scale(
    scale: float, schedule: GuidanceSchedule, *, timestep: float, step_index: int, num_steps: int
) -> float:
    """The effective guidance scale at one step (see the module docstring for each schedule)."""
    if schedule == "constant":
        return float(scale)
    if schedule == "cosine":
        base = (num_steps - float(timestep)) / num_steps
        return 1.0 + scale * (1.0 - math.cos(math.pi * base**COSINE_EXPONENT)) / 2.0
    if schedule == "cosine_step":
        base = step_index / num_steps
        return 1.0 + scale * (1.0 - math.cos(math.pi * base**COSINE_EXPONENT)) / 2.0
    raise ValueError(f"unknown guidance schedule {schedule!r}; choose from {', '.join(SCHEDULES)}")


def guidance_scales(
    s_text: float, s_video: float, schedule: GuidanceSchedule, timesteps: Sequence[float]
) -> list[tuple[float, float]]:
    """(text scale, video scale) for every step of a sampling run over ``timesteps`` (in order)."""
    num_steps = len(timesteps)
    return [
        (
            scheduled_scale(s_text, schedule, timestep=t, step_index=i, num_steps=num_steps),
            scheduled_scale(s_video, schedule, timestep=t, step_index=i, num_steps=num_steps),
        )
        for i, t in enumerate(timesteps)
    ]
