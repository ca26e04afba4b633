"""propagate: the kept edited first frame is carried through its whole clip, making a triplet.

``flow_warp`` works for any editor (it only sees the edited frame); ``framewise`` re-applies a
procedural operator to every frame, exact for the pointwise ones; ``svd`` and ``wan`` are the paper's
way: an image-to-video model inverts the clip and regenerates it from the edited frame
(``backends/propagation/i2v``, settings under ``i2v``). Their per-window colour and structure drift
is kept in the result and the triplet's meta (``propagation_drift``), and ``i2v.max_drift`` /
``i2v.max_structure_drift`` reject a drifting clip. They take ``i2v.batch_size`` items per batch and
regenerate them together, windows of several clips in one denoising loop (``i2v.max_batch``); both
are operational, a clip's result does not depend on its batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from PIL import Image
from pydantic import Field, model_validator

from insvie.backends.propagation import (
    Propagation,
    PropagationInputs,
    is_image_to_video,
    propagation_backend,
)
from insvie.backends.propagation.flow_warp import FlowWarpConfig
from insvie.backends.propagation.i2v.settings import I2VSettings
from insvie.backends.propagation.i2v.windows import drifted
from insvie.engine import Child, Input, Need, Outcome, Resources, Stage, StageConfig, StageContext, Task
from insvie.engine.work import around_batch_call
from insvie.media import read_frames, write_video
from insvie.settings import OPERATIONAL
from insvie.stages.frames import chosen_edit, parent_clip_file, request_source


class I2VConfig(I2VSettings):
    """The ``i2v`` section: the image-to-video backend's own settings (declared once, as
    :class:`I2VSettings`) and what a step adds to them, GPUs per worker and the drift limits."""

    gpus: Annotated[
        float, Field(ge=0, description="GPUs per worker on Ray.", json_schema_extra=OPERATIONAL)
    ] = 0.0
    batch_size: Annotated[
        int,
        Field(
            ge=1,
            description="Items a worker takes together, their windows in shared denoising loops "
            "(max_batch caps one loop).",
            json_schema_extra=OPERATIONAL,
        ),
    ] = 4
    max_drift: Annotated[
        float | None,
        Field(gt=0, description="Reject when a window's colour drift (Lab levels) exceeds this."),
    ] = None
    max_structure_drift: Annotated[
        float | None,
        Field(
            gt=0, le=2, description="Reject when a window lost this much edge correlation with its source."
        ),
    ] = None

    def drifted(self, drift: dict[str, list[float]]) -> bool:
        """Whether any window drifted beyond the limits (``window_drift`` of the propagation's summary,
        :func:`insvie.backends.propagation.summarize`)."""
        return drifted(drift, colour=self.max_drift, structure=self.max_structure_drift)

    def resources(self) -> Resources:
        """A worker that keeps the image-to-video model loaded between batches."""
        return Resources(cpus=1, gpus=self.gpus, memory_gb=16, actor=True)


class PropagateConfig(StageConfig):
    backend: Annotated[
        Literal["flow_warp", "framewise", "svd", "wan"],
        Field(
            description="flow_warp: carry the edited frame along the source's flow; framewise: re-apply; "
            "svd / wan: regenerate with an image-to-video model (settings under i2v)."
        ),
    ] = "flow_warp"
    flow_size: Annotated[int, Field(ge=16, description="flow_warp: longer side of the flow resolution.")] = (
        360
    )
    reanchor_every: Annotated[int, Field(ge=0, description="flow_warp: frames between re-anchoring.")] = 8
    crf: Annotated[int, Field(ge=0, le=51, description="H.264 quality of edited videos.")] = 18
    i2v: I2VConfig = I2VConfig()

    def decision_dump(self) -> dict[str, Any]:
        """Without the ``i2v`` section unless an image-to-video backend runs: its settings decide nothing
        else, and builds made before it existed keep their config hash (and are not redone)."""
        out = super().decision_dump()
        if not is_image_to_video(self.backend):
            out.pop("i2v")
        return out

    @model_validator(mode="after")
    def _model_for_i2v(self) -> PropagateConfig:
        if is_image_to_video(self.backend) and not self.i2v.model:
            raise ValueError(f"the {self.backend} propagator needs i2v.model (a hub id or a local folder)")
        return self

    def flow_warp(self) -> FlowWarpConfig:
        """The flow-warp knobs this step sets (the others keep the backend's defaults)."""
        return FlowWarpConfig(flow_size=self.flow_size, reanchor_every=self.reanchor_every)


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


@dataclass(frozen=True, eq=False)
class _Read:
    """What one item brings to a propagation: its clip file, the decoded clip, the chosen edited frame
    (None for a backend that re-makes the edit) and where that frame came from."""

    clip: Path
    source: np.ndarray
    edited_frame: np.ndarray | None
    frame_path: str
    choice: dict[str, Any]


def _revision(config: I2VSettings) -> str | None:
    """The commit the weights came from when it is known offline (provenance of the edited video)."""
    from insvie.backends.hub import resolve_revision

    return resolve_revision(config.model or "", config.revision)


class Propagate(Stage):
    """A thin adapter: the propagation registry decides what each backend takes and records."""

    name = "propagate"
    consumes = "edit"
    makes = "triplet"
    choice_steps: ClassVar[tuple[str, ...]] = ("judge", "clip_prefilter", "edit")
    after = choice_steps
    section = "propagate"
    identity = "insvie.stages.propagate.Propagate"
    config_class = PropagateConfig
    config: PropagateConfig

    def __init__(self, config: PropagateConfig | None = None) -> None:
        super().__init__(config)
        if is_image_to_video(self.config.backend):
            self.batch_size = self.config.i2v.batch_size

    def describe(self) -> dict:
        return {**super().describe(), "choice_steps": list(self.choice_steps)}

    def reads(self) -> tuple[Input, ...]:
        return (Input(self.choice_steps), *request_source(self.consumes))

    def resources(self) -> Resources:
        return self.config.i2v.resources() if is_image_to_video(self.config.backend) else Resources()

    def needs(self) -> list[Need]:
        cfg = self.config
        if is_image_to_video(cfg.backend) and cfg.i2v.model:
            return [Need("propagate.i2v.model", "model", cfg.i2v.model)]
        return []

    def setup(self, ctx: StageContext) -> None:
        self.ctx = ctx

    def process(self, batch: list[Task]) -> list[Outcome]:
        """``flow_warp`` and ``framewise`` item by item; an image-to-video model takes the whole batch
        (:meth:`_propagate_together`)."""
        if not propagation_backend(self.config.backend).image_to_video:
            return [self._propagate(task) for task in batch]
        return self._propagate_together(batch)

    def _propagate_together(self, batch: list[Task]) -> list[Outcome]:
        """The batch's clips regenerated together
        (:meth:`~insvie.backends.propagation.i2v.I2VPropagator.propagate_batch`), so the GPU sees many
        windows per call. An item that cannot be read or checked, or whose result cannot be written, gets
        its own outcome and the others go on."""
        from insvie.backends.propagation.i2v import check_pair, load_propagator

        def prepare(task: Task) -> _Read:
            read = self._read(task, reads_edited_frame=True)
            check_pair(read.source, read.edited_frame)
            return read

        def together(ready: list[tuple[Task, _Read]]) -> list[tuple[np.ndarray, list[dict[str, Any]]]]:
            propagator = load_propagator(self.config.backend, self.config.i2v)
            return propagator.propagate_batch(
                [(read.source, read.edited_frame, self._seed(task)) for task, read in ready]
            )

        return around_batch_call(
            batch, prepare, together, lambda task, read, made: self._record(task, read, Propagation(*made))
        )

    @staticmethod
    def _seed(task: Task) -> int:
        return task.seed("propagate") % (2**31)

    def _inputs(self, task: Task, choice: dict[str, Any]) -> PropagationInputs:
        """Everything this item offers a propagator; the backend takes its part."""
        cfg = self.config
        return PropagationInputs(
            flow_warp=cfg.flow_warp(),
            i2v=cfg.i2v,
            seed=self._seed(task),
            operator=task.meta.get("operator"),
            strength=choice.get("strength"),
            edit_seed=task.seed("edit") % (2**31),
        )

    def _read(self, task: Task, reads_edited_frame: bool) -> _Read:
        """The item's source clip (decoded) and, when the backend reads it, its chosen edited frame."""
        frame_path, choice = chosen_edit(task, self.choice_steps)
        clip = parent_clip_file(task, self.ctx)
        if clip is None:
            raise ValueError(f"{task.item_id}: its clip has no stored file (did clip_store run before?)")
        edited_frame = (
            np.asarray(Image.open(self.ctx.resolve(frame_path)).convert("RGB"))
            if reads_edited_frame
            else None
        )
        return _Read(clip, read_frames(clip), edited_frame, frame_path, choice)

    def _propagate(self, task: Task) -> Outcome:
        backend = propagation_backend(self.config.backend)
        read = self._read(task, backend.reads_edited_frame)
        result = backend.propagate(read.source, read.edited_frame, self._inputs(task, read.choice))
        return self._record(task, read, result)

    def _record(self, task: Task, read: _Read, result: Propagation) -> Outcome:
        """The triplet of one propagation (written), or its rejection when an image-to-video model drifted."""
        cfg = self.config
        backend = propagation_backend(cfg.backend)
        output: dict = {"backend": cfg.backend, "edited_frame": read.frame_path}
        output.update(backend.summarize(result.diagnostics))
        if backend.image_to_video:
            output["model_revision"] = _revision(cfg.i2v)
            if cfg.i2v.drifted(output["window_drift"]):
                return Outcome.rejected(task.item_id, "drift", output)
        file = self.ctx.new_file(".mp4")
        write_video(file, result.video, task.parent_meta.get("fps", 8.0), crf=cfg.crf)
        meta = triplet_meta(
            task,
            self.ctx.relpath(read.clip),
            branch="video",
            variant=0,
            span=[task.parent_meta.get("start_time"), task.parent_meta.get("end_time")],
            strength=read.choice.get("strength"),
            settings=read.choice.get("settings"),
            propagation=cfg.backend,
            **({"propagation_drift": output["window_drift"]} if "window_drift" in output else {}),
        )
        return Outcome.done(
            task.item_id, output, children=[Child(f"{task.item_id}.t", "triplet", meta, media=file)]
        )
