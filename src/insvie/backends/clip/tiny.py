"""A tiny, randomly initialised but structurally real CLIP checkpoint, written without any download.

It is a real ``CLIPModel`` (2-layer text and vision towers, 32x32 images in 8x8 patches, 16-dim
projections) with a real ``CLIPTokenizer`` and the Pillow-backed ``CLIPImageProcessorPil``, saved with
``save_pretrained``; ``ClipScorer(folder)`` loads it exactly as it loads openai/clip-vit-large-patch14,
so tests exercise the real tokenisation, preprocessing, pooling and projection paths. Its scores are
noise: only their structure (shapes, norms, symmetries, batching) means anything.

The tokenizer is byte-level BPE like CLIP's: every byte symbol, alone and as a word end (``</w>``), so
any text tokenises, plus a few merges of common English pieces so the merge path runs too. That keeps
the vocabulary near 550 entries instead of CLIP's 49,408 and the whole folder well under a megabyte.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TINY_IMAGE_SIZE = 32
TINY_PATCH_SIZE = 8
TINY_PROJECTION_DIM = 16
CLIP_MAX_LENGTH = 77  # CLIP's text context; the tiny text tower keeps it so truncation behaves the same

_BOS, _EOS = "<|startoftext|>", "<|endoftext|>"
# Pairs merged in this order, as lines of a merges.txt; each result becomes a vocabulary entry.
_MERGES = (
    "t h", "th e</w>", "a n", "an d</w>", "i n", "in g</w>", "o n</w>", "e r</w>", "e d</w>", "r ed</w>",
    "r e", "o f</w>", "t o</w>", "i s</w>", "c a", "ca t</w>", "d o", "do g</w>", "s k", "sk y</w>",
)  # fmt: skip


def _byte_alphabet() -> list[str]:
    from tokenizers.pre_tokenizers import ByteLevel

    return sorted(ByteLevel.alphabet())


def tiny_clip_vocab() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """The vocabulary and merges of the tiny tokenizer (start/end tokens first, as in CLIP's order)."""
    vocab: dict[str, int] = {}
    for suffix in ("", "</w>"):
        for symbol in _byte_alphabet():
            vocab[symbol + suffix] = len(vocab)
    merges = [(left, right) for left, right in (merge.split(" ") for merge in _MERGES)]
    for left, right in merges:
        vocab.setdefault(left + right, len(vocab))
    # CLIP puts the two special tokens last; doing the same keeps the end token the highest id,
    # which the legacy pooling of openai checkpoints (argmax over ids) relies on.
    vocab[_BOS] = len(vocab)
    vocab[_EOS] = len(vocab)
    return vocab, merges


def tiny_clip_tokenizer() -> Any:
    """A ``CLIPTokenizer`` over the tiny byte-level vocabulary; pad is the end token, as in CLIP."""
    from transformers import CLIPTokenizer

    vocab, merges = tiny_clip_vocab()
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=CLIP_MAX_LENGTH)


def build_tiny_clip(dest: str | Path, *, seed: int = 0) -> Path:
    """Write the tiny checkpoint (model weights, config, tokenizer, image processor) into ``dest``.

    The same seed writes the same weights; the caller's torch RNG state is left as it was.
    """
    import torch
    from transformers import CLIPConfig, CLIPModel, CLIPTextConfig, CLIPVisionConfig
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    tokenizer = tiny_clip_tokenizer()
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
        max_position_embeddings=CLIP_MAX_LENGTH,
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
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CLIPModel(config).eval()
    folder = Path(dest)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    # The layout of the openai/clip-* repositories: preprocessor_config.json, tokenizer.json and
    # tokenizer_config.json, and the vocab.json / merges.txt pair that byte-level BPE readers use.
    image_processor.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    vocab, merges = tiny_clip_vocab()
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False, indent=1), encoding="utf-8")
    lines = ["#version: 0.2", *(f"{left} {right}" for left, right in merges)]
    (folder / "merges.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder
