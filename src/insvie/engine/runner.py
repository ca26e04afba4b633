"""The runner: decides what is pending, feeds executors, and records every outcome durably.

Results are keyed by (stage, item, config hash). A step's inputs are the items of its kind that the
step it comes ``after`` kept under that step's current config, so changing one stage's settings
re-runs that stage and everything downstream of the items it changes, and nothing else.

Nothing here holds a step's work in memory: what is pending is decided and read from the store a page
at a time (``tasks.py``), and finished batches are recorded in bulk after their files are in place
(``recording.py``): ``kill -9`` loses at most the batches in flight and a few milliseconds of finished
work, and a finished build re-run finds nothing pending without loading an item.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from insvie.engine.executors import Executor
from insvie.engine.recording import Recorder
from insvie.engine.stage import Outcome, Stage, StageContext, StageStopped, Task
from insvie.engine.tasks import PAGE, TaskSource, pending_batches
from insvie.engine.work import ready_stage
from insvie.store import Dataset, Funnel, PendingQuery


@dataclass(frozen=True)
class Step:
    """A stage in a pipeline and the step whose kept items feed it (``None``: every item of its kind)."""

    stage: Stage
    after: str | None = None

    @property
    def name(self) -> str:
        return self.stage.name


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
        after = None if step.after is None else (step.after, self._hashes[step.after])
        query = PendingQuery(stage.name, digest, stage.consumes, after, self.max_attempts)
        # A step marked as having nothing pending, with nothing it depends on written since, is not counted:
        # a no-op re-run of a build of millions then checks each step in a few lookups.
        marked = self.dataset.nothing_pending_since_mark(query)
        total = 0 if marked else self.dataset.count_pending(query)
        self.progress.start(stage.name, total)
        stopped = None
        recorder = None
        if total:
            source = TaskSource(self.dataset, stage, self._hashes)
            recorder = Recorder(self.dataset, stage.name, digest)
            try:
                for _batch, outcomes in self._finished(stage, digest, query, source):
                    recorder.add(outcomes)
                    self.progress.advance(stage.name, outcomes)
            except StageStopped as exc:
                stopped = str(exc)
            finally:
                recorder.flush()
        if not marked and stopped is None and (recorder is None or not recorder.failed):
            self.dataset.mark_nothing_pending(query)  # every pending item reached a final result
        self.progress.finish(stage.name)
        funnel = self.dataset.funnel(stage.name, digest)
        return StepReport(stage.name, digest, total, funnel, stopped)

    def _finished(
        self, stage: Stage, digest: str, query: PendingQuery, source: TaskSource
    ) -> Iterable[tuple[list[Task], list[Outcome]]]:
        """Finished batches as the executor yields them; a ``scope = "all"`` stage decides every pending
        item at once in the driver, knowing the items it kept before under this config."""
        if stage.scope != "all":
            return self.executor.run(
                stage, self.ctx, pending_batches(self.dataset, query, source, stage.batch_size)
            )
        tasks = [task for batch in pending_batches(self.dataset, query, source, PAGE) for task in batch]
        pending = {task.item_id for task in tasks}
        kept_ids = [
            r.item_id
            for r in self.dataset.results(stage.name, digest, status="done")
            if r.item_id not in pending
        ]
        kept = [
            task
            for start in range(0, len(kept_ids), PAGE)
            for task in source.tasks(kept_ids[start : start + PAGE])
        ]
        return [
            (tasks, _checked(stage, tasks, lambda: ready_stage(stage, self.ctx).process_all(tasks, kept)))
        ]


def _checked(stage: Stage, tasks: list[Task], call: Callable[[], list[Outcome]]) -> list[Outcome]:
    """Run a driver-side (scope "all") stage; a crash fails its items instead of the build."""
    try:
        outcomes = call()
    except Exception as exc:
        return [Outcome.failed(task.item_id, f"{stage.name}: {type(exc).__name__}: {exc}") for task in tasks]
    by_id = {outcome.item_id: outcome for outcome in outcomes}
    return [by_id.get(t.item_id) or Outcome.failed(t.item_id, "no outcome returned") for t in tasks]
