"""How many samples go through a model at once: the ``max_batch`` rule, one home for every batched backend.

The image editors stack candidates, the image-to-video propagator stacks windows of several clips, on the
batch axis of one denoising loop, so a GPU stays busy. Samples are grouped by shape (what they must share
to be stacked: working size, steps, frames made) and each group runs in loops of at most ``max_batch``:

- an integer caps a loop, None leaves it uncapped;
- ``"auto"`` on CUDA runs the first sample of each shape alone, measures its peak memory and fills
  :data:`FILL` of the free memory with loops of that many (the rest kept back for the allocator's
  fragmentation and the decode of the whole loop); off CUDA it takes a fixed count the caller chooses
  (what its default batch makes in one loop).

What "auto" measured is kept for the life of a :class:`Loops`, that is of one loaded model: a stage worker
keeps its model, so it measures each shape once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Sequence
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, Field

from insvie.settings import OPERATIONAL

log = logging.getLogger(__name__)

FILL = 0.8  # share of the free memory "auto" fills

_Job = TypeVar("_Job")
_Result = TypeVar("_Result")
MaxBatch = int | Literal["auto"] | None


def check_max_batch(value: MaxBatch) -> MaxBatch:
    """``value`` if it is a ``max_batch``; a ValueError naming it otherwise."""
    if value not in ("auto", None) and (not isinstance(value, int) or value < 1):
        raise ValueError(f"max_batch must be 'auto', an integer >= 1 or None, got {value!r}")
    return value


MaxBatchSetting = Annotated[
    MaxBatch,
    AfterValidator(check_max_batch),
    Field(
        description="Most samples (an editor's candidates, an image-to-video model's windows of several "
        "clips) in one denoising loop; 'auto': on CUDA as many as 80% of the free memory holds, measured "
        "once per working shape, elsewhere the backend's fixed count; null: no cap.",
        json_schema_extra=OPERATIONAL,  # how many share a loop changes no result
    ),
]
"""The declared type of every ``max_batch`` setting (the edit step's, the image-to-video sections')."""


class Loops:
    """Runs jobs grouped by shape, in chunks of at most ``max_batch``, one call of ``run`` per chunk.

    ``off_cuda``: the loop size of ``"auto"`` off CUDA (None: no cap). ``unit`` names the samples in
    messages; ``report`` hears each size ``"auto"`` measured (by default it is logged).
    """

    def __init__(
        self,
        max_batch: MaxBatch,
        device: Any,
        *,
        off_cuda: int | None = None,
        unit: str = "samples",
        report: Callable[[Hashable, int], None] | None = None,
    ) -> None:
        self.max_batch = max_batch  # checked where it is declared (MaxBatchSetting, the editors)
        self.device = device
        self.off_cuda = off_cuda
        self.unit = unit
        self.report = report or self._log
        self._fits: dict[Hashable, int] = {}  # "auto" on CUDA: samples per loop, by what sizes them

    def run(
        self,
        jobs: Sequence[_Job],
        shape: Callable[[_Job], Hashable],
        run: Callable[[list[_Job]], list[_Result]],
        *,
        sized_by: Callable[[_Job], Hashable] | None = None,
        after: Callable[[], None] | None = None,
    ) -> list[_Result]:
        """``run``'s result for every job, in job order; jobs of one ``shape`` share calls, in the order
        the shapes and jobs come.

        ``sized_by``: what one sample's memory depends on, measured once by ``"auto"`` (default: its
        shape; the editors' step count splits loops but takes no memory). ``after`` runs after every
        call, once it is measured (the editors free the pipeline's offload hooks there, which must not
        count as free memory).
        """
        size_key = sized_by or shape
        groups: dict[Hashable, list[int]] = {}
        for index, job in enumerate(jobs):
            groups.setdefault(shape(job), []).append(index)
        results: dict[int, _Result] = {}
        for members in groups.values():
            key = size_key(jobs[members[0]])
            start = 0
            while start < len(members):
                probe = self._probes(key)
                chunk = members[start : start + (1 if probe else self._loop_size(key) or len(members))]
                start += len(chunk)
                batch = [jobs[i] for i in chunk]
                made = self._measured(key, run, batch) if probe else run(batch)
                if after is not None:
                    after()
                if len(made) != len(chunk):
                    raise RuntimeError(f"a loop of {len(chunk)} {self.unit} returned {len(made)} results")
                results.update(zip(chunk, made, strict=True))
        return [results[i] for i in range(len(jobs))]

    def _probes(self, key: Hashable) -> bool:
        """Whether the next loop of ``key`` measures what one sample takes ("auto" on CUDA, once)."""
        return self.max_batch == "auto" and str(self.device).startswith("cuda") and key not in self._fits

    def _loop_size(self, key: Hashable) -> int | None:
        """The most samples of one loop of ``key`` (None: no cap)."""
        if self.max_batch != "auto":
            return self.max_batch
        return self._fits.get(key, self.off_cuda)

    def _measured(
        self, key: Hashable, run: Callable[[list[_Job]], list[_Result]], chunk: list[_Job]
    ) -> list[_Result]:
        """Run one sample alone and size the loops of ``key`` from its peak memory."""
        import torch

        torch.cuda.reset_peak_memory_stats(self.device)
        before = torch.cuda.memory_allocated(self.device)
        made = run(chunk)
        peak = torch.cuda.max_memory_allocated(self.device) - before
        free, _ = torch.cuda.mem_get_info(self.device)
        self._fits[key] = max(1, int(FILL * free / max(peak, 1)))
        self.report(key, self._fits[key])
        return made

    def _log(self, key: Hashable, count: int) -> None:
        log.info("max_batch auto: %d %s per loop of shape %s", count, self.unit, key)
