"""A tiny, randomly initialised but structurally real CLIP checkpoint, written without any download.

It is a real ``CLIPModel`` (2-layer text and vision towers, 32x32 images in 8x8 patches, 16-dim
projections) with a real ``CLIPTokenizer`` and the Pillow-backed ``CLIPImageProcessorPil``, saved with
``save_pretrained``; ``ClipScorer(folder)`` loads it exactly as it loads openai/clip-vit-large-patch14,
so tests exercise the real tokenisation, preprocessing, pooling and projection paths. Its scores are
noise: only their structure (shapes, norms, symmetries, batching) means anything.

The tokenizer is byte-level BPE like CLIP's (``tiny_clip_bpe_tokenizer``): every byte symbol, alone and
as a word end, so any text tokenises, plus a few merges of common English pieces so the merge path runs
too. That keeps the vocabulary near 550 entries instead of CLIP's 49,408 and the whole folder well
under a megabyte.
"""

from __future__ import annotations

import json
from pathlib import Path

from insvie.tiny._common import seeded
from insvie.tiny.tokenizer_builders import CLIP_MAX_LENGTH, tiny_clip_bpe_tokenizer, tiny_clip_bpe_vocab

TINY_IMAGE_SIZE = 32
TINY_PATCH_SIZE = 8
TINY_PROJECTION_DIM = 16


def build_tiny_clip(dest: str | Path, *, seed: int = 0) -> Path:
    """Write the tiny checkpoint (model weights, config, tokenizer, image processor) into ``dest``.

    The same seed writes the same weights; the caller's torch RNG state is left as it was.
    """
    from transformers import CLIPConfig, CLIPModel, CLIPTextConfig, CLIPVisionConfig
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    tokenizer = tiny_clip_bpe_tokenizer()
    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": TINY_IMAGE_SIZE},
        crop_size={"height": TINY_IMAGE_SIZE, "width": TINY_IMAGE_SIZE},
    )
    text = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        projection_dim=TINY_PROJECTION_DIM,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=CLIP_MAX_LENGTH,  # CLIP's text context, so truncation behaves the same
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,  # not 2, so pooling takes the first end token
        pad_token_id=tokenizer.pad_token_id,
    )
    vision = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        projection_dim=TINY_PROJECTION_DIM,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=TINY_IMAGE_SIZE,
        patch_size=TINY_PATCH_SIZE,
    )
    config = CLIPConfig(
        text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=TINY_PROJECTION_DIM
    )
    with seeded(seed):
        model = CLIPModel(config).eval()
    folder = Path(dest)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    # The layout of the openai/clip-* repositories: preprocessor_config.json, tokenizer.json and
    # tokenizer_config.json, and the vocab.json / merges.txt pair that byte-level BPE readers use.
    image_processor.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    vocab, merges = tiny_clip_bpe_vocab()
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False, indent=1), encoding="utf-8")
    lines = ["#version: 0.2", *(f"{left} {right}" for left, right in merges)]
    (folder / "merges.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder
