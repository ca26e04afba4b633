"""``insvie build``: raw videos, images and image pairs in; filtered edit triplets out; resumable."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from insvie import __version__
from insvie.cli.console import console as make_console
from insvie.cli.status import print_failures, print_funnels
from insvie.engine import Outcome, ProgressSink, Runner, ingest, make_executor
from insvie.errors import ConfigError, InsvieError
from insvie.store import Dataset, export_parquet
from insvie.store.fsio import write_atomically
from insvie.store.records import error_line

BUILD_FILE = "build.json"


class RichProgress(ProgressSink):
    """One bar per step, with kept / rejected / failed counts as they come in, and the first item of
    each distinct failure printed with its error as it happens (the rest are counted in the bar)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, tuple[int, dict[str, int]]] = {}
        self.seen_errors: set[tuple[str, str]] = set()

    def start(self, step: str, total: int) -> None:
        task = self.progress.add_task(step, total=total, counts="")
        self.tasks[step] = (task, {"done": 0, "rejected": 0, "failed": 0})

    def advance(self, step: str, outcomes: list[Outcome]) -> None:
        task, counts = self.tasks[step]
        for outcome in outcomes:
            counts[outcome.status] += 1
            if outcome.status == "failed":
                self._first_of_its_kind(step, outcome)
        text = f"kept {counts['done']}  rejected {counts['rejected']}  failed {counts['failed']}"
        self.progress.update(task, advance=len(outcomes), counts=text)

    def _first_of_its_kind(self, step: str, outcome: Outcome) -> None:
        error = error_line(outcome.error) or "(no error text)"
        if (step, error) in self.seen_errors:
            return
        self.seen_errors.add((step, error))
        self.progress.console.print(
            f"[red]{escape(step)} failed[/red] {escape(outcome.item_id)}: {escape(error)}", highlight=False
        )

    def finish(self, step: str) -> None:
        task, _ = self.tasks[step]
        self.progress.update(task, completed=self.progress.tasks[task].total)


def _versions() -> dict[str, str]:
    import av
    import cv2
    import numpy

    return {
        "insvie": __version__,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "opencv": cv2.__version__,
        "pyav": av.__version__,
        "ffmpeg": ".".join(str(v) for v in av.library_versions.get("libavcodec", ())),
    }


def _exported_state(ds: Dataset) -> Any:
    """The change marker the last build recorded with its export, or None where it recorded none."""
    try:
        record = json.loads((ds.root / BUILD_FILE).read_text())
    except (OSError, ValueError):
        return None
    return record.get("export") if isinstance(record, dict) else None


def _export_if_changed(ds: Dataset, console: Console) -> tuple[dict[str, Any], Path]:
    """Write the Parquet manifest unless the one in place was made from the dataset as it is now; returns
    the change marker to record in build.json and the manifest.

    A no-op re-run over a million items would otherwise spend most of its time rewriting the same
    manifest. The marker is taken before exporting, so a change made during the export makes the next
    build export again rather than go unseen, and build.json records it only once the export is written.
    ``insvie export`` always writes.
    """
    state = {"insvie": __version__, **ds.change_marker()}
    manifest = ds.exports_dir / "manifest.parquet"
    if (
        state == _exported_state(ds)
        and manifest.is_file()
        and manifest.with_name("failures.parquet").is_file()
    ):
        console.print(f"export is current (nothing changed since it was written): {escape(str(manifest))}")
        return state, manifest
    return state, export_parquet(ds)


def build(
    out: Annotated[Path, typer.Argument(help="Dataset folder (created; an existing build is resumed).")],
    inputs: Annotated[
        list[Path] | None,
        typer.Option("--input", "-i", help="A folder (searched recursively) or file of videos and images."),
    ] = None,
    pairs: Annotated[
        list[Path] | None,
        typer.Option(help="JSONL of existing image-edit pairs: {source, edited, instruction[, category]}."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="YAML build config (default: built-in defaults).")
    ] = None,
    executor: Annotated[
        Literal["local", "ray"] | None, typer.Option(help="Where stages run (overrides run.executor).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=0, help="Local: worker processes (0 = in-process). Ray: parallel tasks.")
    ] = None,
    ray_address: Annotated[
        str | None, typer.Option(help="Join this Ray cluster instead of starting one on loopback.")
    ] = None,
) -> None:
    """Build (source video, edited video, instruction) triplets following the InsViE pipeline.

    Videos are split at shot boundaries into clips, filtered (exposure, sharpness, motion) and
    de-duplicated; each clip's first frame is edited several times and the best candidate is
    carried through the clip; images are edited and animated with a camera path; every triplet then
    passes the refilter (motion fidelity, flicker, quality, edit persistence). Re-running the same
    command continues where it stopped and redoes nothing; `insvie status OUT` shows the funnel.
    """
    from insvie.stages.config import load_config
    from insvie.stages.pipeline import build_steps, final_step
    from insvie.stages.preflight import check_needs

    console = make_console(stderr=True)
    try:
        missing = [f"--input {p}" for p in inputs or [] if not p.exists() and not p.is_symlink()]
        missing += [f"--pairs {p}" for p in pairs or [] if not p.is_file()]
        if missing:
            raise ConfigError(f"no such file or folder: {', '.join(missing)}")
        cfg = load_config(config)
        run = cfg.run.model_copy(
            update={
                k: v
                for k, v in {"executor": executor, "workers": workers, "ray_address": ray_address}.items()
                if v is not None
            }
        )
        steps = build_steps(cfg)
        check_needs(steps)
        with Dataset.open(out) as ds, ds.writing("insvie build"):
            report = ingest(ds, list(inputs or []), list(pairs or []))
            for path, why in report.skipped.items():
                console.print(f"[yellow]skipped[/yellow] {path}: {why}")
            added = ", ".join(f"{n} {kind}" for kind, n in sorted(report.added.items())) or "nothing new"
            console.print(f"inputs: {added} ({report.known} already known)")
            engine = make_executor(
                run.executor,
                workers=run.workers,
                ray_address=run.ray_address,
                ray_resources=run.ray_resources,
            )
            started = time.time()
            columns = (
                TextColumn("{task.description:>14}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[counts]}"),
                TimeElapsedColumn(),
            )
            try:
                with Progress(*columns, console=console) as progress:
                    runner = Runner(
                        ds, engine, max_attempts=run.max_attempts, progress=RichProgress(progress)
                    )
                    reports = runner.run(steps)
            finally:
                engine.close()
            record = {
                "finished_at": time.time(),
                "seconds": round(time.time() - started, 3),
                "inputs": [str(p) for p in inputs or []],
                "pairs": [str(p) for p in pairs or []],
                "executor": run.executor,
                "config": cfg.model_dump(mode="json"),
                "steps": [
                    {"name": r.name, "config_hash": r.config_hash, "ran": r.pending, "stopped": r.stopped}
                    for r in reports
                ],
                "final_step": final_step(cfg),
                "versions": _versions(),
            }
            record["export"], manifest = _export_if_changed(ds, console)
            write_atomically(ds.root / BUILD_FILE, lambda tmp: tmp.write_text(json.dumps(record, indent=2)))
            print_funnels(console, [r.funnel for r in reports])
            print_failures(console, {r.name: ds.failures(r.name, r.config_hash) for r in reports})
            for report in reports:
                if report.stopped:
                    console.print(
                        f"[yellow]{report.name} stopped[/yellow]: {report.stopped}; re-run to continue"
                    )
            console.print(f"done in {record['seconds']:.1f} s; manifest: {manifest}")
            dead = [r.name for r in reports if r.funnel.total and r.funnel.failed == r.funnel.total]
    except InsvieError as exc:
        console.print(f"[red]error[/red] {escape(str(exc))}")
        raise typer.Exit(code=2) from exc
    if dead:
        console.print(f"[red]failed for every item[/red]: {', '.join(dead)} (see the failures above)")
        raise typer.Exit(code=1)
