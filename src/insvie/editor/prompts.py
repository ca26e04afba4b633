"""The instruction's side of the conditioning: T5 embeddings of the prompts and of "no text".

"No text" is the all-zero embedding unless a negative prompt is given, as in the original sampler and
in training, where dropping the text zeroed its embedding (see :mod:`insvie.editor.guidance`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from insvie.editor.parts import EditPipelineParts


def t5_embeddings(
    text_encoder: Any, tokenizer: Any, prompts: list[str], max_sequence_length: int, device: Any = None
) -> torch.Tensor:
    """T5 embeddings (B, L, D) of prompts padded to ``max_sequence_length``; ids go to ``device``
    (default: the encoder's).

    One definition for the pipeline and the training latent cache, so cached embeddings are exactly
    what the pipeline computes at edit time.
    """
    ids = tokenizer(
        prompts,
        padding="max_length",
        max_length=max_sequence_length,
        truncation=True,
        add_special_tokens=True,
        return_tensors="pt",
    ).input_ids
    return text_encoder(ids.to(device or next(text_encoder.parameters()).device))[0]


def encode_prompts(
    text_encoder: Any,
    tokenizer: Any,
    prompt: str | list[str],
    negative_prompt: str | list[str] | None,
    *,
    num_videos_per_prompt: int,
    max_sequence_length: int,
    device: torch.device,
    dtype: torch.dtype,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(text embeddings, "no text" embeddings), each (prompts x num_videos_per_prompt, L, D), prompt-major."""
    prompts = [prompt] if isinstance(prompt, str) else list(prompt)

    def embed(texts: list[str]) -> torch.Tensor:
        embeds = t5_embeddings(text_encoder, tokenizer, texts, max_sequence_length, device)
        return embeds.to(device=device, dtype=dtype)

    embeds = embed(prompts)
    if negative_prompt is None:
        negative = torch.zeros_like(embeds)
    else:
        negatives = [negative_prompt] * len(prompts) if isinstance(negative_prompt, str) else negative_prompt
        if len(negatives) != len(prompts):
            raise ValueError(f"{len(negatives)} negative prompts for {len(prompts)} prompts")
        negative = embed(list(negatives))
    return (
        embeds.repeat_interleave(num_videos_per_prompt, dim=0),
        negative.repeat_interleave(num_videos_per_prompt, dim=0),
    )


def text_conditioning(
    pipe: EditPipelineParts,
    prompt: str | list[str] | None,
    negative_prompt: str | list[str] | None,
    embeds: tuple[torch.Tensor | None, torch.Tensor | None],
    num_videos_per_prompt: int,
    max_sequence_length: int | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A call's (text, "no text") embeddings on the pipeline's device and in the transformer's dtype: the
    precomputed ``embeds`` (all-zero "no text" where only the text is given), else ``prompt`` encoded."""
    prompt_embeds, negative_prompt_embeds = embeds
    device, dtype = pipe._execution_device, pipe.transformer.dtype
    if prompt_embeds is None:
        if prompt is None:
            raise ValueError("give a prompt or prompt_embeds")
        return pipe.encode_prompt(
            prompt,
            negative_prompt,
            num_videos_per_prompt=num_videos_per_prompt,
            max_sequence_length=max_sequence_length,
            device=device,
            dtype=dtype,
        )
    if negative_prompt_embeds is None:
        negative_prompt_embeds = torch.zeros_like(prompt_embeds)
    return prompt_embeds.to(device=device, dtype=dtype), negative_prompt_embeds.to(device=device, dtype=dtype)
