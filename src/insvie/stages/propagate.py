"""propagate: the kept edited first frame is carried through its whole clip, making a triplet.

``flow_warp`` works for any editor (it only sees the edited frame); ``framewise`` re-applies a
procedural operator to every frame, exact for the pointwise ones. The image-to-video propagation of
the paper plugs in here as a further backend.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from PIL import Image
from pydantic import Field

from insvie.backends.propagation.flow_warp import FlowWarpConfig, propagate_flow_warp
from insvie.backends.propagation.framewise import propagate_framewise
from insvie.engine import Child, Outcome, Stage, StageConfig, StageContext, Task
from insvie.media import read_frames, write_video
from insvie.stages.frames import chosen_edit


class PropagateConfig(StageConfig):
    backend: Annotated[
        Literal["flow_warp", "framewise"],
        Field(description="flow_warp: carry the edited frame along the source's flow; framewise: re-apply."),
    ] = "flow_warp"
    flow_size: Annotated[int, Field(ge=16, description="flow_warp: longer side of the flow resolution.")] = (
        360
    )
    reanchor_every: Annotated[int, Field(ge=0, description="flow_warp: frames between re-anchoring.")] = 8
    crf: Annotated[int, Field(ge=0, le=51, description="H.264 quality of edited videos.")] = 18


def triplet_meta(task: Task, source_media: str | None, **extra: object) -> dict:
    """What every triplet carries: where it came from, what was asked, and how it was made.

    ``source_media`` is None when the source video is new too (animated images): the runner fills
    it in when it stores that file.
    """
    keep = ("source_file", "source_name", "clip_index", "edit_index", "instruction", "category", "operator")
    return {
        **{key: task.meta[key] for key in keep if key in task.meta},
        **({} if source_media is None else {"source_media": source_media}),
        "request": task.item_id,
        **extra,
    }


class Propagate(Stage):
    name = "propagate"
    consumes = "edit"
    config_class = PropagateConfig
    config: PropagateConfig

    def setup(self, ctx: StageContext) -> None:
        self.ctx = ctx

    def __init__(
        self,
        config: PropagateConfig | None = None,
        *,
        name: str | None = None,
        consumes: str | None = None,
        choice_steps: tuple[str, ...] = ("judge", "clip_prefilter", "edit"),
    ) -> None:
        super().__init__(config, name=name, consumes=consumes)
        self.choice_steps = choice_steps

    def describe(self) -> dict:
        return {**super().describe(), "choice_steps": list(self.choice_steps)}

    def process(self, batch: list[Task]) -> list[Outcome]:
        return [self._propagate(task) for task in batch]

    def _propagate(self, task: Task) -> Outcome:
        cfg = self.config
        frame_path, choice = chosen_edit(task, self.choice_steps)
        assert task.parent_media is not None, f"{task.item_id}: an edit request made from a clip"
        source = read_frames(task.parent_media)
        output: dict = {"backend": cfg.backend, "edited_frame": frame_path}
        if cfg.backend == "framewise":
            operator = task.meta.get("operator")
            if operator is None:
                raise ValueError(f"{task.item_id}: framewise propagation needs a procedural operator")
            edited = propagate_framewise(source, operator, choice["strength"], task.seed("edit") % (2**31))
        else:
            frame = np.asarray(Image.open(self.ctx.resolve(frame_path)).convert("RGB"))
            result = propagate_flow_warp(
                source, frame, FlowWarpConfig(flow_size=cfg.flow_size, reanchor_every=cfg.reanchor_every)
            )
            edited = result.video
            diagnostics = result.diagnostics_dicts()
            output["mean_fallback"] = round(float(np.mean([d["fallback"] for d in diagnostics])), 6)
            output["reanchored"] = [d["index"] for d in diagnostics if d["reanchored"]]
        file = self.ctx.new_file(".mp4")
        write_video(file, edited, task.parent_meta.get("fps", 8.0), crf=cfg.crf)
        meta = triplet_meta(
            task,
            self.ctx.relpath(task.parent_media),
            branch="video",
            variant=0,
            span=[task.parent_meta.get("start_time"), task.parent_meta.get("end_time")],
            strength=choice.get("strength"),
            settings=choice.get("settings"),
            propagation=cfg.backend,
        )
        return Outcome.done(
            task.item_id, output, children=[Child(f"{task.item_id}.t", "triplet", meta, media=file)]
        )
