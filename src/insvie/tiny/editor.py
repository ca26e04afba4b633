"""A tiny, randomly initialised InsViE editor pipeline for tests and offline smoke runs.

The real classes at toy widths: a CogVideoX transformer with 32 input channels (2 layers, 2 heads of
16 — rotary embeddings need head sizes that are multiples of 16), the CogVideoX 3D VAE with 16 latent
channels and the real 8x spatial / 4x temporal compression, a 1-layer T5 encoder over a character
vocabulary, the official sampler over CogVideoX's schedule and the paper's sampling recipe. Frames must
be 4k+1 and sides multiples of 16 (the transformer's default working size is 32x48, 9 frames). The
folder is a few hundred kB and is written by ``save_pretrained``, so it loads exactly as a real
checkpoint does.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from insvie.editor.transformer import COGVIDEOX_SCHEDULER_CONFIG
from insvie.tiny._common import seeded, tiny_t5_settings
from insvie.tiny.tokenizer_builders import tiny_t5_tokenizer

if TYPE_CHECKING:
    from diffusers import CogVideoXTransformer3DModel

    from insvie.editor.pipeline import InsViEEditPipeline

TINY_TEXT_LENGTH = 16
TINY_TEXT_DIM = 32


def tiny_transformer_config(*, rotary: bool = False, patch_size_t: int | None = None) -> dict[str, Any]:
    """A toy CogVideoX text-to-video transformer config: 2B-like (sin-cos), 5B-like (``rotary``) or
    1.5-like (``patch_size_t=2``, rotary, linear patch embedding)."""
    return {
        "num_attention_heads": 2,
        "attention_head_dim": 16,
        "in_channels": 16,
        "out_channels": 16,
        "time_embed_dim": 16,
        "text_embed_dim": TINY_TEXT_DIM,
        "num_layers": 2,
        "sample_width": 6,
        "sample_height": 4,
        "sample_frames": 9,
        "patch_size": 2,
        "patch_size_t": patch_size_t,
        "temporal_compression_ratio": 4,
        "max_text_seq_length": TINY_TEXT_LENGTH,
        "use_rotary_positional_embeddings": rotary or patch_size_t is not None,
        "patch_bias": patch_size_t is None,
    }


def build_tiny_t2v_transformer(
    *, seed: int = 0, rotary: bool = False, patch_size_t: int | None = None
) -> CogVideoXTransformer3DModel:
    """A randomly initialised toy text-to-video transformer (16 input channels), seeded."""
    from diffusers import CogVideoXTransformer3DModel

    with seeded(seed):
        return CogVideoXTransformer3DModel(
            **tiny_transformer_config(rotary=rotary, patch_size_t=patch_size_t)
        )


def build_tiny_editor(*, seed: int = 0, rotary: bool = False) -> InsViEEditPipeline:
    """The tiny editor pipeline in memory (see :func:`build_tiny_editor_pipeline`)."""
    import torch
    from diffusers import AutoencoderKLCogVideoX
    from transformers import T5Config, T5EncoderModel

    from insvie.editor.guider import InsViEGuider
    from insvie.editor.pipeline import InsViEEditPipeline
    from insvie.editor.scheduler import from_cogvideox_config
    from insvie.editor.transformer import editor_from_t2v

    tokenizer = tiny_t5_tokenizer(max_length=TINY_TEXT_LENGTH)
    transformer = editor_from_t2v(build_tiny_t2v_transformer(seed=seed, rotary=rotary), inplace=True)
    with seeded(seed + 1):
        # A trained editor has learned weights on the source channels; random ones make tests see them.
        with torch.no_grad():
            transformer.patch_embed.proj.weight[:, 16:].normal_(std=0.02)
        vae = AutoencoderKLCogVideoX(
            in_channels=3,
            out_channels=3,
            down_block_types=("CogVideoXDownBlock3D",) * 4,
            up_block_types=("CogVideoXUpBlock3D",) * 4,
            block_out_channels=(8, 8, 8, 8),
            latent_channels=16,
            layers_per_block=1,
            norm_num_groups=2,
            temporal_compression_ratio=4,
            sample_height=32,
            sample_width=48,
            scaling_factor=1.15258426,
        )
        text_encoder = T5EncoderModel(
            T5Config(**tiny_t5_settings(len(tokenizer), d_model=TINY_TEXT_DIM, dropout_rate=0.0))
        )
    for model in (transformer, vae, text_encoder):
        model.eval()  # as from_pretrained leaves them: T5's dropout would make runs differ
    pipe = InsViEEditPipeline(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        vae=vae,
        transformer=transformer,
        scheduler=from_cogvideox_config(COGVIDEOX_SCHEDULER_CONFIG),
        guider=InsViEGuider(),
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def build_tiny_editor_pipeline(dest: str | Path, *, seed: int = 0, rotary: bool = False) -> Path:
    """Write a tiny random ``InsViEEditPipeline`` folder to ``dest`` and return it.

    Seeded: the same seed writes the same weights. ``rotary`` makes the transformer 5B-like (3D rotary
    position embeddings) instead of 2B-like (sin-cos). Load it with ``InsViEEditPipeline.from_pretrained``.
    """
    folder = Path(dest)
    folder.mkdir(parents=True, exist_ok=True)
    build_tiny_editor(seed=seed, rotary=rotary).save_pretrained(folder)
    return folder
