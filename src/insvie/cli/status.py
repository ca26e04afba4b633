"""``insvie status``: the acceptance funnel of a build, per step (in, kept, rejected by reason, failed),
why items failed, and which inputs gave nothing."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from insvie.cli.console import console as make_console
from insvie.errors import InsvieError
from insvie.store import Dataset, Funnel
from insvie.store.records import FailureGroup, InputProblem
from insvie.store.status_counts import status_counts


def print_funnels(console: Console, funnels: list[Funnel]) -> None:
    table = Table("step", "in", "kept", "rejected", "failed", title="funnel", title_justify="left")
    for funnel in funnels:
        reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(funnel.rejected.items())) or "-"
        table.add_row(funnel.stage, str(funnel.total), str(funnel.kept), reasons, str(funnel.failed))
    console.print(table)


def print_failures(console: Console, failures: dict[str, list[FailureGroup]]) -> None:
    """Each step's failures grouped by error, with a few of the items (nothing when none failed)."""
    if not any(failures.values()):
        return
    table = Table("step", "items", "error", "for example", title="failures", title_justify="left")
    for step, groups in failures.items():
        for group in groups:
            table.add_row(step, str(group.count), escape(group.error), ", ".join(group.examples))
    console.print(table)


def print_input_problems(console: Console, problems: list[InputProblem]) -> None:
    table = Table("input", "step", "status", "reason", title="inputs that gave nothing", title_justify="left")
    for problem in problems:
        table.add_row(escape(problem.path), problem.step, problem.status, escape(problem.reason))
    console.print(table)


def status(
    out: Annotated[Path, typer.Argument(help="A dataset folder made by `insvie build`.")],
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print everything as JSON: the funnel, failures grouped by error, the inputs that gave "
            "nothing, and the triplets by category.",
        ),
    ] = False,
    rejected: Annotated[
        bool,
        typer.Option(
            "--rejected",
            help="List every input that gave nothing: skipped at ingest (unreadable, symlink loop, bad "
            "pair line) or rejected or failed by the step that read it, with the reason.",
        ),
    ] = False,
) -> None:
    """Show what each step of the last build did: items in, kept, rejected by reason, failed, and why
    items failed (grouped by error, with a few of them).

    Counts are read from the dataset's database under each step's config of the last build, so they
    are exact after a crash too, and readable while a build runs; the triplets ready for export are
    counted last, by edit category. SQLite does the counting, so this takes seconds at millions of items.
    """
    console = make_console()
    try:
        with Dataset.open(out, create=False) as ds:
            build_file = ds.root / "build.json"
            if not build_file.exists():
                raise InsvieError(f"{out}: no build has finished here yet (no build.json)")
            build = json.loads(build_file.read_text())
            steps = [(step["name"], step["config_hash"]) for step in build["steps"]]
            counts = status_counts(ds, steps, build["final_step"])
    except InsvieError as exc:
        make_console(stderr=True).print(f"[red]error[/red] {escape(str(exc))}")
        raise typer.Exit(code=2) from exc
    if as_json:
        summary = {
            "steps": [
                {**asdict(f), "failures": [asdict(g) for g in counts.failures.get(f.stage, [])]}
                for f in counts.funnels
            ],
            "inputs": [asdict(problem) for problem in counts.problems],
            "triplets": counts.triplets,
            "categories": counts.categories,
        }
        typer.echo(json.dumps(summary, indent=2))
        return
    if rejected:
        print_input_problems(console, counts.problems)
        return
    print_funnels(console, counts.funnels)
    print_failures(console, counts.failures)
    if counts.problems:
        console.print(
            f"inputs that gave nothing: {len(counts.problems)} (`insvie status --rejected` lists them)"
        )
    mix = ", ".join(f"{name} {count}" for name, count in sorted(counts.categories.items()))
    console.print(f"triplets ready for export: {counts.triplets}" + (f" ({mix})" if mix else ""))
