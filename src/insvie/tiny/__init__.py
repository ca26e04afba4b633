"""Tiny, randomly initialised but structurally real checkpoints, for tests and offline smoke runs.

    build_tiny_instruct_pix2pix(dest, *, seed=0) -> Path
    build_tiny_flux_kontext(dest, *, seed=0) -> Path
    build_tiny_qwen_image_edit(dest, *, seed=0) -> Path
    TINY_IMAGE_EDITORS: backend name -> builder;  build_tiny_image_editors(dest) -> {name: folder}
    build_tiny_clip(dest, *, seed=0) -> Path                     # what ClipScorer loads
    build_tiny_vlm(dest, *, seed=0) / build_tiny_lm(dest, *, seed=0) -> Path   # TransformersVLM
    build_tiny_svd(dest, *, seed=0) / build_tiny_wan_i2v(dest, *, seed=0) -> Path   # i2v propagation
    build_tiny_dino(dest, *, seed=0) -> Path                     # the DINOv2 metric, the perceptual loss
    build_tiny_editor(*, seed=0) -> InsViEEditPipeline;  build_tiny_editor_pipeline(dest) -> Path
    build_tiny_t2v_transformer(*, seed=0) -> CogVideoXTransformer3DModel   # the editor's base
    panning_texture(count=4, size=32, seed=0) -> (count, size, size, 3) uint8   # a clip for them
    seeded(seed): a block whose torch CPU initialisation is seeded, the caller's RNG state restored

Each builder uses the real diffusers/transformers classes with toy widths and writes them with
``save_pretrained``, so the backends load them exactly as they load real weights (by folder path).
Initialisation is seeded: the same seed writes the same weights, and the caller's torch RNG is left as
it was. Nothing is downloaded.

This room sits above the backends: it may import them (the Qwen builder uses the backend's processor),
and no production module imports it; only ``insvie tiny-models``, tests and benchmarks do.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from insvie.tiny._common import seeded
from insvie.tiny.clip import build_tiny_clip
from insvie.tiny.dino import build_tiny_dino
from insvie.tiny.editor import build_tiny_editor, build_tiny_editor_pipeline, build_tiny_t2v_transformer
from insvie.tiny.flux_kontext import build_tiny_flux_kontext
from insvie.tiny.i2v import build_tiny_svd, build_tiny_wan_i2v, panning_texture
from insvie.tiny.instruct_pix2pix import build_tiny_instruct_pix2pix
from insvie.tiny.qwen_image_edit import build_tiny_qwen_image_edit
from insvie.tiny.vlm import build_tiny_lm, build_tiny_vlm

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
    "build_tiny_clip",
    "build_tiny_dino",
    "build_tiny_editor",
    "build_tiny_editor_pipeline",
    "build_tiny_flux_kontext",
    "build_tiny_image_editors",
    "build_tiny_instruct_pix2pix",
    "build_tiny_lm",
    "build_tiny_qwen_image_edit",
    "build_tiny_svd",
    "build_tiny_t2v_transformer",
    "build_tiny_vlm",
    "build_tiny_wan_i2v",
    "panning_texture",
    "seeded",
]
