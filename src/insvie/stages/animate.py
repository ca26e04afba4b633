"""animate: an (image, edited image) pair becomes a (video, edited video) pair along one camera path.

InsViE adds video pairs made from edited images; the same eased camera path (pan, zoom, rotate,
dolly) films both images, so the pair differs only by the edit, and the path keeps the changed region
on screen. A configured share is held still: the static subset of the InsViE data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import cv2
import numpy as np
from PIL import Image
from pydantic import Field

from insvie.backends.camera import animate_pair, list_paths, random_path
from insvie.engine import Child, Outcome, Stage, StageConfig, StageContext, Task
from insvie.media import read_image, write_video
from insvie.stages.frames import chosen_edit
from insvie.stages.propagate import triplet_meta


class AnimateConfig(StageConfig):
    num_frames: Annotated[int, Field(ge=1, description="Frames per video; 4k+1 suits the editor.")] = 17
    fps: Annotated[float, Field(gt=0)] = 8.0
    max_side: Annotated[int, Field(ge=16, description="Images are shrunk to this longer side first.")] = 720
    static_fraction: Annotated[float, Field(ge=0, le=1, description="Share of pairs held still.")] = 0.25
    paths: Annotated[
        tuple[str, ...] | None, Field(description="Camera paths to draw from (default: all moving ones).")
    ] = None
    crf: Annotated[int, Field(ge=0, le=51)] = 18


def _fit(image: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink to ``max_side`` and to even sides (H.264 4:2:0 needs them) without changing the aspect much."""
    height, width = image.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    size = (max(2, round(width * scale) // 2 * 2), max(2, round(height * scale) // 2 * 2))
    if size == (width, height):
        return image
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


class Animate(Stage):
    name = "animate"
    consumes = "image_edit"
    config_class = AnimateConfig
    config: AnimateConfig

    def setup(self, ctx: StageContext) -> None:
        self.ctx = ctx
        unknown = sorted(set(self.config.paths or ()) - set(list_paths()))
        if unknown:
            raise ValueError(f"unknown camera paths {unknown}; known: {list_paths()}")

    def process(self, batch: list[Task]) -> list[Outcome]:
        return [self._animate(task) for task in batch]

    def _images(self, task: Task) -> tuple[np.ndarray, np.ndarray]:
        if task.kind == "pair":
            source = read_image(Path(task.meta["source_image"]))
            edited = read_image(Path(task.meta["edited_image"]))
        else:
            frame_path, _ = chosen_edit(task, ("image_judge", "image_clip_prefilter", "image_edit"))
            source = read_image(Path(task.meta["source_file"]))
            edited = np.asarray(Image.open(self.ctx.resolve(frame_path)).convert("RGB"))
        source = _fit(source, self.config.max_side)
        if edited.shape != source.shape:
            edited = cv2.resize(edited, source.shape[1::-1], interpolation=cv2.INTER_AREA)
        return source, edited

    def _animate(self, task: Task) -> Outcome:
        cfg = self.config
        source, edited = self._images(task)
        rng = np.random.default_rng(task.seed("animate"))
        path = random_path(
            rng, static_share=cfg.static_fraction, paths=list(cfg.paths) if cfg.paths else None
        )
        src_video, edt_video, params = animate_pair(
            source, edited, num_frames=cfg.num_frames, keep_in_view="changed", **path
        )
        src_file, edt_file = self.ctx.new_file(".mp4"), self.ctx.new_file(".mp4")
        write_video(src_file, src_video, cfg.fps, crf=cfg.crf)
        write_video(edt_file, edt_video, cfg.fps, crf=cfg.crf)
        camera = {k: v for k, v in params.items() if isinstance(v, str | int | float | bool | None)}
        meta = triplet_meta(
            task,
            None,
            branch="pair" if task.kind == "pair" else "image",
            variant=0,
            static=path["path"] == "static",
            camera=camera,
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
