"""The one frame an image-level step looks at: a clip's first frame, or the image itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from insvie.engine import Task
from insvie.media import read_frames, read_image


def item_frame(task: Task) -> np.ndarray:
    """The first frame of a clip item, or an image item's picture."""
    if task.kind == "clip" and task.media is not None:
        return read_frames(task.media, end=1)[0]
    return read_image(Path(task.source or task.meta.get("source_file") or ""))


def request_frame(task: Task) -> np.ndarray:
    """The frame an edit request edits: its clip's first frame, or the source image."""
    if task.parent_media is not None:
        return read_frames(task.parent_media, end=1)[0]
    return read_image(Path(task.meta.get("source_file") or ""))


def chosen_edit(task: Task, steps: tuple[str, ...]) -> tuple[str, dict]:
    """The stored path of the kept edited frame, and the output of the step that chose it.

    ``steps`` are tried in order (the judge, then the edit step whose own scorer picked when no
    judge ran), so propagation follows whichever selection the build used.
    """
    for step in steps:
        output = task.inputs.get(step)
        if not output:
            continue
        if "edited_frame" in output:
            return output["edited_frame"], output
        if "edited_frame_key" in output:
            return output[output["edited_frame_key"]], output
    raise KeyError(f"{task.item_id}: none of the steps {steps} chose an edited frame")


def choice(edit: dict, index: int) -> dict:
    """What a selecting step records about the candidate it kept: which, its file, and what made it."""
    candidate = edit["candidates"][index]
    return {
        "chosen": index,
        "edited_frame": edit[candidate["file"]],
        "strength": candidate.get("strength"),
        "settings": made_by(candidate),
    }


def made_by(candidate: dict) -> dict:
    """The editor settings of one candidate (empty for the procedural editor, which has a strength)."""
    return {k: candidate[k] for k in ("text_guidance", "image_guidance", "steps", "seed") if k in candidate}
