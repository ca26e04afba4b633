"""One guided denoising prediction: the three guidance branches through the transformer in one forward.

Batching the branches (see :mod:`insvie.editor.guidance`) costs one transformer call per step instead of
three, which is what makes the two-condition guidance affordable. The transformer runs in its own dtype;
the branches are combined in float32, as the official guider combines float32 predictions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from insvie.editor.guidance import combine_guidance

if TYPE_CHECKING:
    from insvie.editor.parts import EditPipelineParts


def guided_prediction(
    pipe: EditPipelineParts,
    latents: torch.Tensor,
    source_latents: torch.Tensor,
    prompt_embeds: torch.Tensor,
    negative_prompt_embeds: torch.Tensor,
    timestep: torch.Tensor,
    text_scale: float,
    video_scale: float,
    *,
    image_rotary_emb: tuple[torch.Tensor, torch.Tensor] | None = None,
    attention_kwargs: dict[str, Any] | None = None,
    guided: bool = True,
) -> torch.Tensor:
    """The guided model output (float32) for noisy ``latents`` at ``timestep``.

    The three branches (no video + no text, video + no text, video + text) go through the transformer
    as one batch of 3B; ``guided=False`` runs only the video + text branch, which is what guidance
    with both scales at 1 would return anyway. This is also ``InsViEEditPipeline.guided_prediction``,
    with ``pipe`` as ``self``.
    """
    transformer = pipe.transformer
    latents = pipe.scheduler.scale_model_input(latents, timestep).to(transformer.dtype)
    source_latents = source_latents.to(transformer.dtype)
    with_source = torch.cat([latents, source_latents], dim=2)
    if guided:
        without_source = torch.cat([latents, torch.zeros_like(source_latents)], dim=2)
        model_input = torch.cat([without_source, with_source, with_source])
        text = torch.cat([negative_prompt_embeds, negative_prompt_embeds, prompt_embeds])
    else:
        model_input, text = with_source, prompt_embeds
    output = transformer(
        hidden_states=model_input,
        encoder_hidden_states=text,
        timestep=timestep.expand(model_input.shape[0]),
        image_rotary_emb=image_rotary_emb,
        attention_kwargs=attention_kwargs,
        return_dict=False,
    )[0].float()
    if not guided:
        return output
    uu, cu, cc = output.chunk(3)
    return combine_guidance(uu, cu, cc, text_scale, video_scale)
