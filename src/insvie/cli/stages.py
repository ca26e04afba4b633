"""``insvie stages``: every step of a build, what it reads and makes, its resources and settings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from insvie.cli.console import console as make_console
from insvie.errors import InsvieError


def stages(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="A build config (default: the built-in defaults).")
    ] = None,
    markdown: Annotated[
        bool,
        typer.Option(
            "--markdown",
            help="Print the page as Markdown (docs/stages.md is this for -c configs/paper.yaml).",
        ),
    ] = False,
) -> None:
    """List the steps `insvie build` runs under a config, in order: module, the item kind each consumes,
    the earlier outputs it reads, the kind it makes, the step it follows, scope, batch size, resources,
    settings and the models or services it needs."""
    from insvie.stages.config import load_config
    from insvie.stages.index import render_markdown, stage_index

    console = make_console()
    try:
        rows = stage_index(load_config(config))
    except InsvieError as exc:
        make_console(stderr=True).print(f"[red]error[/red] {escape(str(exc))}")
        raise typer.Exit(code=2) from exc
    if markdown:
        typer.echo(render_markdown(rows, config=None if config is None else str(config)), nl=False)
        return
    table = Table(
        "step", "module", "consumes", "reads", "makes", "after", "resources", "needs", title="steps"
    )
    for row in rows:
        table.add_row(
            row.step,
            f"{row.module}.{row.stage_class}",
            row.consumes,
            "; ".join(row.inputs) or "-",
            row.makes or "-",
            row.after or "-",
            row.resources,
            escape("; ".join(f"{kind} {key}: {value}" for kind, key, value in row.needs)) or "-",
        )
    console.print(table)
