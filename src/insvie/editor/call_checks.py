"""Refusing an edit the pipeline cannot serve, before any model runs.

A transformer that was not grown to 32 channels, an unknown output type, a callback asking for a tensor
the loop does not have, or a size off the patch grid would otherwise fail deep inside the first
transformer forward (or after the whole sampling), with a message about shapes rather than the cause.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from insvie.editor.output import OUTPUT_TYPES
from insvie.editor.transformer import EDITOR_IN_CHANNELS

if TYPE_CHECKING:
    from insvie.editor.parts import EditPipelineParts


def callback_tensor_names(pipe: EditPipelineParts, output_type: str, names: list[str] | None) -> list[str]:
    """The tensors a step-end callback gets (default: the latents), once the call is known servable."""
    in_channels = pipe.transformer.config.in_channels
    if in_channels != EDITOR_IN_CHANNELS:
        raise ValueError(
            f"the transformer takes {in_channels} channels, not {EDITOR_IN_CHANNELS}: "
            "build it with insvie.editor.editor_from_t2v"
        )
    if output_type not in OUTPUT_TYPES:
        raise ValueError(f"output_type must be 'np', 'pil' or 'latent', got {output_type!r}")
    names = names or ["latents"]
    unknown = set(names) - set(pipe._callback_tensor_inputs)
    if unknown:
        raise ValueError(
            f"callback tensors must be among {pipe._callback_tensor_inputs}, got {sorted(unknown)}"
        )
    return names


def working_size(pipe: EditPipelineParts, height: int | None, width: int | None) -> tuple[int, int]:
    """(height, width) in pixels: the given ones, else the model's; multiples of the patch grid."""
    default_height, default_width = pipe.default_size
    height, width = height or default_height, width or default_width
    step = pipe.vae_scale_factor_spatial * pipe.transformer.config.patch_size
    if height % step or width % step:
        raise ValueError(f"height and width must be multiples of {step}, got {height}x{width}")
    return height, width
