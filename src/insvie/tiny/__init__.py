"""Tiny, randomly initialised but structurally real checkpoints, for tests and offline smoke runs.

    build_tiny_instruct_pix2pix(dest, *, seed=0) -> Path
    build_tiny_flux_kontext(dest, *, seed=0) -> Path
    build_tiny_qwen_image_edit(dest, *, seed=0) -> Path
    TINY_IMAGE_EDITORS: backend name -> builder;  build_tiny_image_editors(dest) -> {name: folder}

Each builder uses the real diffusers/transformers classes with toy widths and writes them with
``save_pretrained``, so the backends load them exactly as they load real weights (by folder path).
Initialisation is seeded: the same seed writes the same weights. Nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from insvie.tiny.flux_kontext import build_tiny_flux_kontext
from insvie.tiny.instruct_pix2pix import build_tiny_instruct_pix2pix
from insvie.tiny.qwen_image_edit import build_tiny_qwen_image_edit

TINY_IMAGE_EDITORS: dict[str, Callable[..., Path]] = {
    "instruct_pix2pix": build_tiny_instruct_pix2pix,
    "flux_kontext": build_tiny_flux_kontext,
    "qwen_image_edit": build_tiny_qwen_image_edit,
}


def build_tiny_image_editors(dest: str | Path, *, seed: int = 0) -> dict[str, Path]:
    """Every tiny editor, each in ``dest/<backend name>``."""
    return {name: build(Path(dest) / name, seed=seed) for name, build in TINY_IMAGE_EDITORS.items()}


__all__ = [
    "TINY_IMAGE_EDITORS",
    "build_tiny_flux_kontext",
    "build_tiny_image_editors",
    "build_tiny_instruct_pix2pix",
    "build_tiny_qwen_image_edit",
]
