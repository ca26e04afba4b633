"""Small, torch-light helpers of the diffusers editors: dtype choice, working sizes, image checks.

Kept apart from the editors so that the rules (what "auto" means, how an odd-sized frame is brought to
the model's grid) are stated once and tested without weights. Where the weights came from (hub id or
folder, their commit) is :mod:`insvie.backends.hub`'s.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from insvie.errors import ConfigError

DTYPES = ("float16", "bfloat16", "float32")


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
