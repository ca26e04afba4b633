"""Running one batch of one stage inside a worker, whichever executor owns the worker.

Every executor calls :func:`run_batch`, so per-item error handling is identical in-process, in a
process pool and on Ray: a bad input becomes a rejection naming its reason, an unexpected
exception fails only the item that raised it, and no exception escapes to kill the worker.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import TypeVar

from insvie.engine.stage import Outcome, Stage, StageContext, StageStopped, Task
from insvie.errors import InsvieError, MediaError

# Stages set up in this process, keyed by their description and dataset: setup runs once per worker.
_READY: dict[tuple[str, str, str], Stage] = {}


def _key(stage: Stage, ctx: StageContext) -> tuple[str, str, str]:

    return stage.name, stage.fingerprint(), str(ctx.root)


def ready_stage(stage: Stage, ctx: StageContext) -> Stage:
    """The set-up instance of ``stage`` for this process (setting it up on first use)."""
    key = _key(stage, ctx)
    if key not in _READY:
        stage.setup(ctx)
        _READY[key] = stage
    return _READY[key]


def outcome_for_error(task: Task, exc: BaseException) -> Outcome:
    """Bad input is a deterministic rejection (retrying cannot help); anything else may be transient."""
    if isinstance(exc, MediaError):
        return Outcome.rejected(task.item_id, exc.kind, {"error": exc.reason})
    if isinstance(exc, InsvieError):
        return Outcome.failed(task.item_id, f"{type(exc).__name__}: {exc}")
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" (at {last[0].filename}:{last[0].lineno})" if last else ""
    return Outcome.failed(task.item_id, f"{type(exc).__name__}: {exc}{where}")


_Prepared = TypeVar("_Prepared")
_Made = TypeVar("_Made")


def around_batch_call(
    batch: list[Task],
    prepare: Callable[[Task], _Prepared],
    together: Callable[[list[tuple[Task, _Prepared]]], list[_Made]],
    finish: Callable[[Task, _Prepared, _Made], Outcome],
) -> list[Outcome]:
    """Outcomes of ``batch``, in its order, for a stage whose model takes the whole batch in one call:
    ``prepare`` each task, call ``together`` once on every prepared one, ``finish`` each with its result.

    A task whose ``prepare`` or ``finish`` raises gets :func:`outcome_for_error` and the others go on;
    ``together`` raising is the whole batch's failure (:func:`run_batch` then retries item by item).
    """
    outcomes: dict[int, Outcome] = {}
    ready: dict[int, _Prepared] = {}
    for index, task in enumerate(batch):
        try:
            ready[index] = prepare(task)
        except Exception as exc:
            outcomes[index] = outcome_for_error(task, exc)
    made = together([(batch[index], prepared) for index, prepared in ready.items()])
    for (index, prepared), result in zip(ready.items(), made, strict=True):
        try:
            outcomes[index] = finish(batch[index], prepared, result)
        except Exception as exc:
            outcomes[index] = outcome_for_error(batch[index], exc)
    return [outcomes[index] for index in range(len(batch))]


def run_batch(stage: Stage, ctx: StageContext, batch: list[Task]) -> list[Outcome]:
    """Process ``batch``; if the batch raises, process its items one by one to isolate the culprit."""
    try:
        worker = ready_stage(stage, ctx)
    except Exception as exc:
        return [Outcome.failed(task.item_id, f"setup of {stage.name} failed: {exc!r}") for task in batch]
    try:
        outcomes = worker.process(batch)
    except StageStopped:
        raise
    except Exception as exc:
        if len(batch) == 1:
            return [outcome_for_error(batch[0], exc)]
        outcomes = []
        for task in batch:
            try:
                outcomes.extend(worker.process([task]))
            except StageStopped:
                raise
            except Exception as item_exc:
                outcomes.append(outcome_for_error(task, item_exc))
    by_id = {outcome.item_id: outcome for outcome in outcomes}
    return [
        by_id.get(task.item_id)
        or Outcome.failed(task.item_id, f"stage {stage.name} returned no outcome for this item")
        for task in batch
    ]
