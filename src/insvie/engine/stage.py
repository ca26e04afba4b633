"""The stage contract: what a pipeline step declares, receives and returns.

A stage is pure work on items. It never opens the database or knows which executor runs it, so
the same class runs in-process, in a process pool or as a Ray task/actor, and the runner alone
decides what is pending, records results and keeps the run resumable.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from insvie.engine.inputs import Input
from insvie.errors import InsvieError
from insvie.settings import StageConfig

Scope = Literal["item", "all"]


class StageStopped(InsvieError):
    """Raised by a stage that must not go on (a spending budget is used up).

    The runner records the batches already finished, leaves the rest pending and moves on, so a
    re-run with a larger budget continues exactly where this one stopped.
    """


@dataclass(frozen=True)
class Resources:
    """What one worker of a stage needs; executors size pools and Ray requests from it.

    ``actor`` asks for a long-lived worker that keeps what ``setup`` loaded (a model on a GPU);
    by default GPU stages get actors and CPU stages get plain tasks. ``custom`` names Ray custom
    resources (``{"model_node": 0.01}``) that pin the stage's workers to the nodes offering them, so
    model steps land where their weights and accelerators are; the local executor ignores it. It is
    where a worker runs, never what it decides, so it stays out of every config hash (as all of
    ``Resources`` does). Treat it as read-only; it is left out of the hash so the class stays hashable.
    """

    cpus: float = 1.0
    gpus: float = 0.0
    memory_gb: float = 1.0
    actor: bool | None = None
    custom: Mapping[str, float] = field(default_factory=dict, hash=False)

    @property
    def wants_actor(self) -> bool:
        return self.gpus > 0 if self.actor is None else self.actor


@dataclass(frozen=True)
class Need:
    """Something outside the dataset that a stage will load or call, declared so that a build can
    check it before any work starts instead of failing every item.

    ``kind`` is ``model`` (``value``: a hub id or a local folder) or ``endpoint`` (``value``: the URL
    of an HTTP service); ``key`` is the config key that names it, for the error message.
    """

    key: str
    kind: Literal["model", "endpoint"]
    value: str


@dataclass(frozen=True)
class Task:
    """One item as a stage sees it: its own file, its parent's file, and what earlier stages said."""

    item_id: str
    kind: str
    media: Path | None
    source: str | None
    meta: dict[str, Any]
    parent_id: str | None = None
    parent_media: Path | None = None
    parent_meta: dict[str, Any] = field(default_factory=dict)
    inputs: Mapping[str, dict[str, Any]] = field(default_factory=dict)

    def seed(self, salt: str = "") -> int:
        """A seed that depends only on the item (and a salt), so every executor makes the same choices."""
        digest = hashlib.sha256(f"{self.item_id}\x00{salt}".encode()).digest()
        return int.from_bytes(digest[:8], "little") & 0x7FFF_FFFF_FFFF_FFFF


@dataclass(frozen=True)
class Child:
    """A new item a stage makes from its input (a clip cut from a video, an edit request, a triplet).

    ``media`` is a file the stage wrote with :meth:`StageContext.new_file`; the runner adopts it
    into the store when it records the batch. ``files`` are further written files whose stored paths
    join ``meta`` under their keys (a triplet's source video beside its edited one).
    """

    id: str
    kind: str
    meta: dict[str, Any] = field(default_factory=dict)
    media: Path | None = None
    source: str | None = None
    files: dict[str, Path] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """What a stage made of one item. Build them with :meth:`done`, :meth:`rejected`, :meth:`failed`."""

    item_id: str
    status: Literal["done", "rejected", "failed"]
    output: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    error: str | None = None
    children: tuple[Child, ...] = ()
    files: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def done(
        cls,
        item_id: str,
        output: dict[str, Any] | None = None,
        *,
        children: list[Child] | tuple[Child, ...] = (),
        files: dict[str, Path] | None = None,
    ) -> Outcome:
        """A kept item. ``files`` maps output keys to written files; their stored paths join the output."""
        return cls(item_id, "done", output or {}, children=tuple(children), files=files or {})

    @classmethod
    def rejected(
        cls,
        item_id: str,
        reason: str,
        output: dict[str, Any] | None = None,
        *,
        files: dict[str, Path] | None = None,
    ) -> Outcome:
        """A deliberate no: ``reason`` is a short category counted in the funnel ("too_dark", "static")."""
        return cls(item_id, "rejected", output or {}, reason=reason, files=files or {})

    @classmethod
    def failed(cls, item_id: str, error: str) -> Outcome:
        """Something went wrong that a retry might fix; the runner retries a bounded number of times."""
        return cls(item_id, "failed", error=error)


@dataclass(frozen=True)
class StageContext:
    """What a worker gets at setup: where the dataset is and where to write new files."""

    root: Path
    tmp_dir: Path

    def resolve(self, relpath: str) -> Path:
        """A stored path (from an item's meta or an earlier output) as a file; escapes are refused."""
        from insvie.store.paths import resolve_inside

        return resolve_inside(self.root, relpath)

    def relpath(self, path: Path) -> str:
        """The stored path of a file inside the dataset (the inverse of :meth:`resolve`)."""
        return path.resolve().relative_to(self.root.resolve()).as_posix()

    def new_file(self, ext: str) -> Path:
        """A fresh path in the dataset's tmp area; files written there are adopted by the runner."""
        from insvie.store.fsio import temp_name

        return self.tmp_dir / temp_name((ext if ext.startswith(".") else f".{ext}").lower())


class Stage(ABC):
    """A pipeline step: what it consumes, reads and makes, its place in the graph, its resources,
    ``setup`` and ``process``. The pipeline is assembled from these declarations alone.

    ``version`` goes into the config hash, so changing a stage's algorithm re-runs it on resume
    instead of mixing old and new decisions. ``identity`` names the stage in that hash; it is frozen
    when a class moves or is renamed, so existing datasets keep their results. ``scope = "all"``
    stages (deduplication) see every pending item at once and run in the driver, so their decisions
    do not depend on batching. A branch of the pipeline that repeats a step (images beside videos) is
    a subclass that changes ``name``, ``consumes`` and ``after``.
    """

    name: ClassVar[str]
    consumes: ClassVar[str]
    makes: ClassVar[str | None] = None  # the kind of the items it makes as children, if any
    after: ClassVar[tuple[str, ...]] = ()  # its feeding step: the first of these in the pipeline
    section: ClassVar[str | None] = None  # the build config's section that configures it
    identity: ClassVar[str | None] = None  # frozen hash identity (default: the class's import path)
    version: ClassVar[str] = "1"
    batch_size: int = 1
    scope: ClassVar[Scope] = "item"
    config_class: ClassVar[type[StageConfig]] = StageConfig

    def __init__(self, config: StageConfig | None = None) -> None:
        self.config = config if config is not None else self.config_class()

    @classmethod
    def from_build(cls, build: Any) -> Stage | None:
        """This step under a build config, or ``None`` where the config leaves it out (``enabled``)."""
        config = getattr(build, cls.section) if cls.section else None
        if not getattr(config, "enabled", True):
            return None
        return cls(config)

    def describe(self) -> dict[str, Any]:
        """The data that identifies this stage's decisions; its hash keys every result."""
        return {
            "stage": self.name,
            "consumes": self.consumes,
            "class": self.identity or f"{type(self).__module__}.{type(self).__qualname__}",
            "version": self.version,
            "config": self.config.decision_dump(),
        }

    def fingerprint(self) -> str:
        """The hash of :meth:`describe`: the key of this stage's results (and a tag for ids it makes).

        Computed once per instance (its config is frozen): workers key their set-up stage by it for
        every batch."""
        if "_fingerprint" not in self.__dict__:
            from insvie.store import config_hash

            self.__dict__["_fingerprint"] = config_hash(self.describe())
        return self.__dict__["_fingerprint"]

    def reads(self) -> tuple[Input, ...]:
        """The earlier outputs :meth:`process` reads from ``task.inputs`` (none by default)."""
        return ()

    def resources(self) -> Resources:
        """What one worker needs under this stage's config (one CPU by default)."""
        return Resources()

    def needs(self) -> list[Need]:
        """The models and services :meth:`setup` and :meth:`process` will use (none by default)."""
        return []

    def setup(self, ctx: StageContext) -> None:  # noqa: B027 - optional hook
        """Load what every batch needs (models, lookup tables) once per worker."""

    @abstractmethod
    def process(self, batch: list[Task]) -> list[Outcome]:
        """Map each task to one outcome, in any order; an item missing from the result counts as failed."""

    def process_all(self, pending: list[Task], kept: list[Task]) -> list[Outcome]:
        """For ``scope = "all"``: decide ``pending`` knowing the items already kept under this config."""
        raise NotImplementedError(f"stage {self.name} has scope 'all' but no process_all")
