"""propagate: the kept edited first frame is carried through its whole clip, making a triplet.

``flow_warp`` works for any editor (it only sees the edited frame); ``framewise`` re-applies a
procedural operator to every frame, exact for the pointwise ones; ``svd`` and ``wan`` are the paper's
way: an image-to-video model inverts the clip and regenerates it from the edited frame
(``backends/propagation/i2v``, settings under ``i2v``). Their per-window colour and structure drift
is kept in the result and the triplet's meta (``propagation_drift``), and ``i2v.max_drift`` /
``i2v.max_structure_drift`` reject a drifting clip.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from PIL import Image
from pydantic import Field, model_validator

from insvie.backends.propagation import get_propagator, is_image_to_video, summarize
from insvie.backends.propagation.flow_warp import FlowWarpConfig
from insvie.engine import Child, Need, Outcome, Resources, Stage, StageConfig, StageContext, Task
from insvie.engine.stage import OPERATIONAL
from insvie.media import read_frames, write_video
from insvie.stages.frames import chosen_edit, parent_clip_file


class I2VConfig(StageConfig):
    """Image-to-video propagation (``backend: svd`` or ``wan``); defaults as ``I2VSettings``."""

    model: Annotated[str | None, Field(description="Hub id or local folder of the diffusers pipeline.")] = (
        None
    )
    revision: str | None = None
    num_frames: Annotated[int, Field(ge=2, description="Frames per window; windows share one frame.")] = 25
    height: Annotated[int, Field(ge=8, description="Working height (rounded to the model's grid).")] = 576
    width: Annotated[int, Field(ge=8, description="Working width.")] = 1024
    steps: Annotated[int, Field(ge=1)] = 25
    feature_injection: Annotated[
        float, Field(ge=0, le=1, description="Share of steps with source features.")
    ] = 0.2
    attention_injection: Annotated[
        float, Field(ge=0, le=1, description="Share with source attention q/k.")
    ] = 0.2
    inject_blocks: Literal["up", "all"] = "up"
    inversion_correction: bool = True
    guidance: Annotated[float | None, Field(ge=1, description="None: the backend's (SVD 3.0, Wan 5.0).")] = (
        None
    )
    min_guidance: Annotated[float, Field(ge=1, description="SVD: guidance at the first frame.")] = 1.0
    fps: Annotated[int, Field(ge=1, description="SVD micro-conditioning.")] = 7
    motion_bucket_id: Annotated[int, Field(ge=0)] = 127
    noise_aug_strength: Annotated[float, Field(ge=0)] = 0.02
    prompt: Annotated[str, Field(description="Wan: text prompt; empty by default.")] = ""
    negative_prompt: str = ""
    dtype: Annotated[str | None, Field(description="float16, bfloat16 or float32 (default: by device).")] = (
        None
    )
    decode_chunk_size: Annotated[int | None, Field(ge=1, description="Frames per VAE decode (memory).")] = (
        None
    )
    device: Annotated[str, Field(description="auto, cpu or cuda[:N].", json_schema_extra=OPERATIONAL)] = (
        "auto"
    )
    cpu_offload: Annotated[
        bool, Field(description="Model CPU offload (CUDA).", json_schema_extra=OPERATIONAL)
    ] = False
    gpus: Annotated[
        float, Field(ge=0, description="GPUs per worker on Ray.", json_schema_extra=OPERATIONAL)
    ] = 0.0
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
        return any(
            limit is not None and max(drift[key]) > limit
            for key, limit in (("colour", self.max_drift), ("structure", self.max_structure_drift))
        )

    def settings(self, seed: int) -> Any:
        """The backend's ``I2VSettings`` (model required) with this item's seed."""
        from insvie.backends.propagation.i2v import I2VSettings

        fields = self.model_dump(exclude={"gpus", "max_drift", "max_structure_drift"})
        return I2VSettings(**fields, seed=seed)


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


def _revision(config: I2VConfig) -> str | None:
    """The commit the weights came from when it is known offline (provenance of the edited video)."""
    from insvie.backends.hub import resolve_revision

    return resolve_revision(config.model or "", config.revision)


class Propagate(Stage):
    name = "propagate"
    consumes = "edit"
    makes = "triplet"
    config_class = PropagateConfig
    config: PropagateConfig

    def needs(self) -> list[Need]:
        cfg = self.config
        if is_image_to_video(cfg.backend) and cfg.i2v.model:
            return [Need("propagate.i2v.model", "model", cfg.i2v.model)]
        return []

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
        if is_image_to_video(self.config.backend):
            # The image-to-video model stays loaded in an actor between batches.
            self.resources = Resources(cpus=1, gpus=self.config.i2v.gpus, memory_gb=16, actor=True)  # type: ignore[misc]

    def describe(self) -> dict:
        return {**super().describe(), "choice_steps": list(self.choice_steps)}

    def _edited_frame(self, frame_path: str) -> np.ndarray | None:
        """The chosen edited first frame (``framewise`` re-applies the edit and needs none)."""
        if self.config.backend == "framewise":
            return None
        return np.asarray(Image.open(self.ctx.resolve(frame_path)).convert("RGB"))

    def _options(self, task: Task, choice: dict[str, Any]) -> dict[str, Any]:
        """The propagator's keywords: its settings, and for ``framewise`` the edit to re-apply."""
        cfg = self.config
        if is_image_to_video(cfg.backend):
            return {"config": cfg.i2v.settings(task.seed("propagate") % (2**31))}
        if cfg.backend == "framewise":
            operator = task.meta.get("operator")
            if operator is None:
                raise ValueError(f"{task.item_id}: framewise propagation needs a procedural operator")
            return {"operator": operator, "strength": choice["strength"], "seed": task.seed("edit") % (2**31)}
        return {"config": FlowWarpConfig(flow_size=cfg.flow_size, reanchor_every=cfg.reanchor_every)}

    def process(self, batch: list[Task]) -> list[Outcome]:
        return [self._propagate(task) for task in batch]

    def _propagate(self, task: Task) -> Outcome:
        cfg = self.config
        frame_path, choice = chosen_edit(task, self.choice_steps)
        clip = parent_clip_file(task, self.ctx)
        if clip is None:
            raise ValueError(f"{task.item_id}: its clip has no stored file (did clip_store run before?)")
        source = read_frames(clip)
        output: dict = {"backend": cfg.backend, "edited_frame": frame_path}
        result = get_propagator(cfg.backend)(
            source, self._edited_frame(frame_path), **self._options(task, choice)
        )
        output.update(summarize(cfg.backend, result.diagnostics))
        if is_image_to_video(cfg.backend):
            output["model_revision"] = _revision(cfg.i2v)
            if cfg.i2v.drifted(output["window_drift"]):
                return Outcome.rejected(task.item_id, "drift", output)
        edited = result.video
        file = self.ctx.new_file(".mp4")
        write_video(file, edited, task.parent_meta.get("fps", 8.0), crf=cfg.crf)
        meta = triplet_meta(
            task,
            self.ctx.relpath(clip),
            branch="video",
            variant=0,
            span=[task.parent_meta.get("start_time"), task.parent_meta.get("end_time")],
            strength=choice.get("strength"),
            settings=choice.get("settings"),
            propagation=cfg.backend,
            **({"propagation_drift": output["window_drift"]} if "window_drift" in output else {}),
        )
        return Outcome.done(
            task.item_id, output, children=[Child(f"{task.item_id}.t", "triplet", meta, media=file)]
        )
