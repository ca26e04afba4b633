"""edit: the first frame of a clip (or an image) is edited several times and the best candidate kept.

InsViE edits the first frame about six times across guidance strengths and lets a judge keep the best.
Here the ``procedural`` editor sweeps its strength instead, and a cheap image scorer stands in for the
judge until the model-backed judge takes over: it rewards a visible edit that keeps the structure of
the source. Every candidate is written and scored, the rejected ones too.
"""

from __future__ import annotations

from typing import Annotated, Literal

import cv2
import numpy as np
from PIL import Image
from pydantic import Field, field_validator, model_validator

from insvie.backends.batching import MaxBatchSetting
from insvie.backends.image_edit import GuidanceSetting, ImageEditRequest, candidate_records, default_sweep
from insvie.backends.procedural import get_operator
from insvie.engine import Input, Need, Outcome, Resources, Stage, StageConfig, StageContext, Task
from insvie.engine.work import outcome_for_error
from insvie.settings import OPERATIONAL
from insvie.stages.frames import made_by, request_frame, request_source

_SCORE_SIDE = 256


class SweepPoint(StageConfig):
    text_guidance: Annotated[float, Field(ge=0)]
    image_guidance: Annotated[float | None, Field(ge=0)] = None


class EditConfig(StageConfig):
    backend: Annotated[
        Literal["procedural", "instruct_pix2pix", "flux_kontext", "qwen_image_edit"],
        Field(description="Image editor: procedural (no weights) or a diffusers pipeline."),
    ] = "procedural"
    model: Annotated[
        str | None, Field(description="diffusers editors: hub id or local folder of the weights.")
    ] = None
    revision: str | None = None
    dtype: Annotated[str | None, Field(description="float16, bfloat16 or float32 (default: by device).")] = (
        None
    )
    device: Annotated[str, Field(description="auto, cpu or cuda[:N].")] = "auto"
    cpu_offload: bool = False
    attention_slicing: bool = False
    gpus: Annotated[float, Field(ge=0, description="GPUs per editor worker on Ray (0 on CPU machines).")] = (
        0.0
    )
    steps: Annotated[int, Field(ge=1, description="diffusers editors: denoising steps per candidate.")] = 20
    batch_size: Annotated[
        int,
        Field(
            ge=1,
            description="diffusers editors: items a worker edits together, every candidate of every item "
            "in shared denoising loops (max_batch caps the candidates of one loop).",
            json_schema_extra=OPERATIONAL,
        ),
    ] = 8
    max_batch: MaxBatchSetting = "auto"  # diffusers editors
    sampler: Annotated[
        Literal["sweep", "pipeline"],
        Field(
            description="diffusers editors: sweep (one denoising loop for every candidate of a batch, "
            "guidance per candidate) or pipeline (one diffusers call per setting; the same candidates "
            "within a grey level, slower: kept as the reference).",
            json_schema_extra=OPERATIONAL,
        ),
    ] = "sweep"
    sweep: Annotated[
        tuple[SweepPoint, ...] | None,
        Field(
            description="diffusers editors: (text, image) guidance per candidate; default six over [3, 8]."
        ),
    ] = None
    strengths: Annotated[
        tuple[float, ...],
        Field(min_length=1, description="procedural: one candidate per strength in [0, 1]."),
    ] = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    target_change: Annotated[
        float, Field(gt=0, description="Mean Lab change (0-1) at which an edit counts as fully visible.")
    ] = 0.08
    min_change: Annotated[float, Field(ge=0, description="Candidates changing less are no edit.")] = 0.02
    min_structure: Annotated[
        float, Field(ge=-1, le=1, description="Least edge-structure correlation with the source.")
    ] = 0.5

    @field_validator("strengths")
    @classmethod
    def _unit_range(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0.0 <= s <= 1.0 for s in value):
            raise ValueError(f"strengths must lie in [0, 1], got {value}")
        return value

    @model_validator(mode="after")
    def _model_for_diffusers(self) -> EditConfig:
        if self.backend != "procedural" and not self.model:
            raise ValueError(f"the {self.backend} editor needs 'model' (a hub id or a local folder)")
        return self


def _small(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    scale = _SCORE_SIDE / max(height, width)
    if scale >= 1:
        return image
    return cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)


def _edges(image: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return np.hypot(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1)).ravel()


def score_candidate(source: np.ndarray, candidate: np.ndarray, target_change: float) -> dict[str, float]:
    """How visible the edit is (mean Lab change, 0-1) and how much structure survives (edge correlation)."""
    src, cand = _small(source), _small(candidate)
    lab_src = cv2.cvtColor(src, cv2.COLOR_RGB2LAB).astype(np.float32)
    lab_cand = cv2.cvtColor(cand, cv2.COLOR_RGB2LAB).astype(np.float32)
    change = float(np.abs(lab_src - lab_cand).mean() / 255.0)
    a, b = _edges(src), _edges(cand)
    structure = 1.0 if a.std() < 1e-6 or b.std() < 1e-6 else float(np.corrcoef(a, b)[0, 1])
    score = structure * min(1.0, change / target_change)
    return {"change": round(change, 6), "structure": round(structure, 6), "score": round(score, 6)}


class Edit(Stage):
    name = "edit"
    consumes = "edit"
    after = ("instruction_dedup", "instruct")
    section = "edit"
    identity = "insvie.stages.edit.Edit"
    config_class = EditConfig
    config: EditConfig

    def __init__(self, config: EditConfig | None = None) -> None:
        super().__init__(config)
        if self.config.backend != "procedural":
            self.batch_size = self.config.batch_size

    def reads(self) -> tuple[Input, ...]:
        return request_source(self.consumes)

    def resources(self) -> Resources:
        if self.config.backend == "procedural":
            return Resources()
        # A model-backed editor keeps its weights loaded in an actor between batches.
        return Resources(cpus=1, gpus=self.config.gpus, memory_gb=8, actor=True)

    def needs(self) -> list[Need]:
        if self.config.backend == "procedural" or not self.config.model:
            return []
        return [Need("edit.model", "model", self.config.model)]

    def setup(self, ctx: StageContext) -> None:
        self.ctx = ctx
        self.editor = None
        if self.config.backend != "procedural":
            from insvie.backends.image_edit import make_image_editor

            cfg = self.config
            self.editor = make_image_editor(
                cfg.backend,
                model=cfg.model,
                revision=cfg.revision,
                dtype=cfg.dtype,
                device=cfg.device,
                cpu_offload=cfg.cpu_offload,
                attention_slicing=cfg.attention_slicing,
                max_batch=cfg.max_batch,
                sampler=cfg.sampler,
            )
            self.editor.load()

    def process(self, batch: list[Task]) -> list[Outcome]:
        """A model-backed editor edits the whole batch at once (every candidate of every item in shared
        denoising loops, ``edit_batch``); the procedural one item by item. An item whose frame cannot be
        read gets its own outcome and the others go on."""
        outcomes: list[Outcome | None] = [None] * len(batch)
        sources: dict[int, tuple[np.ndarray, int]] = {}
        for index, task in enumerate(batch):
            try:
                sources[index] = (request_frame(task, self.ctx), task.seed("edit") % (2**31))
            except Exception as exc:
                outcomes[index] = outcome_for_error(task, exc)
        if self.editor is None:
            for index, (source, seed) in sources.items():
                outcomes[index] = self._procedural(batch[index], source, seed)
        elif sources:
            settings = self._settings()
            edited = self.editor.edit_batch(
                [
                    ImageEditRequest(source, batch[index].meta["instruction"], settings, seed)
                    for index, (source, seed) in sources.items()
                ]
            )
            provenance = self.editor.describe()
            for (index, (source, seed)), images in zip(sources.items(), edited, strict=True):
                made = candidate_records(self.editor, settings, seed)
                outcomes[index] = self._choose(batch[index], source, images, made, provenance)
        return [outcome for outcome in outcomes if outcome is not None]

    def _settings(self) -> list[GuidanceSetting]:
        cfg = self.config
        if cfg.sweep:
            return [GuidanceSetting(p.text_guidance, p.image_guidance, cfg.steps) for p in cfg.sweep]
        return default_sweep(steps=cfg.steps)

    def _procedural(self, task: Task, source: np.ndarray, seed: int) -> Outcome:
        """The procedural editor's sweep: one candidate per strength of the operator the request names."""
        from insvie.backends.procedural import match_instruction

        name = task.meta.get("operator") or match_instruction(task.meta["instruction"])
        if name is None:
            return Outcome.rejected(
                task.item_id, "instruction_not_supported", {"instruction": task.meta["instruction"]}
            )
        operator = get_operator(name)
        images = [operator.apply(source, strength, seed) for strength in self.config.strengths]
        made = [{"strength": strength, "seed": seed} for strength in self.config.strengths]
        return self._choose(task, source, images, made, {"backend": "procedural", "operator": operator.name})

    def _choose(
        self, task: Task, source: np.ndarray, images: list[np.ndarray], made: list[dict], provenance: dict
    ) -> Outcome:
        """Write and score every candidate, the rejected ones too, and keep the best eligible one."""
        cfg = self.config
        candidates, files = [], {}
        for index, (image, how) in enumerate(zip(images, made, strict=True)):
            key = f"candidate_{index}"
            files[key] = self.ctx.new_file(".png")
            Image.fromarray(image).save(files[key], compress_level=1)
            candidates.append({"file": key, **how, **score_candidate(source, image, cfg.target_change)})
        eligible = [
            c for c in candidates if c["change"] >= cfg.min_change and c["structure"] >= cfg.min_structure
        ]
        output = {**provenance, "candidates": candidates, "scorer": "change-structure"}
        if not eligible:
            return Outcome.rejected(task.item_id, "no_good_candidate", output, files=files)
        best = max(eligible, key=lambda c: (c["score"], -candidates.index(c)))
        output["chosen"] = candidates.index(best)
        output["strength"] = best.get("strength")
        output["settings"] = made_by(best)
        output["edited_frame_key"] = best["file"]
        return Outcome.done(task.item_id, output, files=files)


class ImageEdit(Edit):
    """The same editor over the image branch's requests (their source is the image itself)."""

    name = "image_edit"
    consumes = "image_edit"
    after = ("image_instruction_dedup", "image_instruct")
