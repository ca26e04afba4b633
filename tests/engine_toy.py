"""Small real stages for engine tests: they write real files and count their own invocations.

Kept in a module (not a test file) so spawned pool workers and Ray workers can import them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from insvie.engine import Child, Input, Outcome, Resources, Stage, StageConfig, StageContext, Task


class SquareConfig(StageConfig):
    reject_multiple_of: int = 5
    sleep: float = 0.0
    log: str | None = None  # a file each processed item id is appended to, to count recomputation


def _log(path: str | None, text: str) -> None:
    if path:
        with open(path, "a") as fh:
            fh.write(text + "\n")


class Square(Stage):
    """number -> its square; rejects multiples of N; 'bad' always fails; writes a square_<n> child file."""

    name = "square"
    consumes = "number"
    batch_size = 3
    config_class = SquareConfig

    def setup(self, ctx: StageContext) -> None:
        self.ctx = ctx
        self.setups = getattr(self, "setups", 0) + 1

    def process(self, batch: list[Task]) -> list[Outcome]:
        outcomes = []
        for task in batch:
            _log(self.config.log, task.item_id)
            if self.config.sleep:
                time.sleep(self.config.sleep)
            if task.meta.get("bad"):
                raise RuntimeError(f"item {task.item_id} is bad")
            n = task.meta["n"]
            if n % self.config.reject_multiple_of == 0:
                outcomes.append(Outcome.rejected(task.item_id, "multiple", {"n": n}))
                continue
            path = self.ctx.new_file(".txt")
            path.write_text(str(n * n))
            child = Child(f"{task.item_id}.sq", "square", {"n": n * n}, media=path)
            outcomes.append(
                Outcome.done(task.item_id, {"square": n * n, "pid": os.getpid()}, children=[child])
            )
        return outcomes


class ReadBack(Stage):
    """square -> checks its file holds the square recorded in its meta; keeps even squares."""

    name = "readback"
    consumes = "square"

    def reads(self) -> tuple[Input, ...]:
        return (Input("square", parent=True),)

    def resources(self) -> Resources:
        return Resources(cpus=1, actor=True)

    def process(self, batch: list[Task]) -> list[Outcome]:
        out = []
        for task in batch:
            value = int(Path(task.media).read_text())
            assert value == task.meta["n"]
            if value % 2:
                out.append(Outcome.rejected(task.item_id, "odd"))
            else:
                out.append(Outcome.done(task.item_id, {"value": value, "from": task.inputs["parent.square"]}))
        return out


class Flaky(Stage):
    """Fails each item the first time it sees it (a marker file remembers), then succeeds."""

    name = "flaky"
    consumes = "number"

    def __init__(self, marker_dir: str) -> None:
        super().__init__()
        self.marker_dir = marker_dir

    def process(self, batch: list[Task]) -> list[Outcome]:
        task = batch[0]
        marker = Path(self.marker_dir) / task.item_id
        if not marker.exists():
            marker.touch()
            return [Outcome.failed(task.item_id, "transient")]
        return [Outcome.done(task.item_id)]
