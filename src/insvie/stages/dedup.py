"""dedup: near-duplicate sources (re-uploads, the same shot cut twice) are kept once.

Runs in the driver over every pending item at once, in id order, against everything already kept, so
the decision does not depend on batching or on which executor ran the earlier stages. The decision itself
is :func:`insvie.backends.analysis.phash.earlier_duplicates`; this stage only feeds it hashes and records
its answer.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from insvie.backends.analysis.phash import earlier_duplicates
from insvie.engine import Input, Outcome, Stage, StageConfig, Task


class DedupConfig(StageConfig):
    max_bits: Annotated[
        int, Field(ge=0, le=64, description="Largest per-frame pHash distance still counted as a duplicate.")
    ] = 10
    hash_from: Annotated[str, Field(description="The earlier step whose output holds 'phash'.")] = (
        "clip_filter"
    )


def _hashes(task: Task, step: str) -> tuple[int, ...]:
    return tuple(int(h, 16) for h in task.inputs[step]["phash"])


class ClipDedup(Stage):
    """Near-duplicate removal over the perceptual hashes a filter step recorded (``hash_from``)."""

    name = "clip_dedup"
    consumes = "clip"
    after = ("clip_filter",)
    section = "dedup"
    identity = "insvie.stages.dedup.Dedup"
    scope = "all"
    config_class = DedupConfig
    config: DedupConfig

    def reads(self) -> tuple[Input, ...]:
        return (Input(self.config.hash_from, ("phash",)),)

    def process(self, batch: list[Task]) -> list[Outcome]:
        return self.process_all(batch, [])

    def process_all(self, pending: list[Task], kept: list[Task]) -> list[Outcome]:
        """Judge ``pending`` against ``kept`` with :func:`earlier_duplicates`, both walked in item-id order
        (kept first), so batching and executor cannot change a verdict."""
        step = self.config.hash_from
        kept = sorted(kept, key=lambda t: t.item_id)
        pending = sorted(pending, key=lambda t: t.item_id)
        tasks = kept + pending
        matches = earlier_duplicates(
            [_hashes(task, step) for task in tasks], already_kept=len(kept), max_bits=self.config.max_bits
        )
        return [
            Outcome.done(task.item_id)
            if match is None
            else Outcome.rejected(
                task.item_id, "duplicate", {"duplicate_of": tasks[match.of].item_id, "bits": match.bits}
            )
            for task, match in zip(pending, matches[len(kept) :], strict=True)
        ]


class ImageDedup(ClipDedup):
    """The same removal over images, with the hashes the image filter recorded."""

    name = "image_dedup"
    consumes = "image"
    after = ("image_filter",)

    @classmethod
    def from_build(cls, build: Any) -> Stage:
        return cls(DedupConfig(**{**build.dedup.model_dump(), "hash_from": "image_filter"}))
