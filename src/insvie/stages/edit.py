"""edit: the first frame of a clip (or an image) is edited several times and the best candidate kept.

InsViE edits the first frame about six times across guidance strengths and lets a judge keep the best.
Here the ``procedural`` editor sweeps its strength instead, and a cheap image scorer stands in for the
judge until the model-backed judge takes over: it rewards a visible edit that keeps the structure of
the source. Every candidate is written and scored, the rejected ones too.
"""

from __future__ import annotations

from typing import Annotated

import cv2
import numpy as np
from PIL import Image
from pydantic import Field, field_validator

from insvie.backends.procedural import get_operator
from insvie.engine import Outcome, Stage, StageConfig, StageContext, Task
from insvie.stages.frames import request_frame

_SCORE_SIDE = 256


class EditConfig(StageConfig):
    backend: Annotated[str, Field(description="Image editor: 'procedural' (no weights).")] = "procedural"
    strengths: Annotated[
        tuple[float, ...], Field(min_length=1, description="The sweep: one candidate per strength in [0, 1].")
    ] = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    target_change: Annotated[
        float, Field(gt=0, description="Mean Lab change (0-1) at which an edit counts as fully visible.")
    ] = 0.08
    min_change: Annotated[float, Field(ge=0, description="Candidates changing less are no edit.")] = 0.02
    min_structure: Annotated[
        float, Field(ge=-1, le=1, description="Least edge-structure correlation with the source.")
    ] = 0.5

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if value != "procedural":
            raise ValueError(f"image editor {value!r} is not available here; use 'procedural'")
        return value

    @field_validator("strengths")
    @classmethod
    def _unit_range(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0.0 <= s <= 1.0 for s in value):
            raise ValueError(f"strengths must lie in [0, 1], got {value}")
        return value


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
    config_class = EditConfig
    config: EditConfig

    def setup(self, ctx: StageContext) -> None:
        self.ctx = ctx

    def process(self, batch: list[Task]) -> list[Outcome]:
        return [self._edit(task) for task in batch]

    def _edit(self, task: Task) -> Outcome:
        cfg = self.config
        operator = get_operator(task.meta["operator"])
        source = request_frame(task)
        seed = task.seed("edit") % (2**31)
        candidates, files = [], {}
        for index, strength in enumerate(cfg.strengths):
            image = operator.apply(source, strength, seed)
            key = f"candidate_{index}"
            files[key] = self.ctx.new_file(".png")
            Image.fromarray(image).save(files[key], compress_level=1)
            scores = score_candidate(source, image, cfg.target_change)
            candidates.append({"file": key, "strength": strength, "seed": seed, **scores})
        eligible = [
            c for c in candidates if c["change"] >= cfg.min_change and c["structure"] >= cfg.min_structure
        ]
        output = {
            "backend": "procedural",
            "operator": operator.name,
            "candidates": candidates,
            "scorer": "change-structure",
        }
        if not eligible:
            return Outcome.rejected(task.item_id, "no_good_candidate", output, files=files)
        best = max(eligible, key=lambda c: (c["score"], -c["strength"]))
        output["chosen"] = candidates.index(best)
        output["strength"] = best["strength"]
        output["edited_frame_key"] = best["file"]
        return Outcome.done(task.item_id, output, files=files)
