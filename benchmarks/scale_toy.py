"""The toy pipeline and the measured child commands of ``benchmarks/scale.py`` (run that, not this).

    .venv/bin/python benchmarks/scale_toy.py seed ROOT --n N --report R.json
    .venv/bin/python benchmarks/scale_toy.py ingest ROOT --input FOLDER --report R.json
    .venv/bin/python benchmarks/scale_toy.py build ROOT [--variant plain|files] [--batch-size 1]
        [--profile P.pstats] --report R.json

Three trivial stages over ``video`` items, with no media work: ``fanout`` makes one ``clip`` child per
input (in the ``files`` variant the child's media is a tiny file written with ``StageContext.new_file``
and adopted by the runner), ``check`` passes each clip through recording a small output and reads its
parent's ``fanout`` output, and ``mark`` does the same reading ``check``'s output. ``build`` runs them
with the in-process ``LocalExecutor`` under the dataset's writer lock, as ``insvie build`` does, and
writes ``build.json`` (steps, config hashes, final step) so that ``insvie status`` and ``insvie export``
read the dataset as they would a real build. Each command writes what it measured, from inside the
process, to ``--report``; the parent measures wall time and peak RSS from outside.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path
from typing import Any

from pydantic import Field

from insvie.engine import (
    Child,
    Input,
    LocalExecutor,
    Outcome,
    ProgressSink,
    Runner,
    Stage,
    StageConfig,
    StageContext,
    Step,
    Task,
    ingest,
)
from insvie.settings import OPERATIONAL
from insvie.store import Dataset

STEPS = ("fanout", "check", "mark")
FINAL_STEP = "mark"


class ToyConfig(StageConfig):
    files: bool = False  # fanout: give every child a tiny media file of its own
    batch_size: int = Field(1, json_schema_extra=OPERATIONAL)  # how, not what: kept out of the hash


class Fanout(Stage):
    """video -> one clip child each (with a tiny file of its own in the files variant)."""

    name = "fanout"
    consumes = "video"
    makes = "clip"
    identity = "benchmarks.scale_toy.Fanout"  # the same hash whether run as a script or imported
    config_class = ToyConfig

    def __init__(self, config: StageConfig | None = None) -> None:
        super().__init__(config)
        self.batch_size = self.config.batch_size

    def setup(self, ctx: StageContext) -> None:
        self.ctx = ctx

    def process(self, batch: list[Task]) -> list[Outcome]:
        outcomes = []
        for task in batch:
            media = None
            if self.config.files:
                media = self.ctx.new_file(".bin")
                media.write_bytes(f"{task.item_id}\n".encode())
            child = Child(f"{task.item_id}.c0", "clip", {"start": 0, "frames": 9}, media=media)
            outcomes.append(Outcome.done(task.item_id, {"n": task.meta.get("n", 0)}, children=[child]))
        return outcomes


class Check(Stage):
    """clip -> passes it through, recording a small output; reads its parent's fanout output."""

    name = "check"
    consumes = "clip"
    identity = "benchmarks.scale_toy.Check"
    config_class = ToyConfig

    def __init__(self, config: StageConfig | None = None) -> None:
        super().__init__(config)
        self.batch_size = self.config.batch_size

    def reads(self) -> tuple[Input, ...]:
        return (Input("fanout", fields=("n",), parent=True),)

    def process(self, batch: list[Task]) -> list[Outcome]:
        return [
            Outcome.done(task.item_id, {"score": task.inputs["parent.fanout"].get("n", 0) % 7 / 7})
            for task in batch
        ]


class Mark(Stage):
    """clip -> passes it through again, recording a small output; reads check's output."""

    name = "mark"
    consumes = "clip"
    identity = "benchmarks.scale_toy.Mark"
    config_class = ToyConfig

    def __init__(self, config: StageConfig | None = None) -> None:
        super().__init__(config)
        self.batch_size = self.config.batch_size

    def reads(self) -> tuple[Input, ...]:
        return (Input("check", fields=("score",)),)

    def process(self, batch: list[Task]) -> list[Outcome]:
        return [
            Outcome.done(task.item_id, {"ok": True, "score": task.inputs["check"].get("score")})
            for task in batch
        ]


def steps(variant: str, batch_size: int) -> list[Step]:
    files = ToyConfig(files=variant == "files", batch_size=batch_size)
    plain = ToyConfig(batch_size=batch_size)
    return [Step(Fanout(files)), Step(Check(plain), after="fanout"), Step(Mark(plain), after="check")]


def input_id(i: int) -> str:
    """An id shaped like ingest's (``video-`` and 24 hex digits of a content hash)."""
    return "video-" + hashlib.sha256(f"synthetic-{i}".encode()).hexdigest()[:24]


def vm_hwm_kb() -> int | None:
    """This process's peak resident set so far, from /proc (None where there is no /proc)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


class StepClock(ProgressSink):
    """When each step started running (its pending list known) and finished recording."""

    def __init__(self) -> None:
        self.marks: list[tuple[str, str, float]] = []

    def start(self, step: str, total: int) -> None:
        self.marks.append((step, "start", time.perf_counter()))

    def finish(self, step: str) -> None:
        self.marks.append((step, "finish", time.perf_counter()))


def per_step(started: float, clock: StepClock, reports: list[Any]) -> list[dict[str, Any]]:
    """Each step's time split into selecting (candidates, pending, loading inputs up to the progress
    start) and running (tasks, batches, recording), from the progress calls the runner makes."""
    out = []
    previous = started
    pending = {r.name: r.pending for r in reports}
    for name in [r.name for r in reports]:
        start = next(t for s, what, t in clock.marks if s == name and what == "start")
        finish = next(t for s, what, t in clock.marks if s == name and what == "finish")
        out.append(
            {"name": name, "pending": pending[name], "select_s": start - previous, "run_s": finish - start}
        )
        previous = finish
    return out


def cmd_seed(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    with Dataset.open(args.root) as ds, ds.transaction():
        for i in range(args.n):
            name = f"{i:09d}.mp4"
            ds.add_item(input_id(i), "video", source=f"/synthetic/inputs/{name}", meta={"name": name, "n": i})
    return {"seconds": time.perf_counter() - started, "items": args.n}


def cmd_ingest(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    with Dataset.open(args.root) as ds, ds.writing("scale benchmark ingest"):
        report = ingest(ds, [args.input])
    return {
        "seconds": time.perf_counter() - started,
        "added": sum(report.added.values()),
        "known": report.known,
        "skipped": len(report.skipped),
    }


def cmd_build(args: argparse.Namespace) -> dict[str, Any]:
    clock = StepClock()
    executor = LocalExecutor(0)
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
    with Dataset.open(args.root, create=False) as ds, ds.writing("scale benchmark build"):
        runner = Runner(ds, executor, progress=clock)
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        try:
            reports = runner.run(steps(args.variant, args.batch_size))
        finally:
            if profiler:
                profiler.disable()
            executor.close()
        seconds = time.perf_counter() - started
        record = {
            "finished_at": time.time(),
            "seconds": round(seconds, 3),
            "benchmark": "benchmarks/scale.py",
            "variant": args.variant,
            "steps": [
                {"name": r.name, "config_hash": r.config_hash, "ran": r.pending, "stopped": r.stopped}
                for r in reports
            ],
            "final_step": FINAL_STEP,
        }
        (ds.root / "build.json").write_text(json.dumps(record, indent=2))
    if profiler:
        profiler.dump_stats(args.profile)
    return {
        "seconds": seconds,
        "steps": per_step(started, clock, reports),
        "kept": {r.name: r.funnel.kept for r in reports},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    seed = sub.add_parser("seed", help="add N input items with Dataset.add_item in one transaction")
    seed.add_argument("root", type=Path)
    seed.add_argument("--n", type=int, required=True)
    taking = sub.add_parser("ingest", help="insvie.engine.ingest over a folder of files")
    taking.add_argument("root", type=Path)
    taking.add_argument("--input", type=Path, required=True)
    build = sub.add_parser("build", help="run the three toy steps")
    build.add_argument("root", type=Path)
    build.add_argument("--variant", choices=("plain", "files"), default="plain")
    build.add_argument("--batch-size", type=int, default=1)
    build.add_argument("--profile", type=Path, help="write cProfile stats of Runner.run here")
    for command in (seed, taking, build):
        command.add_argument("--report", type=Path, required=True, help="where to write the figures (JSON)")
    args = parser.parse_args()
    report = {"seed": cmd_seed, "ingest": cmd_ingest, "build": cmd_build}[args.command](args)
    report["vm_hwm_kb"] = vm_hwm_kb()
    args.report.write_text(json.dumps(report))


if __name__ == "__main__":
    main()
