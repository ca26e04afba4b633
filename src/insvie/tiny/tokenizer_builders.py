"""Tokenizers built offline: the real transformers classes over a byte-level or character vocabulary.

Real checkpoints ship vocabularies of 32k-152k entries, which alone would make a tiny text encoder
tens of megabytes. These keep each class's own normalisation, pre-tokenisation and special tokens but
spell words byte by byte (CLIP, Qwen) or character by character (T5), so any prompt tokenises and the
embedding tables stay a few hundred rows.

CLIP has two: ``tiny_clip_tokenizer`` for the text encoders inside diffusers pipelines (special tokens
first, no merges), and ``tiny_clip_bpe_tokenizer`` for the stand-alone CLIP checkpoint the scorer loads,
laid out as openai/clip-* (special tokens last, so the end token is the highest id, and a few merges so
the merge path runs too).
"""

from __future__ import annotations

import string
from typing import Any

CLIP_MAX_LENGTH = 77
QWEN_SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
_CLIP_BOS, _CLIP_EOS = "<|startoftext|>", "<|endoftext|>"
# Pairs merged in this order, as lines of a merges.txt; each result becomes a vocabulary entry.
_CLIP_MERGES = (
    "t h", "th e</w>", "a n", "an d</w>", "i n", "in g</w>", "o n</w>", "e r</w>", "e d</w>", "r ed</w>",
    "r e", "o f</w>", "t o</w>", "i s</w>", "c a", "ca t</w>", "d o", "do g</w>", "s k", "sk y</w>",
)  # fmt: skip


def byte_alphabet() -> list[str]:
    """The 256 printable stand-ins GPT-2-style byte-level BPE uses for raw bytes."""
    from tokenizers.pre_tokenizers import ByteLevel

    return sorted(ByteLevel.alphabet())


def tiny_clip_tokenizer() -> Any:
    """``CLIPTokenizer`` over the 256 byte symbols, each also as a word end (``</w>``); no merges."""
    from transformers import CLIPTokenizer

    vocab = {_CLIP_BOS: 0, _CLIP_EOS: 1}
    for suffix in ("", "</w>"):
        for symbol in byte_alphabet():
            vocab[symbol + suffix] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=CLIP_MAX_LENGTH)


def tiny_clip_bpe_vocab() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """The vocabulary and merges of :func:`tiny_clip_bpe_tokenizer`: every byte symbol alone and as a word
    end (``</w>``), the merged pieces, then the start and end tokens."""
    vocab: dict[str, int] = {}
    for suffix in ("", "</w>"):
        for symbol in byte_alphabet():
            vocab[symbol + suffix] = len(vocab)
    merges = [(left, right) for left, right in (merge.split(" ") for merge in _CLIP_MERGES)]
    for left, right in merges:
        vocab.setdefault(left + right, len(vocab))
    # CLIP puts the two special tokens last; doing the same keeps the end token the highest id,
    # which the legacy pooling of openai checkpoints (argmax over ids) relies on.
    vocab[_CLIP_BOS] = len(vocab)
    vocab[_CLIP_EOS] = len(vocab)
    return vocab, merges


def tiny_clip_bpe_tokenizer() -> Any:
    """A ``CLIPTokenizer`` over :func:`tiny_clip_bpe_vocab`; pad is the end token, as in CLIP."""
    from transformers import CLIPTokenizer

    vocab, merges = tiny_clip_bpe_vocab()
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=CLIP_MAX_LENGTH)


def tiny_t5_tokenizer(max_length: int = 512) -> Any:
    """``T5Tokenizer`` (Unigram) over printable ASCII, with word-initial ``▁x`` pieces for letters."""
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    pieces += [(c, -3.0) for c in string.ascii_letters + string.digits + string.punctuation]
    pieces += [("▁" + c, -2.5) for c in string.ascii_letters + string.digits]
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=max_length)


def tiny_qwen_tokenizer(max_length: int = 1024) -> Any:
    """``Qwen2Tokenizer`` over the 256 byte symbols plus the chat and vision special tokens."""
    from transformers import Qwen2Tokenizer

    vocab = {symbol: index for index, symbol in enumerate(byte_alphabet())}
    for token in QWEN_SPECIAL_TOKENS:
        vocab[token] = len(vocab)
    return Qwen2Tokenizer(
        vocab=vocab,
        merges=[],
        model_max_length=max_length,
        additional_special_tokens=list(QWEN_SPECIAL_TOKENS[1:]),
    )
