"""The order training sees its data in: global batches split across processes, epochs, shape buckets.

Each epoch is a permutation of the dataset seeded by (seed, epoch). Walking it, items are grouped by
their batch key (one key for all when every item has the same shape; otherwise the dataset's
``bucket_key``: items of one batch must stack) and a global batch of ``batch_size x processes`` items
is cut whenever a key has gathered that many; items left over at the end of an epoch are skipped for
that epoch (a later epoch's permutation places them differently). Each process takes its slice of each
global batch. The position is the micro-batch count, so a resumed run continues with exactly the
batches an uninterrupted one would have seen.

The sampler yields ``(epoch, index)``; :class:`EpochItems` hands the epoch to datasets that draw their
crops and augmentations per (seed, epoch, index), inside DataLoader workers too, so each epoch draws
anew.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import Dataset, Sampler


def batch_keys(dataset: Any, global_batch: int) -> list[Hashable] | None:
    """Each item's batch key, or ``None`` when all items share a shape (or batches hold one item).

    Only asks the dataset (which may probe every file) when its items can differ in shape."""
    if global_batch == 1 or not hasattr(dataset, "bucket_key"):
        return None
    if getattr(dataset, "uniform_shape", False):
        return None
    return [dataset.bucket_key(index) for index in range(len(dataset))]


class RankSampler(Sampler[tuple[int, int]]):
    """Endless ``(epoch, index)`` of this process's share of each global batch, from micro-batch ``start``."""

    def __init__(
        self,
        size: int,
        *,
        batch_size: int,
        rank: int,
        world: int,
        seed: int,
        start: int = 0,
        keys: Sequence[Hashable] | None = None,
    ):
        if size < 1:
            raise ValueError("the dataset is empty")
        if keys is not None and len(keys) != size:
            raise ValueError(f"{len(keys)} batch keys for {size} items")
        self.size, self.batch_size, self.rank, self.world = size, batch_size, rank, world
        self.seed, self.start = seed, start
        self.keys = list(keys) if keys is not None else None
        global_batch = batch_size * world
        largest = max(Counter(self.keys).values()) if self.keys is not None else size
        if largest < global_batch:
            raise ValueError(
                f"no batch of {global_batch} items (batch_size {batch_size} x {world} processes) can be "
                f"formed: the largest group of same-shaped items has {largest}"
            )

    def _epoch_batches(self, epoch: int) -> list[list[int]]:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        order = torch.randperm(self.size, generator=generator).tolist()
        global_batch = self.batch_size * self.world
        if self.keys is None:
            whole = len(order) - len(order) % global_batch
            return [order[i : i + global_batch] for i in range(0, whole, global_batch)]
        pending: dict[Hashable, list[int]] = {}
        batches = []
        for index in order:
            group = pending.setdefault(self.keys[index], [])
            group.append(index)
            if len(group) == global_batch:
                batches.append(list(group))
                group.clear()
        return batches

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch, skip = 0, self.start
        batches = self._epoch_batches(epoch)
        while skip >= len(batches):
            skip -= len(batches)
            epoch += 1
            batches = self._epoch_batches(epoch)
        while True:
            for batch in batches[skip:]:
                mine = batch[self.rank * self.batch_size : (self.rank + 1) * self.batch_size]
                for index in mine:
                    yield epoch, index
            epoch, skip = epoch + 1, 0
            batches = self._epoch_batches(epoch)

    def __len__(self) -> int:  # pragma: no cover - endless; DataLoader only needs it for len()
        return 2**62


class EpochItems(Dataset):
    """``dataset`` indexed by ``(epoch, index)``: sets the epoch (where the dataset has one) first."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int]) -> Any:
        epoch, index = key
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)
        return self.dataset[index]
