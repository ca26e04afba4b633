"""clip_prefilter: CLIP drops hopeless candidates before the paid judge sees them.

InstructPix2Pix filtered its generated pairs with CLIP: the edited image must still resemble the
source (image similarity), move in the direction the captions describe (directional similarity) and
match the target caption. The same three scores, with the same thresholds by default, cost one
batched forward per sweep here; only candidates that pass go on to the judge.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

import numpy as np
from PIL import Image
from pydantic import Field

from insvie.engine import Input, Need, Outcome, Resources, Stage, StageConfig, StageContext, Task
from insvie.stages.frames import choice, request_frame, request_source


class PrefilterConfig(StageConfig):
    enabled: Annotated[bool, Field(description="Score candidates with CLIP before the judge.")] = False
    model: Annotated[str, Field(description="CLIP hub id or local folder.")] = "openai/clip-vit-large-patch14"
    device: str = "auto"
    min_image_similarity: Annotated[float, Field(ge=-1, le=1)] = 0.75
    min_directional: Annotated[float, Field(ge=-1, le=1)] = 0.2
    min_caption_similarity: Annotated[float, Field(ge=-1, le=1)] = 0.2


def captions(meta: dict) -> tuple[str, str]:
    """Source and target captions: the LLM's when it wrote them, else built from the instruction."""
    source = meta.get("source_caption") or "a photo"
    target = meta.get("target_caption") or (
        f"{source} {meta['target_caption_suffix']}"
        if meta.get("target_caption_suffix")
        else meta["instruction"]
    )
    return source, target


class ClipPrefilter(Stage):
    name = "clip_prefilter"
    consumes = "edit"
    after = ("edit",)
    section = "prefilter"
    identity = "insvie.stages.prefilter.ClipPrefilter"
    edit_step: ClassVar[str] = "edit"
    config_class = PrefilterConfig
    config: PrefilterConfig

    def describe(self) -> dict:
        return {**super().describe(), "edit_step": self.edit_step}

    def reads(self) -> tuple[Input, ...]:
        return (Input(self.edit_step), *request_source(self.consumes))

    def resources(self) -> Resources:
        return Resources(cpus=1, memory_gb=4, actor=True)

    def needs(self) -> list[Need]:
        return [Need("prefilter.model", "model", self.config.model)]

    def setup(self, ctx: StageContext) -> None:
        from insvie.backends.clip import ClipScorer

        self.ctx = ctx
        self.scorer = ClipScorer(self.config.model, device=self.config.device).load()

    def process(self, batch: list[Task]) -> list[Outcome]:
        return [self._score(task) for task in batch]

    def _score(self, task: Task) -> Outcome:
        from insvie.backends.clip import passes_prefilter

        cfg = self.config
        edit = task.inputs[self.edit_step]
        images = [
            np.asarray(Image.open(self.ctx.resolve(edit[c["file"]])).convert("RGB"))
            for c in edit["candidates"]
        ]
        source_caption, target_caption = captions(task.meta)
        scores = self.scorer.edit_scores(
            request_frame(task, self.ctx), images, source_caption, target_caption
        )
        judged = [
            {
                "candidate": i,
                **{k: round(float(v), 6) for k, v in s.items()},
                "passes": passes_prefilter(
                    s,
                    min_image_similarity=cfg.min_image_similarity,
                    min_directional=cfg.min_directional,
                    min_caption_similarity=cfg.min_caption_similarity,
                ),
            }
            for i, s in enumerate(scores)
        ]
        output = {
            "scores": judged,
            "passing": [j["candidate"] for j in judged if j["passes"]],
            "captions": [source_caption, target_caption],
            "model": self.scorer.describe(),
        }
        if not output["passing"]:
            return Outcome.rejected(task.item_id, "clip_prefilter", output)
        # Without a judge after it, the passing candidate that moves most as the captions say is kept.
        best = max(
            (j for j in judged if j["passes"]), key=lambda j: (j["directional_similarity"], -j["candidate"])
        )
        output.update(choice(edit, best["candidate"]))
        return Outcome.done(task.item_id, output)


class ImageClipPrefilter(ClipPrefilter):
    """The same pre-filter over the image branch's candidates."""

    name = "image_clip_prefilter"
    consumes = "image_edit"
    after = ("image_edit",)
    edit_step = "image_edit"
