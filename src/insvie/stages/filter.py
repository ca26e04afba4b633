"""The quality gates of curation: clips and images that would teach the editor bad habits are dropped.

Both gates share the exposure and sharpness checks; clips add motion (labelled static or dynamic, as
in the InsViE data, with the too-static and too-fast dropped as configured) and on-screen text, images
a least size. Each gate also records the perceptual hash the dedup step compares.

The steps are thin adapters: they measure with :mod:`insvie.backends.analysis.curation` (a clip's
signals by ``split`` while it has the frames, or here for clips that came without them), hand the
signals and their config (the limits) to :mod:`insvie.backends.analysis.gates`, which decides, and
record its verdict. The limits' defaults live here, in the configs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field

from insvie.backends.analysis.curation import clip_signals, image_signals, text_ratio
from insvie.backends.analysis.gates import clip_verdict, image_verdict
from insvie.backends.analysis.verdict import Verdict
from insvie.engine import Outcome, Stage, StageConfig, StageContext, Task
from insvie.media import read_image
from insvie.stages.frames import clip_frames


class FilterConfig(StageConfig):
    min_sharpness: Annotated[
        float, Field(ge=0, description="Variance of the Laplacian at 256 px; blurrier is rejected.")
    ] = 30.0
    min_luma: Annotated[float, Field(ge=0, le=1, description="Mean luma below this is too dark.")] = 0.08
    max_luma: Annotated[float, Field(ge=0, le=1, description="Mean luma above this is too bright.")] = 0.92
    max_clipped: Annotated[
        float, Field(ge=0, le=1, description="Largest share of crushed-black plus clipped-white pixels.")
    ] = 0.5
    min_contrast: Annotated[float, Field(ge=0, le=1, description="Luma std below this is flat.")] = 0.03


class ClipFilterConfig(FilterConfig):
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


class ImageFilterConfig(FilterConfig):
    min_width: Annotated[int, Field(ge=1)] = 256
    min_height: Annotated[int, Field(ge=1)] = 256


def _recorded(task: Task, verdict: Verdict) -> Outcome:
    """The gate's verdict as the item's outcome: kept, or rejected with its reason; the output either way."""
    if verdict.reason is None:
        return Outcome.done(task.item_id, verdict.output)
    return Outcome.rejected(task.item_id, verdict.reason, verdict.output)


class ClipFilter(Stage):
    name = "clip_filter"
    consumes = "clip"
    after = ("split",)
    section = "clip_filter"
    identity = "insvie.stages.quality_gate.ClipGate"
    config_class = ClipFilterConfig
    config: ClipFilterConfig

    def setup(self, ctx: StageContext) -> None:
        self.text = None
        if self.config.max_text_ratio is not None:
            from insvie.backends.text import TextCoverage

            self.text = TextCoverage()

    def process(self, batch: list[Task]) -> list[Outcome]:
        return [self._gate(task) for task in batch]

    def _gate(self, task: Task) -> Outcome:
        video = None
        signals = task.meta.get("signals")
        if signals is None:  # clips not made by split (or made before it measured) are measured here
            video = clip_frames(task)
            signals = clip_signals(video)
        text = None
        if self.text is not None:
            video = clip_frames(task) if video is None else video
            text = text_ratio(video, self.text, self.config.text_frames)
        return _recorded(task, clip_verdict(signals, self.config, text))


class ImageFilter(Stage):
    name = "image_filter"
    consumes = "image"
    section = "image_filter"
    identity = "insvie.stages.quality_gate.ImageGate"
    config_class = ImageFilterConfig
    config: ImageFilterConfig

    def process(self, batch: list[Task]) -> list[Outcome]:
        return [self._gate(task) for task in batch]

    def _gate(self, task: Task) -> Outcome:
        image = read_image(Path(task.source or ""))
        return _recorded(task, image_verdict(image_signals(image), self.config))
