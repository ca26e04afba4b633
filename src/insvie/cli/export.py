"""``insvie export``: accepted triplets as Parquet, WebDataset shards or the released InsViE layout.

``--dest`` is a folder for every format. Parquet writes ``manifest.parquet`` and ``failures.parquet``
into it, by default into ``OUT/exports/``, where ``insvie build`` writes the manifest too, so a dataset
has one manifest (and training finds the dataset from it). WebDataset and the InsViE layout each own
their folder, by default ``OUT/exports/<format>/``, and replace it whole on a re-export.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.markup import escape

from insvie.cli.console import console as make_console
from insvie.errors import InsvieError
from insvie.store import Dataset, export_insvie_csv, export_parquet, export_webdataset


def export(
    out: Annotated[Path, typer.Argument(help="A dataset folder made by `insvie build`.")],
    format: Annotated[
        Literal["parquet", "webdataset", "insvie-csv"], typer.Option("--format", "-f", help="What to write.")
    ] = "parquet",
    dest: Annotated[
        Path | None,
        typer.Option(
            help="The folder to write into, for every format (default: OUT/exports for parquet, the one "
            "manifest location `insvie build` also writes; OUT/exports/FORMAT for the others, which "
            "replace their folder whole)."
        ),
    ] = None,
    shard_size: Annotated[int, typer.Option(min=1, help="WebDataset: triplets per tar shard.")] = 1000,
) -> None:
    """Export the dataset.

    parquet: the manifest of every item with its stage statuses and review (DuckDB-ready), and
    failures.parquet beside it: every current failure with its step, item, error type, error and attempts.
    webdataset: tar shards of accepted triplets (KEY.src.mp4, KEY.tgt.mp4, KEY.json).
    insvie-csv: the released InsViE layout (source/ and edited/ with the same file names, and a
    `video,instruct` CSV), readable by existing InsViE tooling. Triplets rejected in review are left out.
    A re-export is written beside the old one and swapped in, so it equals a fresh export and a crash
    leaves the previous export intact.
    """
    console = make_console(stderr=True)
    try:
        with Dataset.open(out, create=False) as ds:
            build_file = ds.root / "build.json"
            final = json.loads(build_file.read_text())["final_step"] if build_file.exists() else "refilter"
            if format == "parquet":
                manifest = export_parquet(ds, dest)
                failures = manifest.with_name("failures.parquet")
                console.print(f"wrote {escape(str(manifest))} and {escape(str(failures))}")
            elif format == "webdataset":
                target = dest or ds.exports_dir / format
                shards = export_webdataset(ds, target, shard_size=shard_size, final_stage=final)
                console.print(f"wrote {len(shards)} shard(s) to {escape(str(target))}")
            else:
                target = dest or ds.exports_dir / format
                csv_path = export_insvie_csv(ds, target, final_stage=final)
                console.print(f"wrote {escape(str(csv_path))} with source/ and edited/ beside it")
    except InsvieError as exc:
        console.print(f"[red]error[/red] {escape(str(exc))}")
        raise typer.Exit(code=2) from exc
    except OSError as exc:  # anything the store did not put in words: still one line, never a traceback
        console.print(
            f"[red]error[/red] {escape(str(exc.filename or out))}: {escape(exc.strerror or str(exc))}"
        )
        raise typer.Exit(code=2) from exc
