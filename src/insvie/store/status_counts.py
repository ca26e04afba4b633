"""What ``insvie status`` shows, counted by SQLite: the funnel and failures of each step of the last build,
the inputs that gave nothing, and the accepted triplets by category.

Every figure is a GROUP BY or a query that returns only what is shown, read in one snapshot of the
database, so status costs seconds at ten million items and is exact while a build writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from insvie.store import summaries
from insvie.store.accepted import count_by_category
from insvie.store.input_problems import input_problems
from insvie.store.reader import reading
from insvie.store.records import FailureGroup, Funnel, InputProblem

if TYPE_CHECKING:
    from insvie.store.dataset import Dataset

EXAMPLES = 3  # item ids shown per group of failures, as ``Dataset.failures`` gives by default


@dataclass(frozen=True)
class StatusCounts:
    """A build's figures: per step (in build order) its funnel and failures grouped by error, the inputs
    that gave nothing, and the triplets ready for export by category (in the order of their first id)."""

    funnels: list[Funnel]
    failures: dict[str, list[FailureGroup]]
    problems: list[InputProblem]
    categories: dict[str, int]

    @property
    def triplets(self) -> int:
        return sum(self.categories.values())


def status_counts(dataset: Dataset, steps: Sequence[tuple[str, str]], final_stage: str) -> StatusCounts:
    """The figures of a build of ``steps`` (name and config hash of each) whose last is ``final_stage``.

    A triplet the export would refuse (it lacks a part) is a StoreError here too, naming it.
    """
    with reading(dataset, snapshot=True) as db:
        funnels = [summaries.funnel(db, name, digest) for name, digest in steps]
        failures = {name: summaries.failures(db, name, digest, EXAMPLES) for name, digest in steps}
        problems = input_problems(db)
        categories = count_by_category(db, final_stage)
    return StatusCounts(funnels, failures, problems, categories)
