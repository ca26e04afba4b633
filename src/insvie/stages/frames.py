"""Where steps find a clip's or an image's pixels: the stored clip file, its span, or the image.

Split records clips as spans of their source; ``clip_store`` encodes the clips that survived the
filters, and the steps after it read that file (an item made with a file of its own keeps using it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from insvie.engine import Input, StageContext, Task
from insvie.media import read_frames, read_image
from insvie.stages.clip_store import ClipStore

STORE_STEP = ClipStore.name
STORED_CLIP = Input(STORE_STEP, ("clip",))  # what a step reading a clip's own pixels declares


def clip_file(task: Task, ctx: StageContext) -> Path | None:
    """A clip item's stored file: its own media, or what ``clip_store`` encoded for it."""
    stored = task.inputs.get(STORE_STEP, {}).get("clip")
    return task.media or (None if stored is None else ctx.resolve(stored))


def request_source(kind: str) -> tuple[Input, ...]:
    """What a step that reads an edit request's source declares: a video request's clip file (an image
    request's source is its image, which needs no earlier output)."""
    return (Input(STORE_STEP, ("clip",), parent=True),) if kind == "edit" else ()


def parent_clip_file(task: Task, ctx: StageContext) -> Path | None:
    """The stored file of the clip an edit request was made from (None for image requests)."""
    if task.parent_media is not None or task.kind != "edit":
        return task.parent_media
    stored = task.inputs.get(f"parent.{STORE_STEP}", {}).get("clip")
    return task.parent_media or (None if stored is None else ctx.resolve(stored))


def clip_frames(task: Task) -> np.ndarray:
    """A clip's frames: from its file when it has one, else decoded from its span of the source."""
    if task.media is not None:
        return read_frames(task.media)
    meta = task.meta
    start = meta["start_frame"]
    return read_frames(
        meta["source_file"],
        start=start,
        end=start + meta["num_frames"],
        fps=meta["fps"],
        max_size=meta["max_side"],
    )


def item_frame(task: Task, ctx: StageContext) -> np.ndarray:
    """The first frame of a clip item, or an image item's picture."""
    clip = clip_file(task, ctx) if task.kind == "clip" else None
    if clip is not None:
        return read_frames(clip, end=1)[0]
    return read_image(Path(task.source or task.meta.get("source_file") or ""))


def request_frame(task: Task, ctx: StageContext) -> np.ndarray:
    """The frame an edit request edits: its clip's first frame, or the source image."""
    clip = parent_clip_file(task, ctx)
    if clip is not None:
        return read_frames(clip, end=1)[0]
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
