"""A tiny Qwen-Image-Edit: the real MMDiT, causal 3D VAE and Qwen2.5-VL prompt encoder at toy widths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from insvie.tiny._common import save, seeded
from insvie.tiny.tokenizer_builders import tiny_qwen_tokenizer

# The processor shrinks the prompt image to at most this many pixels before the vision tower.
_MAX_VISION_PIXELS = 28 * 28 * 16


def _amplify_text_attention(transformer: Any) -> None:
    """Sharpen the text keys and enlarge the text values of a random MMDiT.

    At random init the ~4000 tokens of the 1 MP conditioning image swamp the few prompt tokens in the
    joint attention, so ``true_cfg_scale`` would barely change a pixel; scaled up, the prompt (and so
    the guidance sweep) visibly steers the output, as it does in the trained model.
    """
    import torch

    with torch.no_grad():
        for block in transformer.transformer_blocks:
            block.attn.norm_added_k.weight.mul_(8.0)
            block.attn.add_v_proj.weight.mul_(10.0)
            block.attn.add_v_proj.bias.mul_(10.0)


def build_tiny_qwen_image_edit(dest: str | Path, *, seed: int = 0) -> Path:
    """Write a randomly initialised ``QwenImageEditPipeline`` folder to ``dest``.

    Same structure as Qwen/Qwen-Image-Edit: ``QwenImageTransformer2DModel``, ``AutoencoderKLQwenImage``
    (8x spatial), ``Qwen2_5_VLForConditionalGeneration`` prompt encoder with its vision tower, the
    processor folder (image processor + tokenizer + video config) and the flow-matching scheduler.
    The processor is built image-only (see ``ImageOnlyQwen2VLProcessor``): transformers' video
    processors need torchvision. ``model_index.json`` names the stock ``Qwen2VLProcessor``.
    """
    from diffusers import (
        AutoencoderKLQwenImage,
        FlowMatchEulerDiscreteScheduler,
        QwenImageEditPipeline,
        QwenImageTransformer2DModel,
    )
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    from insvie.backends.image_edit.qwen_processor import ImageOnlyQwen2VLProcessor

    tokenizer = tiny_qwen_tokenizer()
    vocab = tokenizer.get_vocab()
    processor = ImageOnlyQwen2VLProcessor(
        image_processor=Qwen2VLImageProcessorPil(
            min_pixels=28 * 28 * 4,
            max_pixels=_MAX_VISION_PIXELS,
            patch_size=14,
            merge_size=2,
            temporal_patch_size=2,
        ),
        tokenizer=tokenizer,
        video_processor=None,
    )
    z_dim = 4
    with seeded(seed):
        text_encoder = Qwen2_5_VLForConditionalGeneration(
            Qwen2_5_VLConfig(
                text_config={
                    "vocab_size": len(tokenizer),
                    "hidden_size": 16,
                    "intermediate_size": 16,
                    "num_hidden_layers": 1,
                    "num_attention_heads": 2,
                    "num_key_value_heads": 2,
                    "rope_scaling": {"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"},
                    "rope_theta": 1000000.0,
                    "bos_token_id": vocab["<|endoftext|>"],
                    "eos_token_id": vocab["<|im_end|>"],
                },
                vision_config={
                    "depth": 1,
                    "hidden_size": 16,
                    "intermediate_size": 16,
                    "num_heads": 2,
                    "out_hidden_size": 16,
                },
                vocab_size=len(tokenizer),
                hidden_size=16,
                bos_token_id=vocab["<|endoftext|>"],
                eos_token_id=vocab["<|im_end|>"],
                vision_start_token_id=vocab["<|vision_start|>"],
                vision_end_token_id=vocab["<|vision_end|>"],
                image_token_id=vocab["<|image_pad|>"],
                video_token_id=vocab["<|video_pad|>"],
            )
        )
        transformer = QwenImageTransformer2DModel(
            patch_size=2,
            in_channels=z_dim * 4,
            out_channels=z_dim,
            num_layers=1,
            attention_head_dim=16,
            num_attention_heads=2,
            joint_attention_dim=16,
            guidance_embeds=False,
            axes_dims_rope=(8, 4, 4),
        )
        _amplify_text_attention(transformer)
        vae = AutoencoderKLQwenImage(
            base_dim=4,
            z_dim=z_dim,
            dim_mult=[1, 1, 1, 1],
            # The pipeline always encodes the source at ~1 MP: no encoder residual blocks keeps that cheap.
            num_res_blocks=0,
            temperal_downsample=[False, True, True],
            latents_mean=[0.0] * z_dim,
            # Real per-channel stds are ~1.5-3; a wide one makes the random decoder follow its latents.
            latents_std=[4.0] * z_dim,
        )
    scheduler = FlowMatchEulerDiscreteScheduler(
        shift=1.0,
        use_dynamic_shifting=True,
        base_shift=0.5,
        max_shift=0.9,
        base_image_seq_len=256,
        max_image_seq_len=8192,
        shift_terminal=0.02,
        time_shift_type="exponential",
    )
    pipe = QwenImageEditPipeline(
        scheduler=scheduler,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        processor=processor,
        transformer=transformer,
    )
    # Record the stock class, as the real checkpoint does; the subclass only exists to be built here.
    pipe.register_to_config(processor=("transformers", "Qwen2VLProcessor"))
    return save(pipe, dest)
