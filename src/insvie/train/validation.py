"""Validation during training: edit the configured videos with the current weights, every
``validation.every`` optimizer steps, into ``validation/step-N/`` (one mp4 per video and a grid of
each edit's first, middle and last frames), to see an edit take shape without stopping the run.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from insvie.train.config import TrainStageConfig

log = logging.getLogger(__name__)


def validate(
    pipe: Any, model: torch.nn.Module, config: TrainStageConfig, step: int, *, write: bool = True
) -> None:
    """Edit the validation videos with the current weights; write mp4s and a first/mid/last frame grid.

    With sharded weights (FSDP, ZeRO-3) every process must run the forward passes together, so every
    process calls this and only the one with ``write`` saves the results."""
    import numpy as np
    from PIL import Image

    from insvie.editor.output import write_edit_video
    from insvie.editor.runner import EditorRunner, EditSettings

    val = config.validation
    folder = config.output_dir / "validation" / f"step-{step:08d}"
    if write:
        folder.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    rows = []
    try:
        runner = EditorRunner.from_pipeline(pipe)
        settings = EditSettings(
            steps=val.num_inference_steps,
            frames=val.num_frames,
            height=val.height,
            width=val.width,
            seed=config.seed,
        )
        for i, (video, prompt) in enumerate(zip(val.videos, val.prompts, strict=True)):
            result = runner.edit(video, prompt, settings)
            frames = result.frames
            if not write:
                continue
            write_edit_video(frames, folder / f"{i:03d}.mp4", fps=result.fps)
            picks = [frames[0], frames[len(frames) // 2], frames[-1]]
            rows.append(np.concatenate(picks, axis=1))
        if rows and write:
            Image.fromarray(np.concatenate(rows, axis=0)).save(folder / "grid.png")
    except Exception as error:  # validation must not kill a long run
        log.warning("validation at step %d failed: %s", step, error)
    finally:
        model.train(was_training)
