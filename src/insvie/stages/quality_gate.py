"""The quality gates of curation: clips and images that would teach the editor bad habits are dropped.

Both gates share the exposure and sharpness checks; clips add motion (labelled static or dynamic, as
in the InsViE data, with the too-static and too-fast dropped as configured). Each gate also records
the perceptual hash the dedup step compares.

A clip's signals are measured by :func:`insvie.backends.analysis.curation.clip_signals` (by ``split``
while it has the frames, or here for clips that came without them), the one home of that measurement.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
from pydantic import Field

from insvie.backends.analysis.curation import clip_signals
from insvie.backends.analysis.motion import motion_label
from insvie.backends.analysis.phash import phash
from insvie.backends.analysis.quality import clip_quality
from insvie.engine import Outcome, Stage, StageConfig, StageContext, Task
from insvie.media import read_image
from insvie.stages.frames import clip_frames


class GateConfig(StageConfig):
    min_sharpness: Annotated[
        float, Field(ge=0, description="Variance of the Laplacian at 256 px; blurrier is rejected.")
    ] = 30.0
    min_luma: Annotated[float, Field(ge=0, le=1, description="Mean luma below this is too dark.")] = 0.08
    max_luma: Annotated[float, Field(ge=0, le=1, description="Mean luma above this is too bright.")] = 0.92
    max_clipped: Annotated[
        float, Field(ge=0, le=1, description="Largest share of crushed-black plus clipped-white pixels.")
    ] = 0.5
    min_contrast: Annotated[float, Field(ge=0, le=1, description="Luma std below this is flat.")] = 0.03


class ClipGateConfig(GateConfig):
    static_threshold: Annotated[
        float, Field(ge=0, description="Motion (diagonal fraction per frame) under which a clip is static.")
    ] = 0.0015
    keep_static: Annotated[bool, Field(description="Keep static clips (labelled) rather than drop them.")] = (
        True
    )
    max_motion: Annotated[float, Field(gt=0, description="Faster clips are mostly blur; dropped.")] = 0.08
    max_text_ratio: Annotated[
        float | None,
        Field(
            ge=0,
            le=1,
            description="Largest share of the frame covered by on-screen text ('ocr' extra; null: off).",
        ),
    ] = None
    text_frames: Annotated[int, Field(ge=1, description="Frames per clip checked for text.")] = 2


class ImageGateConfig(GateConfig):
    min_width: Annotated[int, Field(ge=1)] = 256
    min_height: Annotated[int, Field(ge=1)] = 256


def _exposure_reason(q: dict[str, float], cfg: GateConfig) -> str | None:
    if q["mean_luma"] < cfg.min_luma:
        return "too_dark"
    if q["mean_luma"] > cfg.max_luma:
        return "too_bright"
    if q["dark_fraction"] + q["bright_fraction"] > cfg.max_clipped:
        return "clipped"
    if q["contrast"] < cfg.min_contrast:
        return "flat"
    return None


class ClipGate(Stage):
    name = "clip_filter"
    consumes = "clip"
    config_class = ClipGateConfig
    config: ClipGateConfig

    def setup(self, ctx: StageContext) -> None:
        self.text = None
        if self.config.max_text_ratio is not None:
            from insvie.backends.text import TextCoverage

            self.text = TextCoverage()

    def process(self, batch: list[Task]) -> list[Outcome]:
        return [self._gate(task) for task in batch]

    def _gate(self, task: Task) -> Outcome:
        cfg = self.config
        video = None
        signals = task.meta.get("signals")
        if signals is None:  # clips not made by split (or made before it measured) are measured here
            video = clip_frames(task)
            signals = clip_signals(video)
        quality, motion = signals["quality"], signals["motion"]
        label = motion_label(motion, cfg.static_threshold)
        output = {**signals, "motion_label": label}
        reason = _exposure_reason(quality, cfg)
        if reason is None and quality["min_sharpness"] < cfg.min_sharpness:
            reason = "blurry"
        if reason is None and label == "static" and not cfg.keep_static:
            reason = "static"
        if reason is None and motion > cfg.max_motion:
            reason = "too_fast"
        if self.text is not None:
            if video is None:
                video = clip_frames(task)
            picks = np.linspace(0, len(video) - 1, cfg.text_frames).round().astype(int)
            output["text_ratio"] = round(max(self.text.ratio(video[i]) for i in picks), 6)
            if reason is None and output["text_ratio"] > (cfg.max_text_ratio or 0.0):
                reason = "text"
        return (
            Outcome.done(task.item_id, output)
            if reason is None
            else Outcome.rejected(task.item_id, reason, output)
        )


class ImageGate(Stage):
    name = "image_filter"
    consumes = "image"
    config_class = ImageGateConfig
    config: ImageGateConfig

    def process(self, batch: list[Task]) -> list[Outcome]:
        return [self._gate(task) for task in batch]

    def _gate(self, task: Task) -> Outcome:
        cfg = self.config
        image = read_image(Path(task.source or ""))
        height, width = image.shape[:2]
        quality = clip_quality(image[None], frames=1)
        output = {
            "width": width,
            "height": height,
            "quality": {k: round(v, 6) for k, v in quality.items()},
            "phash": [f"{phash(image):016x}"],
        }
        reason = "too_small" if width < cfg.min_width or height < cfg.min_height else None
        reason = reason or _exposure_reason(quality, cfg)
        if reason is None and quality["sharpness"] < cfg.min_sharpness:
            reason = "blurry"
        return (
            Outcome.done(task.item_id, output)
            if reason is None
            else Outcome.rejected(task.item_id, reason, output)
        )
