"""Recording what batches made: their files adopted, children added and results written, in bulk.

One transaction (and its fsync) per finished batch made the driver's cost per item grow with the
number of batches; cheap steps finish hundreds of batches a second. Batches that arrive within
``GROUP_SECONDS`` of the last commit are grouped into one transaction of bulk statements; a batch that
took longer to arrive is committed at once. So ``kill -9`` loses the batches in flight plus at most
``GROUP_SECONDS`` of finished work, and a slow step commits every batch as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from insvie.engine.stage import Child, Outcome
from insvie.store import Dataset, NewItem, NewResult

GROUP_SECONDS = 0.05  # the most finished work a commit may wait for
GROUP_ITEMS = 1024  # ... and the most items


class Recorder:
    """Collects a step's finished batches and commits them in groups (see the module docstring)."""

    def __init__(
        self, dataset: Dataset, stage: str, config_hash: str, clock: Callable[[], float] = time.monotonic
    ):
        self.dataset = dataset
        self.stage = stage
        self.config_hash = config_hash
        self._clock = clock
        self._held: list[Outcome] = []
        self._last_commit = clock()
        self.failed = 0  # failed outcomes recorded: a failed item may still be pending (retried)

    def add(self, outcomes: list[Outcome]) -> None:
        """Hold a finished batch; commit the group if the batch was slow to come or the group is full."""
        self._held.extend(outcomes)
        self.failed += sum(outcome.status == "failed" for outcome in outcomes)
        if self._clock() - self._last_commit >= GROUP_SECONDS or len(self._held) >= GROUP_ITEMS:
            self.flush()

    def flush(self) -> None:
        """Commit everything held, in one transaction."""
        if self._held:
            held, self._held = self._held, []
            _record(self.dataset, self.stage, self.config_hash, held)
        self._last_commit = self._clock()


def _record(ds: Dataset, stage: str, config_hash: str, outcomes: list[Outcome]) -> None:
    """Adopt the group's files, then add its children and record its results, in one transaction."""
    kept = [outcome for outcome in outcomes if outcome.status == "done"]
    files = [path for outcome in outcomes for path in outcome.files.values()]
    files += [path for outcome in kept for child in outcome.children for path in _child_files(child)]
    children: list[NewItem] = []
    results: list[NewResult] = []
    with ds.transaction():
        stored = dict(zip(files, ds.adopt_many(files), strict=True))
        for outcome in outcomes:
            output = outcome.output
            if outcome.files:
                output = {**output, **{key: stored[path] for key, path in outcome.files.items()}}
            results.append(
                NewResult(outcome.item_id, outcome.status, output or None, outcome.reason, outcome.error)
            )
        for outcome in kept:
            for child in outcome.children:
                meta = {**child.meta, **{key: stored[path] for key, path in child.files.items()}}
                media = None if child.media is None else stored[child.media]
                children.append(NewItem(child.id, child.kind, child.source, media, outcome.item_id, meta))
        ds.add_items(children)
        ds.record_results(stage, config_hash, results)


def _child_files(child: Child) -> list[Path]:
    return [*child.files.values(), *([] if child.media is None else [child.media])]
