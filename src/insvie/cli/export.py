"""``insvie export``: accepted triplets as Parquet, WebDataset shards or the released InsViE layout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer

from insvie.cli.console import console as make_console
from insvie.errors import InsvieError
from insvie.store import Dataset, export_insvie_csv, export_parquet, export_webdataset


def export(
    out: Annotated[Path, typer.Argument(help="A dataset folder made by `insvie build`.")],
    format: Annotated[
        Literal["parquet", "webdataset", "insvie-csv"], typer.Option("--format", "-f", help="What to write.")
    ] = "parquet",
    dest: Annotated[Path | None, typer.Option(help="Where to write (default: OUT/exports/<format>).")] = None,
    shard_size: Annotated[int, typer.Option(min=1, help="WebDataset: triplets per tar shard.")] = 1000,
) -> None:
    """Export the dataset.

    parquet: the manifest of every item with its stage statuses and review (DuckDB-ready).
    webdataset: tar shards of accepted triplets (KEY.src.mp4, KEY.tgt.mp4, KEY.json).
    insvie-csv: the released InsViE layout (source/ and edited/ with the same file names, and a
    `video,instruct` CSV), readable by existing InsViE tooling. Triplets rejected in review are left out.
    """
    console = make_console(stderr=True)
    try:
        with Dataset.open(out, create=False) as ds:
            target = dest or ds.exports_dir / format
            build_file = ds.root / "build.json"
            final = json.loads(build_file.read_text())["final_step"] if build_file.exists() else "refilter"
            if format == "parquet":
                written = export_parquet(ds, target / "manifest.parquet" if dest is None else dest)
                console.print(f"wrote {written}")
            elif format == "webdataset":
                shards = export_webdataset(ds, target, shard_size=shard_size, final_stage=final)
                console.print(f"wrote {len(shards)} shard(s) to {target}")
            else:
                csv_path = export_insvie_csv(ds, target, final_stage=final)
                console.print(f"wrote {csv_path} with source/ and edited/ beside it")
    except InsvieError as exc:
        console.print(f"[red]error[/red] {exc}")
        raise typer.Exit(code=2) from exc
