"""The InsViE video editor: a 32-channel CogVideoX transformer in a diffusers pipeline.

    editor_from_t2v(t2v) -> CogVideoXTransformer3DModel        # grow a text-to-video model to 32 channels
    InsViEEditPipeline(...)(video, prompt, ...) -> InsViEEditOutput(frames)
    write_edit_video(frames, path, fps=8) -> Path
    InsViEDPMScheduler    # the official sampler: stochastic DPM-Solver++(2M), zero-SNR subset schedule
    InsViEGuider          # a folder's sampling recipe (guider/); the paper's 7.5, 1.2, cosine, 50 steps
    EditorRunner(model).edit(video, instruction, EditSettings(...)) -> EditedVideo
                          # what the CLI, the app, eval and training validation call
    combine_guidance(uu, cu, cc, s_text, s_video); guidance_scales(...)
    edit_long_video(pipe, video, prompt, ...) -> LongEdit; seam_consistency(frames, seams) -> SeamReport

Names that need torch/diffusers load on first use, so the guidance maths and the seam metric import
without them.
"""

from __future__ import annotations

import importlib
from typing import Any

from insvie.editor.guidance import (
    SCHEDULES,
    GuidanceSchedule,
    combine_guidance,
    guidance_scales,
    scheduled_scale,
)
from insvie.editor.windows import SeamReport, long_video_spans, seam_consistency

# the SAT checkpoint conversion: see insvie.editor.sat

_LAZY = {
    "InsViEEditPipeline": "insvie.editor.pipeline",
    "InsViEDPMScheduler": "insvie.editor.scheduler",
    "InsViEGuider": "insvie.editor.guider",
    "EditorRunner": "insvie.editor.runner",
    "EditSettings": "insvie.editor.runner",
    "EditedVideo": "insvie.editor.runner",
    "InsViEEditOutput": "insvie.editor.output",
    "write_edit_video": "insvie.editor.output",
    "editor_from_t2v": "insvie.editor.transformer",
    "grow_patch_embedding": "insvie.editor.transformer",
    "load_t2v_transformer": "insvie.editor.transformer",
    "empty_transformer": "insvie.editor.transformer",
    "parameter_count": "insvie.editor.transformer",
    "latent_shape": "insvie.editor.transformer",
    "COGVIDEOX_2B_CONFIG": "insvie.editor.transformer",
    "COGVIDEOX_5B_CONFIG": "insvie.editor.transformer",
    "COGVIDEOX_SCHEDULER_CONFIG": "insvie.editor.transformer",
    "COGVIDEOX_VAE_CONFIG": "insvie.editor.transformer",
    "EDITOR_IN_CHANNELS": "insvie.editor.transformer",
    "edit_long_video": "insvie.editor.windows",
    "LongEdit": "insvie.editor.windows",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'insvie.editor' has no attribute {name!r}")


__all__ = [
    "COGVIDEOX_2B_CONFIG",
    "COGVIDEOX_5B_CONFIG",
    "COGVIDEOX_SCHEDULER_CONFIG",
    "COGVIDEOX_VAE_CONFIG",
    "EDITOR_IN_CHANNELS",
    "SCHEDULES",
    "EditSettings",
    "EditedVideo",
    "EditorRunner",
    "GuidanceSchedule",
    "InsViEDPMScheduler",
    "InsViEEditOutput",
    "InsViEEditPipeline",
    "InsViEGuider",
    "LongEdit",
    "SeamReport",
    "combine_guidance",
    "edit_long_video",
    "editor_from_t2v",
    "empty_transformer",
    "grow_patch_embedding",
    "guidance_scales",
    "latent_shape",
    "load_t2v_transformer",
    "long_video_spans",
    "parameter_count",
    "scheduled_scale",
    "seam_consistency",
    "write_edit_video",
]
