"""animate: an (image, edited image) pair becomes a (video, edited video) pair along one camera path.

InsViE adds video pairs made from edited images; the same eased camera path (pan, zoom, rotate,
dolly) films both images, so the pair differs only by the edit, and the path keeps the changed region
on screen. A configured share is held still: the static subset of the InsViE data.

With ``motion: i2v`` the moving pairs get real motion instead: an image-to-video model animates the
source image and the edited image is propagated through that video (``backends/propagation/i2v``,
settings under ``i2v`` as for the propagate step); the static share stays static. Then a worker takes
``i2v.batch_size`` items at a time and the model animates and propagates them together (operational:
a pair's videos do not depend on its batch).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import cv2
import numpy as np
from PIL import Image
from pydantic import Field, model_validator

from insvie.backends.animation import AnimatedPair, AnimationInputs, get_animator
from insvie.backends.camera import list_paths, random_path
from insvie.engine import Child, Input, Outcome, Resources, Stage, StageConfig, StageContext, Task
from insvie.engine.work import around_batch_call
from insvie.media import read_image, write_video
from insvie.stages.frames import chosen_edit
from insvie.stages.propagate import I2VConfig, triplet_meta


class AnimateConfig(StageConfig):
    num_frames: Annotated[int, Field(ge=1, description="Frames per video; 4k+1 suits the editor.")] = 17
    fps: Annotated[float, Field(gt=0)] = 8.0
    max_side: Annotated[int, Field(ge=16, description="Images are shrunk to this longer side first.")] = 720
    static_fraction: Annotated[float, Field(ge=0, le=1, description="Share of pairs held still.")] = 0.25
    paths: Annotated[
        tuple[str, ...] | None, Field(description="Camera paths to draw from (default: all moving ones).")
    ] = None
    crf: Annotated[int, Field(ge=0, le=51)] = 18
    motion: Annotated[
        Literal["camera", "i2v"],
        Field(description="camera: a camera path films the still images; i2v: an image-to-video model."),
    ] = "camera"
    i2v_backend: Annotated[Literal["svd", "wan"], Field(description="motion i2v: which model.")] = "svd"
    i2v: I2VConfig = I2VConfig()

    def decision_dump(self) -> dict[str, Any]:
        """Without the image-to-video settings for camera motion: builds made before they existed keep
        their config hash (and are not redone)."""
        out = super().decision_dump()
        if not get_animator(self.motion).image_to_video:
            for key in ("motion", "i2v_backend", "i2v"):
                out.pop(key)
        return out

    @model_validator(mode="after")
    def _model_for_i2v(self) -> AnimateConfig:
        if get_animator(self.motion).image_to_video and not self.i2v.model:
            raise ValueError(f"motion {self.motion!r} needs i2v.model (a hub id or a local folder)")
        return self


def _fit(image: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink to ``max_side`` and to even sides (H.264 4:2:0 needs them) without changing the aspect much."""
    height, width = image.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    size = (max(2, round(width * scale) // 2 * 2), max(2, round(height * scale) // 2 * 2))
    if size == (width, height):
        return image
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


class Animate(Stage):
    """A thin adapter: the animator registry decides how a pair moves and what it records."""

    name = "animate"
    consumes = "image_edit"
    makes = "triplet"
    choice_steps: ClassVar[tuple[str, ...]] = ("image_judge", "image_clip_prefilter", "image_edit")
    after = choice_steps
    section = "animate"
    identity = "insvie.stages.animate.Animate"
    config_class = AnimateConfig
    config: AnimateConfig

    def __init__(self, config: AnimateConfig | None = None) -> None:
        super().__init__(config)
        if get_animator(self.config.motion).image_to_video:
            self.batch_size = self.config.i2v.batch_size

    def reads(self) -> tuple[Input, ...]:
        return (Input(self.choice_steps),)

    def resources(self) -> Resources:
        cfg = self.config
        return cfg.i2v.resources() if get_animator(cfg.motion).image_to_video else Resources()

    def setup(self, ctx: StageContext) -> None:
        self.ctx = ctx
        unknown = sorted(set(self.config.paths or ()) - set(list_paths()))
        if unknown:
            raise ValueError(f"unknown camera paths {unknown}; known: {list_paths()}")

    def process(self, batch: list[Task]) -> list[Outcome]:
        """The animator takes the whole batch (``run_batch``: the image-to-video model animates and
        propagates its moving pairs together). An item whose images cannot be read, or whose videos
        cannot be written, gets its own outcome and the others go on."""
        animator = get_animator(self.config.motion)
        return around_batch_call(
            batch,
            lambda task: (*self._images(task), self._inputs(task)),
            lambda ready: animator.run_batch([prepared for _, prepared in ready]),
            lambda task, prepared, pair: self._record(task, prepared[2], pair),
        )

    def _images(self, task: Task) -> tuple[np.ndarray, np.ndarray]:
        if task.kind == "pair":
            source = read_image(Path(task.meta["source_image"]))
            edited = read_image(Path(task.meta["edited_image"]))
        else:
            frame_path, _ = chosen_edit(task, self.choice_steps)
            source = read_image(Path(task.meta["source_file"]))
            edited = np.asarray(Image.open(self.ctx.resolve(frame_path)).convert("RGB"))
        source = _fit(source, self.config.max_side)
        if edited.shape != source.shape:
            edited = cv2.resize(edited, source.shape[1::-1], interpolation=cv2.INTER_AREA)
        return source, edited

    def _inputs(self, task: Task) -> AnimationInputs:
        """The item's camera path (drawn from its seed) and what an image-to-video animator needs."""
        cfg = self.config
        rng = np.random.default_rng(task.seed("animate"))
        path = random_path(
            rng, static_share=cfg.static_fraction, paths=list(cfg.paths) if cfg.paths else None
        )
        return AnimationInputs(
            path, cfg.num_frames, cfg.i2v_backend, cfg.i2v, seed=task.seed("animate_i2v") % (2**31)
        )

    def _record(self, task: Task, inputs: AnimationInputs, pair: AnimatedPair) -> Outcome:
        """Write the pair's videos and make its triplet."""
        cfg = self.config
        src_file, edt_file = self.ctx.new_file(".mp4"), self.ctx.new_file(".mp4")
        write_video(src_file, pair.source, cfg.fps, crf=cfg.crf)
        write_video(edt_file, pair.edited, cfg.fps, crf=cfg.crf)
        camera = {k: v for k, v in pair.camera.items() if isinstance(v, str | int | float | bool | None)}
        meta = triplet_meta(
            task,
            None,
            branch="pair" if task.kind == "pair" else "image",
            variant=0,
            static=inputs.path["path"] == "static",
            camera=camera,
            **pair.meta,
        )
        if task.kind == "pair":
            meta.update(
                source_file=task.meta["source_image"],
                source_name=Path(task.meta["source_image"]).stem,
                clip_index=0,
                edit_index=0,
            )
        child = Child(f"{task.item_id}.t", "triplet", meta, media=edt_file, files={"source_media": src_file})
        return Outcome.done(task.item_id, {"camera": camera}, children=[child])


class AnimatePairs(Animate):
    """The same animation over existing (image, edited image) pairs, which need no selecting step."""

    name = "animate_pairs"
    consumes = "pair"
    after = ()

    def reads(self) -> tuple[Input, ...]:
        return ()
