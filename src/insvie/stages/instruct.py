"""instruct: propose edit instructions for a kept clip or image.

The offline source draws global edits (style, colour grade, season, time of day) from the procedural
editor's taxonomy, with phrasings a person would write, so a build needs no service. Each proposal
becomes an edit request item; the draw depends only on the item id and the configured seed, so
every executor proposes the same edits. The LLM source of the next issue plugs in here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
from pydantic import Field, field_validator

from insvie.backends.procedural import CATEGORIES, get_operator, list_operators
from insvie.engine import Child, Outcome, Stage, StageConfig, Task


class InstructConfig(StageConfig):
    source: Annotated[str, Field(description="Where instructions come from: 'taxonomy' (offline).")] = (
        "taxonomy"
    )
    per_item: Annotated[int, Field(ge=1, le=16, description="Edit requests proposed per clip or image.")] = 1
    categories: Annotated[
        dict[str, float],
        Field(
            default_factory=lambda: dict.fromkeys(CATEGORIES, 1.0),
            description="Mix of edit categories (weights, normalised).",
        ),
    ]
    operators: Annotated[
        list[str] | None, Field(description="Restrict to these procedural operators (default: all).")
    ] = None
    seed: int = 0

    @field_validator("source")
    @classmethod
    def _known_source(cls, value: str) -> str:
        if value != "taxonomy":
            raise ValueError(f"instruction source {value!r} is not available; use 'taxonomy'")
        return value

    @field_validator("categories")
    @classmethod
    def _known_categories(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(CATEGORIES))
        if unknown:
            raise ValueError(f"unknown categories {unknown}; known: {list(CATEGORIES)}")
        if not any(weight > 0 for weight in value.values()) or any(weight < 0 for weight in value.values()):
            raise ValueError("category weights must be non-negative with at least one positive")
        return value

    @field_validator("operators")
    @classmethod
    def _known_operators(cls, value: list[str] | None) -> list[str] | None:
        for name in value or []:
            try:
                get_operator(name)
            except KeyError as exc:
                raise ValueError(str(exc)) from None
        return value


class Instruct(Stage):
    name = "instruct"
    consumes = "clip"
    config_class = InstructConfig
    config: InstructConfig

    def __init__(
        self,
        config: InstructConfig | None = None,
        *,
        name: str | None = None,
        consumes: str | None = None,
        makes: str = "edit",
    ) -> None:
        super().__init__(config, name=name, consumes=consumes)
        self.makes = makes

    def describe(self) -> dict:
        return {**super().describe(), "makes": self.makes}

    def process(self, batch: list[Task]) -> list[Outcome]:
        return [self._propose(task) for task in batch]

    def _pool(self) -> list:
        allowed = set(self.config.operators or list_operators())
        weights = self.config.categories
        operators = [get_operator(name) for name in list_operators() if name in allowed]
        return [op for op in operators if weights.get(op.category, 0) > 0]

    def _propose(self, task: Task) -> Outcome:
        pool = self._pool()
        if not pool:
            return Outcome.rejected(task.item_id, "no_operator")
        rng = np.random.default_rng(task.seed(f"instruct:{self.config.seed}"))
        weights = np.array([self.config.categories[op.category] for op in pool], dtype=float)
        count = min(self.config.per_item, len(pool))
        # Weight each operator by its category's share divided by how many operators that category has.
        per_category = {op.category: sum(o.category == op.category for o in pool) for op in pool}
        weights = weights / np.array([per_category[op.category] for op in pool])
        chosen = rng.choice(len(pool), size=count, replace=False, p=weights / weights.sum())
        children, proposals = [], []
        for index, pick in enumerate(sorted(int(c) for c in chosen)):
            op = pool[pick]
            proposal = {
                "instruction": op.instruction(rng),
                "category": op.category,
                "operator": op.name,
                "target_caption_suffix": op.caption,
                "instruction_source": "taxonomy",
            }
            proposals.append(proposal)
            meta = {
                "source_file": task.meta.get("source_file", task.source),
                "source_name": task.meta.get("source_name", Path(task.source or task.item_id).stem),
                "clip_index": task.meta.get("clip_index", 0),
                **proposal,
                "edit_index": index,
            }
            children.append(Child(f"{task.item_id}.e{index}", self.makes, meta))
        return Outcome.done(task.item_id, {"proposals": proposals}, children=children)
