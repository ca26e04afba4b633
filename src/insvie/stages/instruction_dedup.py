"""instruction_dedup: the same few instructions may not dominate the dataset.

The released InsViE data hold ~85k distinct instructions over 1.02M triplets, short and repetitive.
Here every edit request's instruction is embedded (all-MiniLM-L6-v2, shipped offline) and grouped
with earlier ones it paraphrases (cosine >= threshold); a group may hold at most ``max_repeats``
requests, later ones are rejected. It runs over all pending requests at once in id order, against
those already kept, so the outcome does not depend on batching or executor. The grouping rule itself is
:func:`insvie.backends.text_embed.dedup.collapse_near_duplicates`; this stage feeds it and records.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from insvie.backends.text_embed.dedup import collapse_near_duplicates
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
    after = ("instruct",)
    section = "instruction_dedup"
    identity = "insvie.stages.instruction_dedup.InstructionDedup"
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
        """Walk every request, kept ones first, in item-id order through :func:`collapse_near_duplicates`
        and record its verdicts on the pending ones, so batching and executor cannot change a verdict."""
        kept = sorted(kept, key=lambda t: t.item_id)
        pending = sorted(pending, key=lambda t: t.item_id)
        tasks = kept + pending
        if not tasks:
            return []
        result = collapse_near_duplicates(
            [t.meta["instruction"] for t in tasks],
            threshold=self.config.threshold,
            max_repeats=self.config.max_repeats,
            embedder=self.embedder,
        )
        outcomes = []
        for index in range(len(kept), len(tasks)):
            item_id, head = tasks[index].item_id, tasks[result.group_of[index]].item_id
            if index in result.duplicate_of:
                similarity = round(result.similarity[index], 4)
                outcomes.append(
                    Outcome.rejected(
                        item_id, "repeated_instruction", {"group_of": head, "similarity": similarity}
                    )
                )
            else:
                outcomes.append(Outcome.done(item_id, {"group_of": head}))
        return outcomes


class ImageInstructionDedup(InstructionDedup):
    """The same collapse over the image branch's requests."""

    name = "image_instruction_dedup"
    consumes = "image_edit"
    after = ("image_instruct",)
