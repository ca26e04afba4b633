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

from insvie.backends.procedural import get_operator
from insvie.engine import Input, Need, Outcome, Resources, Stage, StageConfig, StageContext, Task
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
            )
            self.editor.load()

    def process(self, batch: list[Task]) -> list[Outcome]:
        return [self._edit(task) for task in batch]

    def _candidates(
        self, task: Task, source: np.ndarray, seed: int
    ) -> tuple[list[np.ndarray], list[dict], dict]:
        """The sweep's images, what made each, and the editor's provenance."""
        cfg = self.config
        if self.editor is None:
            from insvie.backends.procedural import match_instruction

            name = task.meta.get("operator") or match_instruction(task.meta["instruction"])
            if name is None:
                raise _Unsupported(task.meta["instruction"])
            operator = get_operator(name)
            images = [operator.apply(source, strength, seed) for strength in cfg.strengths]
            made = [{"strength": strength, "seed": seed} for strength in cfg.strengths]
            return images, made, {"backend": "procedural", "operator": operator.name}
        from insvie.backends.image_edit import GuidanceSetting, default_sweep

        settings = (
            [GuidanceSetting(p.text_guidance, p.image_guidance, cfg.steps) for p in cfg.sweep]
            if cfg.sweep
            else default_sweep(steps=cfg.steps)
        )
        from insvie.backends.image_edit.settings import candidate_seeds

        images = self.editor.edit(source, task.meta["instruction"], settings, seed=seed)
        made = [
            {
                "text_guidance": s.text_guidance,
                "image_guidance": s.image_guidance,
                "steps": s.steps,
                "seed": noise,
            }
            for s, noise in zip(settings, candidate_seeds(settings, seed), strict=True)
        ]
        return images, made, self.editor.describe()

    def _edit(self, task: Task) -> Outcome:
        cfg = self.config
        source = request_frame(task, self.ctx)
        seed = task.seed("edit") % (2**31)
        try:
            images, made, provenance = self._candidates(task, source, seed)
        except _Unsupported as exc:
            return Outcome.rejected(task.item_id, "instruction_not_supported", {"instruction": str(exc)})
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


class _Unsupported(Exception):
    """The procedural editor cannot carry out a free-text instruction."""
