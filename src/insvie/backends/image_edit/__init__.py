"""Instruction image editors that make K candidates of an image (the first-frame edit), many images at once.

    make_image_editor(name, model=..., *, revision=None, dtype=None, device="auto", cpu_offload=False,
                      attention_slicing=False, vae_tiling=False, resolution="auto", max_batch=None,
                      sampler="sweep")
        -> ImageEditor          # names: instruct_pix2pix, flux_kontext, qwen_image_edit
    ImageEditor: name, load(), describe() -> dict, effective(setting) -> GuidanceSetting,
                 edit(image HxWx3 uint8, instruction, settings, *, seed) -> list[HxWx3 uint8],
                 edit_batch([ImageEditRequest(image, instruction, settings, seed), ...])
                     -> [[HxWx3 uint8 per setting] per request]   # one denoising loop per working size
    GuidanceSetting(text_guidance, image_guidance=1.5 | None, steps=20)
    default_sweep(k=6)            # text guidance evenly over [3, 8], image guidance 1.5 (InsViE)
    sweep_grid(texts, images) / sweep_list([(text, image), ...])
    candidate_seeds(settings, seed) / candidate_records(editor, settings, seed)   # provenance per candidate

Nothing here imports torch or diffusers until an editor loads; the weight-free editor is
:mod:`insvie.backends.procedural`. Tiny random pipelines for tests live in :mod:`insvie.tiny`.
"""

from insvie.backends.image_edit.diffusers_base import DiffusersEditor
from insvie.backends.image_edit.flux_kontext import FluxKontextEditor
from insvie.backends.image_edit.instruct_pix2pix import InstructPix2PixEditor
from insvie.backends.image_edit.protocol import ImageEditor, ImageEditRequest, candidate_records
from insvie.backends.image_edit.qwen_image_edit import QwenImageEditEditor
from insvie.backends.image_edit.registry import IMAGE_EDITORS, list_image_editors, make_image_editor
from insvie.backends.image_edit.settings import (
    DEFAULT_IMAGE_GUIDANCE,
    DEFAULT_STEPS,
    GuidanceSetting,
    candidate_seeds,
    default_sweep,
    sweep_grid,
    sweep_list,
)

__all__ = [
    "DEFAULT_IMAGE_GUIDANCE",
    "DEFAULT_STEPS",
    "IMAGE_EDITORS",
    "DiffusersEditor",
    "FluxKontextEditor",
    "GuidanceSetting",
    "ImageEditRequest",
    "ImageEditor",
    "InstructPix2PixEditor",
    "QwenImageEditEditor",
    "candidate_records",
    "candidate_seeds",
    "default_sweep",
    "list_image_editors",
    "make_image_editor",
    "sweep_grid",
    "sweep_list",
]
