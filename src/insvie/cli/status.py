"""``insvie status``: the acceptance funnel of a build, per step (in, kept, rejected by reason, failed)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from insvie.cli.console import console as make_console
from insvie.errors import InsvieError
from insvie.store import Dataset, Funnel, accepted_triplets


def print_funnels(console: Console, funnels: list[Funnel]) -> None:
    table = Table("step", "in", "kept", "rejected", "failed", title="funnel", title_justify="left")
    for funnel in funnels:
        reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(funnel.rejected.items())) or "-"
        table.add_row(funnel.stage, str(funnel.total), str(funnel.kept), reasons, str(funnel.failed))
    console.print(table)


def status(
    out: Annotated[Path, typer.Argument(help="A dataset folder made by `insvie build`.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the funnel as JSON.")] = False,
) -> None:
    """Show what each step of the last build did: items in, kept, rejected by reason, failed.

    Counts are read from the dataset's database under each step's config of the last build, so they
    are exact after a crash too; the triplets ready for export are counted last, by edit category.
    """
    console = make_console()
    try:
        with Dataset.open(out, create=False) as ds:
            build_file = ds.root / "build.json"
            if not build_file.exists():
                raise InsvieError(f"{out}: no build has finished here yet (no build.json)")
            build = json.loads(build_file.read_text())
            funnels = [ds.funnel(step["name"], step["config_hash"]) for step in build["steps"]]
            categories: dict[str, int] = {}
            for triplet in accepted_triplets(ds, final_stage=build["final_step"]):
                category = str(triplet.item.meta.get("category", "unknown"))
                categories[category] = categories.get(category, 0) + 1
            accepted = sum(categories.values())
    except InsvieError as exc:
        make_console(stderr=True).print(f"[red]error[/red] {exc}")
        raise typer.Exit(code=2) from exc
    if as_json:
        summary = {"steps": [asdict(f) for f in funnels], "triplets": accepted, "categories": categories}
        typer.echo(json.dumps(summary, indent=2))
        return
    print_funnels(console, funnels)
    mix = ", ".join(f"{name} {count}" for name, count in sorted(categories.items()))
    console.print(f"triplets ready for export: {accepted}" + (f" ({mix})" if mix else ""))
