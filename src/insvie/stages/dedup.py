"""dedup: near-duplicate sources (re-uploads, the same shot cut twice) are kept once.

Runs in the driver over every pending item at once, in id order, against everything already kept, so
the decision does not depend on batching or on which executor ran the earlier stages.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from insvie.backends.analysis.phash import clip_distance
from insvie.engine import Outcome, Stage, StageConfig, Task


class DedupConfig(StageConfig):
    max_bits: Annotated[
        int, Field(ge=0, le=64, description="Largest per-frame pHash distance still counted as a duplicate.")
    ] = 10
    hash_from: Annotated[str, Field(description="The earlier step whose output holds 'phash'.")] = (
        "clip_filter"
    )


def _hashes(task: Task, step: str) -> tuple[int, ...]:
    return tuple(int(h, 16) for h in task.inputs[step]["phash"])


class Dedup(Stage):
    name = "dedup"
    consumes = "clip"
    scope = "all"
    config_class = DedupConfig
    config: DedupConfig

    def process(self, batch: list[Task]) -> list[Outcome]:
        return self.process_all(batch, [])

    def process_all(self, pending: list[Task], kept: list[Task]) -> list[Outcome]:
        step = self.config.hash_from
        seen = [(task.item_id, _hashes(task, step)) for task in sorted(kept, key=lambda t: t.item_id)]
        outcomes = []
        for task in sorted(pending, key=lambda t: t.item_id):
            hashes = _hashes(task, step)
            match = next(
                (
                    (other, dist)
                    for other, other_hashes in seen
                    if len(other_hashes) == len(hashes)
                    and (dist := clip_distance(hashes, other_hashes)) <= self.config.max_bits
                ),
                None,
            )
            if match is None:
                seen.append((task.item_id, hashes))
                outcomes.append(Outcome.done(task.item_id))
            else:
                outcomes.append(
                    Outcome.rejected(task.item_id, "duplicate", {"duplicate_of": match[0], "bits": match[1]})
                )
        return outcomes
