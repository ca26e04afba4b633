"""The Stable Diffusion parts that the tiny InstructPix2Pix and FLUX Kontext both carry, built once.

FLUX reuses SD's 8x ``AutoencoderKL`` and its CLIP text encoder, so their toy widths are stated here
once and each builder passes only what its checkpoint changes (FLUX's latent shift and scale and its
missing quant convs; the CLIP depth). Call them inside ``seeded``: they draw their random weights from
torch's CPU generator, in the order the builder calls them.
"""

from __future__ import annotations

from typing import Any

from insvie.tiny.tokenizer_builders import CLIP_MAX_LENGTH

SD_LATENT_CHANNELS = 4  # what a denoiser over :func:`tiny_sd_vae`'s latents takes per position


def tiny_sd_vae(**extra: Any) -> Any:
    """SD's four-block, 8x ``AutoencoderKL`` with 4 latent channels; ``extra`` adds or overrides keywords."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        **{
            "sample_size": 32,
            "in_channels": 3,
            "out_channels": 3,
            "latent_channels": SD_LATENT_CHANNELS,
            "block_out_channels": (4, 8, 8, 8),
            "down_block_types": ("DownEncoderBlock2D",) * 4,
            "up_block_types": ("UpDecoderBlock2D",) * 4,
            "layers_per_block": 1,
            "norm_num_groups": 4,
            **extra,
        }
    )


def tiny_clip_text_encoder(vocab_size: int, *, num_hidden_layers: int) -> Any:
    """A ``CLIPTextModel`` at 16 wide with CLIP's 77-token context, for a tokenizer of ``vocab_size``."""
    from transformers import CLIPTextConfig, CLIPTextModel

    return CLIPTextModel(
        CLIPTextConfig(
            vocab_size=vocab_size,
            hidden_size=16,
            intermediate_size=32,
            projection_dim=16,
            num_hidden_layers=num_hidden_layers,
            num_attention_heads=2,
            max_position_embeddings=CLIP_MAX_LENGTH,
            layer_norm_eps=1e-5,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        )
    )
