"""What every tiny builder does: seed the initialisation without touching global RNG, size a T5, save."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch's CPU generator inside the block and restore the caller's state after it."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def save(pipe: Any, dest: str | Path) -> Path:
    """``save_pretrained`` into ``dest`` (created if needed) exactly as a real checkpoint folder."""
    folder = Path(dest)
    folder.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(folder)
    return folder


def tiny_t5_settings(vocab_size: int, *, d_model: int = 16, **extra: Any) -> dict[str, Any]:
    """The one-layer T5 (or UMT5) encoder every tiny pipeline's text side uses, as config keywords."""
    return {
        "vocab_size": vocab_size,
        "d_model": d_model,
        "d_kv": 8,
        "d_ff": 32,
        "num_layers": 1,
        "num_heads": 2,
        "relative_attention_num_buckets": 8,
        "pad_token_id": 0,
        "eos_token_id": 1,
        **extra,
    }
