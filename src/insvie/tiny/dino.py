"""A tiny, randomly initialised DINOv2 (model and Pillow image processor), for metrics and losses.

A real ``Dinov2Model`` (2 layers, 32x32 images in 8x8 patches) beside a ``BitImageProcessorPil``, the
processor class DINOv2 checkpoints name, both saved with ``save_pretrained``: the DINOv2 metric and the
perceptual training loss load the folder exactly as they load facebook/dinov2-base.
"""

from __future__ import annotations

from pathlib import Path

from insvie.tiny._common import seeded

TINY_IMAGE_SIZE = 32


def build_tiny_dino(dest: str | Path, *, seed: int = 0) -> Path:
    """Write the tiny checkpoint (weights, config, image processor) into ``dest``; seeded, RNG restored."""
    from transformers import Dinov2Config, Dinov2Model
    from transformers.models.bit.image_processing_pil_bit import BitImageProcessorPil

    folder = Path(dest)
    config = Dinov2Config(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        image_size=TINY_IMAGE_SIZE,
        patch_size=8,
    )
    with seeded(seed):
        Dinov2Model(config).eval().save_pretrained(folder)
    BitImageProcessorPil(
        size={"shortest_edge": TINY_IMAGE_SIZE},
        crop_size={"height": TINY_IMAGE_SIZE, "width": TINY_IMAGE_SIZE},
    ).save_pretrained(folder)
    return folder
