"""The tasks of a step, made a page at a time from the store: the item, its parent, and the earlier
outputs the stage declares it reads, and nothing else.

A step of a ten-million-row build must not hold its pending work in memory: pages of item ids come
from SQL (:mod:`insvie.store.work_queue`), each page's items, parents and declared outputs are read in
a few queries, and batches are cut lazily as the executor asks for them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from insvie.engine.inputs import Input, Inputs
from insvie.engine.stage import Stage, Task
from insvie.store import Dataset, Item
from insvie.store.work_queue import PendingQuery

PAGE = 512  # items read from the store at a time


@dataclass(frozen=True)
class _Read:
    """One declared input resolved to the step that ran: where its output goes in ``task.inputs``."""

    read: Input
    step: str
    config_hash: str

    @property
    def key(self) -> str:
        return self.read.key(self.step)


class TaskSource:
    """Makes a step's tasks from item ids, loading only the outputs its stage declares."""

    def __init__(self, dataset: Dataset, stage: Stage, hashes: dict[str, str]) -> None:
        self.dataset = dataset
        self.stage = stage
        declared = stage.reads()
        self.declared = frozenset(read.key(s) for read in declared for s in read.alternatives)
        # Each input is read from the first of its alternatives that ran before this step; an input none
        # of whose steps is in the pipeline stays unread (the task simply lacks it).
        self.reads = []
        for read in declared:
            ran = [s for s in read.alternatives if s in hashes and s != stage.name]
            if ran:
                self.reads.append(_Read(read, ran[0], hashes[ran[0]]))

    def tasks(self, ids: Sequence[str]) -> list[Task]:
        """The tasks of ``ids``, in that order, with a few queries for the whole page."""
        pairs = self.dataset.items_with_parents(ids)
        parents = [parent.id for _, parent in pairs if parent is not None]
        outputs = {read.key: self._outputs(read, parents if read.read.parent else ids) for read in self.reads}
        return [self._task(item, parent, outputs) for item, parent in pairs]

    def _outputs(self, read: _Read, ids: Sequence[str]) -> dict[str, Any]:
        by_item = self.dataset.done_outputs(read.step, read.config_hash, ids)
        fields = read.read.fields
        if fields is None:
            return by_item
        return {item: {k: out[k] for k in fields if k in out} for item, out in by_item.items()}

    def _task(self, item: Item, parent: Item | None, outputs: dict[str, dict[str, Any]]) -> Task:
        values = {}
        for read in self.reads:
            owner = (parent.id if parent else None) if read.read.parent else item.id
            if owner is not None and owner in outputs[read.key]:
                values[read.key] = outputs[read.key][owner]
        return Task(
            item_id=item.id,
            kind=item.kind,
            media=self._path(item.media),
            source=item.source,
            meta=item.meta,
            parent_id=parent.id if parent else None,
            parent_media=self._path(parent.media) if parent else None,
            parent_meta=parent.meta if parent else {},
            inputs=Inputs(self.stage.name, self.declared, values),
        )

    def _path(self, relpath: str | None) -> Path | None:
        return None if relpath is None else self.dataset.resolve(relpath)


def pending_batches(
    dataset: Dataset, query: PendingQuery, source: TaskSource, size: int
) -> Iterator[list[Task]]:
    """The pending tasks of a step in batches of ``size``, read a page at a time as they are consumed."""
    cursor = ""
    while True:
        page = dataset.pending_page(query, cursor, max(PAGE, size))
        if not page:
            return
        cursor = page[-1]
        tasks = source.tasks(page)
        for start in range(0, len(tasks), size):
            yield tasks[start : start + size]
