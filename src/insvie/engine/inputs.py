"""What a stage reads of earlier steps' outputs: declared, loaded by the runner, checked on access.

A build holds millions of outputs; loading only what a step declares keeps the driver's memory to what
is read, and refusing undeclared reads keeps the declarations true (``insvie stages`` shows them).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from insvie.errors import InsvieError


@dataclass(frozen=True)
class Input:
    """An earlier step's output that a stage reads, declared so the runner loads only what is read.

    ``step`` names the step, or alternatives of which the first one present in the pipeline is read
    (the judge when there is one, else the edit step's own choice). ``fields`` are the output keys read
    (``None``: the whole output, for outputs whose keys are named by their own values); ``parent``
    reads the output recorded for the item's parent (an edit request reads its clip's stored file).
    """

    step: str | tuple[str, ...]
    fields: tuple[str, ...] | None = None
    parent: bool = False

    @property
    def alternatives(self) -> tuple[str, ...]:
        return (self.step,) if isinstance(self.step, str) else self.step

    def key(self, step: str) -> str:
        """The key under which a task holds this input, read from ``step``."""
        return f"parent.{step}" if self.parent else step

    def describe(self) -> str:
        steps = " or ".join(self.alternatives)
        where = f"parent's {steps}" if self.parent else steps
        return where + (f" ({', '.join(self.fields)})" if self.fields is not None else "")


class UndeclaredInput(InsvieError):
    """A stage read an earlier step's output it did not declare in :meth:`Stage.reads`."""


class Inputs(Mapping[str, dict[str, Any]]):
    """The earlier outputs a task carries: only declared ones, so a stage that reads anything else
    fails loudly instead of finding nothing (the runner does not load what is not declared)."""

    def __init__(self, stage: str, declared: frozenset[str], values: dict[str, dict[str, Any]]) -> None:
        self._stage = stage
        self._declared = declared
        self._values = values

    def __getitem__(self, key: str) -> dict[str, Any]:
        if key not in self._declared:
            raise UndeclaredInput(f"step {self._stage} reads {key!r}, which its reads() does not declare")
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)
