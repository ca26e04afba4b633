"""instruction_dedup: the same few instructions may not dominate the dataset.

The released InsViE data hold ~85k distinct instructions over 1.02M triplets, short and repetitive.
Here every edit request's instruction is embedded (all-MiniLM-L6-v2, shipped offline) and grouped
with earlier ones it paraphrases (cosine >= threshold); a group may hold at most ``max_repeats``
requests, later ones are rejected. It runs over all pending requests at once in id order, against
those already kept, so the outcome does not depend on batching or executor.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import Field

from insvie.engine import Need, Outcome, Stage, StageConfig, StageContext, Task


class InstructionDedupConfig(StageConfig):
    enabled: Annotated[bool, Field(description="Limit near-duplicate instructions across the dataset.")] = (
        False
    )
    threshold: Annotated[
        float, Field(gt=0, le=1, description="Cosine similarity at which two paraphrase.")
    ] = 0.9
    max_repeats: Annotated[int, Field(ge=1, description="Requests allowed per group of paraphrases.")] = 3
    model: Annotated[
        str | None, Field(description="Sentence embedder (default: the bundled all-MiniLM-L6-v2).")
    ] = None


class InstructionDedup(Stage):
    name = "instruction_dedup"
    consumes = "edit"
    scope = "all"
    config_class = InstructionDedupConfig
    config: InstructionDedupConfig

    def needs(self) -> list[Need]:
        return [Need("instruction_dedup.model", "model", self.config.model)] if self.config.model else []

    def setup(self, ctx: StageContext) -> None:
        from insvie.backends.text_embed import SentenceEmbedder

        self.embedder = SentenceEmbedder(self.config.model)

    def process(self, batch: list[Task]) -> list[Outcome]:
        return self.process_all(batch, [])

    def process_all(self, pending: list[Task], kept: list[Task]) -> list[Outcome]:
        kept = sorted(kept, key=lambda t: t.item_id)
        pending = sorted(pending, key=lambda t: t.item_id)
        tasks = kept + pending
        if not tasks:
            return []
        vectors = self.embedder.embed([t.meta["instruction"] for t in tasks])
        heads: list[int] = []  # index of each group's first member
        members: list[int] = []
        outcomes = []
        for index, task in enumerate(tasks):
            sims = vectors[heads] @ vectors[index] if heads else np.zeros(0)
            group = int(np.argmax(sims)) if len(sims) and sims.max() >= self.config.threshold else None
            if group is None:
                heads.append(index)
                members.append(1)
                verdict = Outcome.done(task.item_id, {"group_of": task.item_id})
            elif members[group] < self.config.max_repeats:
                members[group] += 1
                verdict = Outcome.done(task.item_id, {"group_of": tasks[heads[group]].item_id})
            else:
                verdict = Outcome.rejected(
                    task.item_id,
                    "repeated_instruction",
                    {"group_of": tasks[heads[group]].item_id, "similarity": round(float(sims[group]), 4)},
                )
            if index >= len(kept):
                outcomes.append(verdict)
        return outcomes
