"""Executors: where batches run. The runner hands them batches and records what comes back.

``local`` runs in this process (``workers=0``) or in a process pool; ``ray`` runs CPU stages as
Ray tasks and GPU stages (or any stage asking for it) as actors that keep their model loaded.
Both yield results as batches finish, and keep only a bounded number of batches in flight so a
kill loses little and memory stays flat.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Protocol

from insvie.engine.stage import Outcome, Stage, StageContext, Task
from insvie.engine.work import run_batch
from insvie.errors import ConfigError

Finished = tuple[list[Task], list[Outcome]]


class Executor(Protocol):
    """Runs batches of a stage and yields each batch with its outcomes as it finishes."""

    name: str

    def run(self, stage: Stage, ctx: StageContext, batches: list[list[Task]]) -> Iterator[Finished]: ...

    def close(self) -> None: ...


class LocalExecutor:
    """In-process (``workers=0``) or a pool of spawned processes, each setting a stage up once."""

    name = "local"

    def __init__(self, workers: int = 0) -> None:
        if workers < 0:
            raise ConfigError(f"workers must be 0 (in-process) or more, got {workers}")
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def run(self, stage: Stage, ctx: StageContext, batches: list[list[Task]]) -> Iterator[Finished]:
        if self.workers == 0 or stage.scope == "all" or len(batches) <= 1:
            for batch in batches:
                yield batch, run_batch(stage, ctx, batch)
            return
        if self._pool is None:
            # spawn, not fork: the parent holds SQLite connections and OpenCV/BLAS threads.
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        yield from _bounded(
            lambda batch: self._pool.submit(run_batch, stage, ctx, batch),  # type: ignore[union-attr]
            batches,
            2 * self.workers,
        )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def _bounded(submit: Any, batches: list[list[Task]], limit: int) -> Iterator[Finished]:
    todo = iter(batches)
    running: dict[Future, list[Task]] = {}
    for batch in todo:
        running[submit(batch)] = batch
        if len(running) >= limit:
            break
    while running:
        finished, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in finished:
            batch = running.pop(future)
            yield batch, future.result()
            for more in todo:
                running[submit(more)] = more
                break


class RayExecutor:
    """The same stages on a Ray cluster: joins ``address`` or starts a local cluster on loopback.

    The dataset folder must be reachable at the same path from every node (one machine, or a shared
    filesystem), because workers write media into its tmp area for the runner to adopt.
    """

    name = "ray"

    def __init__(self, address: str | None = None, *, num_cpus: int | None = None, workers: int = 0) -> None:
        if (address is None or _is_loopback(address)) and "ray" not in sys.modules:
            # Ray otherwise swaps a loopback address for the machine's address (and listens on every
            # interface); on one machine, keep the cluster on 127.0.0.1.
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        try:
            import ray
        except ImportError as exc:
            raise ConfigError("the ray executor needs Ray: pip install 'insvie[ray]'") from exc
        self._ray = ray
        self._started = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if address:
                ray.init(address=address, **kwargs)
            else:
                ray.init(num_cpus=num_cpus, _node_ip_address="127.0.0.1", **kwargs)
                self._started = True
        self.workers = workers
        self._actors: dict[str, list[Any]] = {}

    def _parallelism(self, stage: Stage) -> int:
        if self.workers:
            return self.workers
        cluster = self._ray.cluster_resources()
        needs = stage.resources()
        by_cpu = int(cluster.get("CPU", 1) // max(needs.cpus, 1e-3))
        if needs.gpus > 0:
            return max(1, min(by_cpu, int(cluster.get("GPU", 0) // needs.gpus)))
        return max(1, by_cpu)

    def _options(self, stage: Stage) -> dict[str, Any]:
        res = stage.resources()
        # Ray's memory resource is logical: it keeps the scheduler from packing more model-holding
        # workers onto a node than its RAM can take.
        return {"num_cpus": res.cpus, "num_gpus": res.gpus, "memory": int(res.memory_gb * 2**30)}

    def run(self, stage: Stage, ctx: StageContext, batches: list[list[Task]]) -> Iterator[Finished]:
        if stage.scope == "all":
            for batch in batches:
                yield batch, run_batch(stage, ctx, batch)
            return
        ray = self._ray
        width = self._parallelism(stage)
        stage_ref = ray.put(stage)
        if stage.resources().wants_actor:
            actors = self._actor_pool(stage, ctx, stage_ref, width)
            turn = iter(range(1 << 62))

            def submit(batch: list[Task]) -> Any:
                return actors[next(turn) % len(actors)].process.remote(batch)

        else:
            remote = ray.remote(run_batch).options(**self._options(stage))

            def submit(batch: list[Task]) -> Any:
                return remote.remote(stage_ref, ctx, batch)

        todo = iter(batches)
        running: dict[Any, list[Task]] = {}
        for batch in todo:
            running[submit(batch)] = batch
            if len(running) >= 2 * width:
                break
        while running:
            done, _ = ray.wait(list(running), num_returns=1)
            for ref in done:
                batch = running.pop(ref)
                yield batch, ray.get(ref)
                for more in todo:
                    running[submit(more)] = more
                    break

    def _actor_pool(self, stage: Stage, ctx: StageContext, stage_ref: Any, width: int) -> list[Any]:
        key = f"{stage.name}:{stage.fingerprint()}"
        if key not in self._actors:
            actor_class = self._ray.remote(_StageActor).options(**self._options(stage))
            self._actors[key] = [actor_class.remote(stage_ref, ctx) for _ in range(width)]
        return self._actors[key]

    def close(self) -> None:
        for actors in self._actors.values():
            for actor in actors:
                self._ray.kill(actor)
        self._actors.clear()
        if self._started:
            self._ray.shutdown()


def _is_loopback(address: str) -> bool:
    host = address.removeprefix("ray://").rsplit(":", 1)[0].strip("[]")
    return host in ("127.0.0.1", "localhost", "::1")


class _StageActor:
    """A long-lived worker holding one set-up stage (a model stays loaded between batches)."""

    def __init__(self, stage: Stage, ctx: StageContext) -> None:
        self.stage = stage
        self.ctx = ctx
        self.pid = os.getpid()

    def process(self, batch: list[Task]) -> list[Outcome]:
        return run_batch(self.stage, self.ctx, batch)


def make_executor(name: str, *, workers: int = 0, ray_address: str | None = None) -> Executor:
    """The executor called ``name`` ("local" or "ray")."""
    if name == "local":
        return LocalExecutor(workers)
    if name == "ray":
        return RayExecutor(ray_address, workers=workers)
    raise ConfigError(f"executor {name!r}: must be 'local' or 'ray'")
