"""Small, torch-light helpers of the diffusers editors: device and dtype choice, revisions, working sizes.

Kept apart from the editors so that the rules (what "auto" means, where a commit hash is read from,
how an odd-sized frame is brought to the model's grid) are stated once and tested without weights.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from insvie.errors import ConfigError

DTYPES = ("float16", "bfloat16", "float32")
_SHA = re.compile(r"[0-9a-f]{40}")


def resolve_dtype(dtype: str | None, device: str) -> str:
    """The dtype to load in: bfloat16 on CUDA, float32 elsewhere (half precision is slow or broken on CPU)."""
    if dtype is None:
        return "bfloat16" if device.startswith("cuda") else "float32"
    if dtype not in DTYPES:
        raise ConfigError(f"dtype {dtype!r}: must be one of {list(DTYPES)}")
    return dtype


def torch_dtype(name: str) -> Any:
    import torch

    return getattr(torch, name)


def _snapshot_hash(folder: Path) -> str | None:
    """The commit of a folder inside a Hugging Face cache (``.../snapshots/<sha>``), else None."""
    folder = folder.resolve()
    if folder.parent.name == "snapshots" and _SHA.fullmatch(folder.name):
        return folder.name
    return None


def resolve_revision(model: str, revision: str | None) -> str | None:
    """The commit hash the weights came from when it can be known offline, else the revision asked for.

    A local folder answers with its ``model_index.json`` ``_commit_hash`` or, when it is a hub-cache
    snapshot, the snapshot's name; a plain folder has no revision (None). A hub id answers with the
    snapshot the cache holds for ``revision`` (``main`` by default), which is what ``from_pretrained``
    loaded.
    """
    folder = Path(model)
    if folder.is_dir():
        index = folder / "model_index.json"
        if index.is_file():
            try:
                commit = json.loads(index.read_text()).get("_commit_hash")
            except (OSError, ValueError):
                commit = None
            if isinstance(commit, str) and commit:
                return commit
        return _snapshot_hash(folder)
    if revision is not None and _SHA.fullmatch(revision):
        return revision
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model, "model_index.json", revision=revision)
    except Exception:  # a malformed id or an unreadable cache: the revision stays unknown
        cached = None
    if isinstance(cached, str):
        commit = _snapshot_hash(Path(cached).parent)
        if commit is not None:
            return commit
    return revision


def working_size(height: int, width: int, multiple: int, area: int | None = None) -> tuple[int, int]:
    """The (height, width) the model runs at: the input's aspect, scaled to ``area`` pixels (None keeps
    the input's area), each side rounded to the nearest multiple of ``multiple`` and at least one."""
    if height < 1 or width < 1 or multiple < 1:
        raise ValueError(f"need positive sizes and multiple, got {height}x{width}, multiple {multiple}")
    scale = 1.0 if area is None else math.sqrt(area / (height * width))
    return (
        max(multiple, round(height * scale / multiple) * multiple),
        max(multiple, round(width * scale / multiple) * multiple),
    )


def check_image(image: np.ndarray) -> np.ndarray:
    """The image as a contiguous HxWx3 uint8 array, or a ValueError saying what is wrong with it."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise ValueError(f"image must be an HxWx3 uint8 array, got shape {shape} dtype {dtype}")
    return np.ascontiguousarray(image)


def to_uint8(images: np.ndarray) -> np.ndarray:
    """diffusers' float output in [0, 1] (NxHxWx3) as uint8."""
    return (np.clip(images, 0.0, 1.0) * 255.0).round().astype(np.uint8)
