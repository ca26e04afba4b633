"""What every tiny builder does: seed the initialisation without touching global RNG, save, report."""

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
