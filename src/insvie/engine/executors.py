"""Executors: where batches run. The runner hands them batches and records what comes back.

``local`` runs in this process (``workers=0``) or in a process pool; ``ray`` runs CPU stages as
Ray tasks and GPU stages (or any stage asking for it) as actors that keep their model loaded.
Both yield results as batches finish, and keep only a bounded number of batches in flight so a
kill loses little and memory stays flat. On Ray, a build may pin steps to nodes with custom resources
(``run.ray_resources``); where a step runs never changes what it decides, so pins stay out of every
config hash.
"""

from __future__ import annotations

import ipaddress
import multiprocessing
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import replace
from itertools import chain, islice
from typing import Any, Protocol

from insvie.engine.stage import Outcome, Resources, Stage, StageContext, Task
from insvie.engine.work import run_batch
from insvie.errors import ConfigError

Finished = tuple[list[Task], list[Outcome]]
# Step name -> extra Ray custom resources its workers ask for (``run.ray_resources``).
Pins = Mapping[str, Mapping[str, float]]


class Executor(Protocol):
    """Runs batches of a stage and yields each batch with its outcomes as it finishes."""

    name: str

    def run(self, stage: Stage, ctx: StageContext, batches: Iterable[list[Task]]) -> Iterator[Finished]: ...

    def close(self) -> None: ...


class LocalExecutor:
    """In-process (``workers=0``) or a pool of spawned processes, each setting a stage up once."""

    name = "local"

    def __init__(self, workers: int = 0) -> None:
        if workers < 0:
            raise ConfigError(f"workers must be 0 (in-process) or more, got {workers}")
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def run(self, stage: Stage, ctx: StageContext, batches: Iterable[list[Task]]) -> Iterator[Finished]:
        todo = iter(batches)
        first = list(islice(todo, 2))  # a single batch is not worth starting a pool for
        batches = chain(first, todo)
        if self.workers == 0 or stage.scope == "all" or len(first) <= 1:
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


def _bounded(submit: Any, batches: Iterable[list[Task]], limit: int) -> Iterator[Finished]:
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
    filesystem), because workers write media into its tmp area for the runner to adopt. ``pins`` give
    steps extra custom resources (step name -> ``{resource: amount}``), so a model step only runs on
    the nodes started with that resource (``ray start --resources='{"model_node": 1}'``).
    """

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        num_cpus: int | None = None,
        workers: int = 0,
        pins: Pins | None = None,
    ) -> None:
        if (address is None or _is_loopback(address)) and "ray" not in sys.modules:
            # Ray otherwise swaps a loopback address for the machine's address (and listens on every
            # interface); on one machine, keep the cluster and this driver on loopback.
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
        self.address = address
        self.workers = workers
        self.pins = {step: dict(extra) for step, extra in (pins or {}).items()}
        self._actors: dict[str, list[Any]] = {}
        try:
            # A pin no node can satisfy would leave its step's work waiting forever: refuse it now,
            # before any step runs.
            for step, extra in self.pins.items():
                self._check_offered(step, extra)
        except ConfigError:
            self.close()
            raise

    def resources(self, stage: Stage) -> Resources:
        """What one worker of ``stage`` asks Ray for: its declared needs plus its step's pin."""
        declared = stage.resources()
        pin = self.pins.get(stage.name)
        return replace(declared, custom={**declared.custom, **pin}) if pin else declared

    def _check_offered(self, step: str, custom: Mapping[str, float]) -> None:
        offered = self._ray.cluster_resources()
        missing = sorted(name for name in custom if name not in offered)
        if missing:
            example = "{" + ", ".join(f'"{name}": 1' for name in missing) + "}"
            raise ConfigError(
                f"step {step} asks Ray for {', '.join(missing)}, which no node of the Ray cluster "
                f"({self.address or 'started here'}) offers: start a node with "
                f"`ray start --address=... --resources='{example}'` or change run.ray_resources"
            )

    def _fits(self, res: Resources) -> int:
        """How many workers asking for ``res`` the cluster's live nodes hold at once.

        Counted node by node, not from cluster totals: a worker must fit on one node, so two half-free
        nodes do not make room for a pinned worker that only one of them may take."""
        need = {"CPU": max(res.cpus, 1e-3), "GPU": res.gpus, "memory": res.memory_gb * 2**30, **res.custom}
        need = {name: amount for name, amount in need.items() if amount > 0}
        fits = 0
        for node in self._ray.nodes():
            if node.get("Alive"):
                have = node.get("Resources") or {}
                fits += min(int(have.get(name, 0.0) // amount) for name, amount in need.items())
        return fits

    def _parallelism(self, stage: Stage, res: Resources) -> int:
        fits = self._fits(res)
        if fits == 0:
            self._check_offered(stage.name, res.custom)
        if not self.workers:
            return max(1, fits)
        if res.wants_actor and fits:
            # An actor that no node can hold never starts, and the batches dealt to it would wait
            # forever: never ask for more actors than the nodes take.
            return min(self.workers, fits)
        return self.workers

    @staticmethod
    def _options(res: Resources) -> dict[str, Any]:
        # Ray's memory resource is logical: it keeps the scheduler from packing more model-holding
        # workers onto a node than its RAM can take.
        options: dict[str, Any] = {
            "num_cpus": res.cpus,
            "num_gpus": res.gpus,
            "memory": int(res.memory_gb * 2**30),
        }
        if res.custom:
            options["resources"] = dict(res.custom)
        return options

    def run(self, stage: Stage, ctx: StageContext, batches: Iterable[list[Task]]) -> Iterator[Finished]:
        if stage.scope == "all":
            for batch in batches:
                yield batch, run_batch(stage, ctx, batch)
            return
        ray = self._ray
        key = f"{stage.name}:{stage.fingerprint()}"
        # Steps run one after another: an earlier step's actors would only hold CPUs, GPUs and pinned
        # resources that this step's workers need (a second pinned step would never start).
        self._release(keep=key)
        res = self.resources(stage)
        width = self._parallelism(stage, res)
        stage_ref = ray.put(stage)
        if res.wants_actor:
            actors = self._actor_pool(key, res, ctx, stage_ref, width)
            turn = iter(range(1 << 62))

            def submit(batch: list[Task]) -> Any:
                # Named after the step, so `ray list tasks` and the dashboard say which step runs where.
                actor = actors[next(turn) % len(actors)]
                return actor.process.options(name=stage.name).remote(batch)

        else:
            remote = ray.remote(run_batch).options(name=stage.name, **self._options(res))

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

    def _actor_pool(
        self, key: str, res: Resources, ctx: StageContext, stage_ref: Any, width: int
    ) -> list[Any]:
        if key not in self._actors:
            actor_class = self._ray.remote(_StageActor).options(**self._options(res))
            self._actors[key] = [actor_class.remote(stage_ref, ctx) for _ in range(width)]
        return self._actors[key]

    def _release(self, keep: str | None = None) -> None:
        for key in [key for key in self._actors if key != keep]:
            for actor in self._actors.pop(key):
                self._ray.kill(actor)

    def close(self) -> None:
        self._release()
        if self._started:
            self._ray.shutdown()


def _is_loopback(address: str) -> bool:
    """Whether ``address`` is on this machine's loopback: 127.0.0.1, or another 127.x address, which
    several Ray nodes on one machine need (Ray swaps 127.0.0.1 itself for the machine's address when a
    node joins a cluster)."""
    host = address.removeprefix("ray://").rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _StageActor:
    """A long-lived worker holding one set-up stage (a model stays loaded between batches)."""

    def __init__(self, stage: Stage, ctx: StageContext) -> None:
        self.stage = stage
        self.ctx = ctx
        self.pid = os.getpid()

    def process(self, batch: list[Task]) -> list[Outcome]:
        return run_batch(self.stage, self.ctx, batch)


def make_executor(
    name: str, *, workers: int = 0, ray_address: str | None = None, ray_resources: Pins | None = None
) -> Executor:
    """The executor called ``name`` ("local" or "ray").

    ``ray_resources`` pins steps to Ray nodes; a local build runs every step here and ignores it, so
    one config serves both executors."""
    if name == "local":
        return LocalExecutor(workers)
    if name == "ray":
        return RayExecutor(ray_address, workers=workers, pins=ray_resources)
    raise ConfigError(f"executor {name!r}: must be 'local' or 'ray'")
