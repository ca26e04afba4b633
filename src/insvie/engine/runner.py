"""The runner: decides what is pending, feeds executors, and records every outcome durably.

Results are keyed by (stage, item, config hash). A step's inputs are the items of its kind that the
step it comes ``after`` kept under that step's current config, so changing one stage's settings
re-runs that stage and everything downstream of the items it changes, and nothing else. Each
finished batch is recorded in one transaction after its files are in place: ``kill -9`` loses at
most the batches in flight, and a finished build re-run finds nothing pending.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from insvie.engine.executors import Executor
from insvie.engine.inputs import Inputs
from insvie.engine.stage import Outcome, Stage, StageContext, StageStopped, Task
from insvie.engine.work import ready_stage
from insvie.store import Dataset, Funnel, Item


@dataclass(frozen=True)
class Step:
    """A stage in a pipeline and the step whose kept items feed it (``None``: every item of its kind)."""

    stage: Stage
    after: str | None = None

    @property
    def name(self) -> str:
        return self.stage.name


@dataclass(frozen=True)
class _StepInputs:
    """What a step's tasks may read: the declared keys, and each loaded output by key, then item id
    (with whether it is read from the item's parent)."""

    step: str
    declared: frozenset[str]
    by_key: dict[str, tuple[bool, dict[str, dict[str, Any]]]]


@dataclass
class StepReport:
    """What one run of a step did: how many items were pending, and the step's funnel afterwards."""

    name: str
    config_hash: str
    pending: int
    funnel: Funnel
    stopped: str | None = None


class ProgressSink:
    """Where the runner reports progress; the CLI plugs a rich progress bar in, tests a silent one."""

    def start(self, step: str, total: int) -> None: ...

    def advance(self, step: str, outcomes: list[Outcome]) -> None: ...

    def finish(self, step: str) -> None: ...


class Runner:
    """Runs steps in order over one dataset with one executor."""

    def __init__(
        self,
        dataset: Dataset,
        executor: Executor,
        *,
        max_attempts: int = 3,
        progress: ProgressSink | None = None,
    ) -> None:
        self.dataset = dataset
        self.executor = executor
        self.max_attempts = max_attempts
        self.progress = progress or ProgressSink()
        self.ctx = StageContext(root=dataset.root, tmp_dir=dataset.resolve("tmp"))
        self._hashes: dict[str, str] = {}

    def hash_of(self, step: Step) -> str:
        """The step's config hash, registered in the dataset so provenance can resolve it."""
        if step.name not in self._hashes:
            self._hashes[step.name] = self.dataset.register_config(step.stage.describe())
        return self._hashes[step.name]

    def run(self, steps: Iterable[Step]) -> list[StepReport]:
        steps = list(steps)
        names = [step.name for step in steps]
        if len(set(names)) != len(names):
            raise ValueError(f"step names must be unique, got {names}")
        reports = []
        for step in steps:
            if step.after is not None and step.after not in self._hashes:
                raise ValueError(f"step {step.name} runs after {step.after!r}, which is not an earlier step")
            reports.append(self.run_step(step))
        return reports

    def run_step(self, step: Step) -> StepReport:
        stage = step.stage
        digest = self.hash_of(step)
        candidates = self._candidates(step)
        pending_ids = self.dataset.pending(stage.name, digest, candidates, max_attempts=self.max_attempts)
        self.progress.start(stage.name, len(pending_ids))
        stopped = None
        if pending_ids:
            inputs = self._declared_outputs(step)
            tasks = [self._task(item_id, inputs) for item_id in pending_ids]
            if stage.scope == "all":
                pending = set(pending_ids)
                kept = [
                    self._task(result.item_id, inputs)
                    for result in self.dataset.results(stage.name, digest, status="done")
                    if result.item_id not in pending
                ]
                finished: Iterable[tuple[list[Task], list[Outcome]]] = [
                    (
                        tasks,
                        _checked(stage, tasks, lambda: ready_stage(stage, self.ctx).process_all(tasks, kept)),
                    )
                ]
            else:
                size = max(1, stage.batch_size)
                batches = [tasks[i : i + size] for i in range(0, len(tasks), size)]
                finished = self.executor.run(stage, self.ctx, batches)
            try:
                for _batch, outcomes in finished:
                    self._record(stage.name, digest, outcomes)
                    self.progress.advance(stage.name, outcomes)
            except StageStopped as exc:
                stopped = str(exc)
        self.progress.finish(stage.name)
        funnel = self.dataset.funnel(stage.name, digest)
        return StepReport(stage.name, digest, len(pending_ids), funnel, stopped)

    # -- inputs --------------------------------------------------------------------------------

    def _candidates(self, step: Step) -> list[str]:
        """Items of the step's kind that ``after`` kept, or that ``after`` made from an item it kept."""
        items = list(self.dataset.iter_items(step.stage.consumes))
        if step.after is None:
            return [item.id for item in items]
        kept = {r.item_id for r in self.dataset.results(step.after, self._hashes[step.after], status="done")}
        return [item.id for item in items if item.id in kept or item.parent in kept]

    def _declared_outputs(self, step: Step) -> _StepInputs:
        """The outputs the stage declares it reads, each from the first of its alternatives that ran
        earlier (under its current config), by step then item id."""
        declared = frozenset(read.key(s) for read in step.stage.reads() for s in read.alternatives)
        outputs = _StepInputs(step.name, declared, {})
        for read in step.stage.reads():
            name = next((s for s in read.alternatives if s in self._hashes and s != step.name), None)
            if name is None:
                continue
            fields = read.fields
            by_item = {
                r.item_id: r.output if fields is None else {k: r.output[k] for k in fields if k in r.output}
                for r in self.dataset.results(name, self._hashes[name], status="done")
            }
            outputs.by_key[read.key(name)] = (read.parent, by_item)
        return outputs

    def _task(self, item_id: str, outputs: _StepInputs) -> Task:
        item = self.dataset.get_item(item_id)
        assert item is not None, item_id
        parent: Item | None = self.dataset.get_item(item.parent) if item.parent else None
        values = {}
        for key, (of_parent, by_item) in outputs.by_key.items():
            owner = (parent.id if parent else None) if of_parent else item_id
            if owner is not None and owner in by_item:
                values[key] = by_item[owner]
        inputs = Inputs(outputs.step, outputs.declared, values)
        return Task(
            item_id=item.id,
            kind=item.kind,
            media=self._path(item.media),
            source=item.source,
            meta=item.meta,
            parent_id=parent.id if parent else None,
            parent_media=self._path(parent.media) if parent else None,
            parent_meta=parent.meta if parent else {},
            inputs=inputs,
        )

    def _path(self, relpath: str | None) -> Path | None:
        return None if relpath is None else self.dataset.resolve(relpath)

    # -- recording -----------------------------------------------------------------------------

    def _record(self, stage: str, digest: str, outcomes: list[Outcome]) -> None:
        ds = self.dataset
        with ds.transaction():
            for outcome in outcomes:
                output = dict(outcome.output)
                output.update({key: ds.adopt(path) for key, path in outcome.files.items()})
                if outcome.status == "done":
                    for child in outcome.children:
                        meta = dict(child.meta)
                        meta.update({key: ds.adopt(path) for key, path in child.files.items()})
                        ds.add_item(
                            child.id,
                            child.kind,
                            source=child.source,
                            media=None if child.media is None else ds.adopt(child.media),
                            parent=outcome.item_id,
                            meta=meta,
                        )
                ds.record_result(
                    stage,
                    outcome.item_id,
                    digest,
                    outcome.status,
                    output=output or None,
                    reason=outcome.reason,
                    error=outcome.error,
                )


def _checked(stage: Stage, tasks: list[Task], call: Callable[[], list[Outcome]]) -> list[Outcome]:
    """Run a driver-side (scope "all") stage; a crash fails its items instead of the build."""
    try:
        outcomes = call()
    except Exception as exc:
        return [Outcome.failed(task.item_id, f"{stage.name}: {type(exc).__name__}: {exc}") for task in tasks]
    by_id = {outcome.item_id: outcome for outcome in outcomes}
    return [by_id.get(t.item_id) or Outcome.failed(t.item_id, "no outcome returned") for t in tasks]
