"""``insvie eval calibration --out R``: how well each refilter check catches labelled broken edits."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from insvie.cli.console import console as make_console
from insvie.cli.eval.options import Out, refusals
from insvie.errors import ConfigError


def calibration(
    out: Out,
    seeds: Annotated[int, typer.Option("--seeds", min=1, help="Samples per kind.")] = 20,
    synth_size: Annotated[str, typer.Option("--synth-size", help="SynthEdit HEIGHTxWIDTH.")] = "240x360",
    synth_frames: Annotated[int, typer.Option("--synth-frames", min=2, help="Frames per sample.")] = 17,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Processes.")] = 1,
) -> None:
    """Recall, false rejections and precision of every refilter check on SynthEdit (R/calibration.json).

    Every seed is rendered clean and broken in each labelled way and round-tripped through H.264; each
    check's share of rejections per kind is its recall on broken kinds and its false rejections on clean
    edits. `benchmarks/calibration.py` prints the full study from the same code.
    """
    console = make_console(stderr=True)
    with refusals(console):
        from insvie.eval.calibration import calibration_table, collect
        from insvie.stages.refilter import RefilterConfig

        try:
            height, width = (int(side) for side in synth_size.lower().split("x"))
        except ValueError:
            raise ConfigError(f"--synth-size {synth_size!r} is not HEIGHTxWIDTH, e.g. 240x360") from None
        with console.status(f"rendering and measuring {seeds} seeds of every SynthEdit kind"):
            samples = collect(seeds, size=(height, width), frames=synth_frames, workers=workers)
        table = calibration_table(samples, RefilterConfig())
        out.mkdir(parents=True, exist_ok=True)
        (out / "calibration.json").write_text(json.dumps({**table, "measurements": samples}, indent=1))
    kinds = list(table["samples"])
    view = Table(
        "check (limit)", *kinds, "precision", title="share rejected per sample kind", title_justify="left"
    )
    for check in table["checks"]:
        limit = (
            ""
            if check["limit"] is None
            else f" ({'<' if check['side'] == 'min' else '>'} {check['limit']:g})"
        )
        cells = ["-" if check["rejected"][k] is None else f"{check['rejected'][k]:.2f}" for k in kinds]
        precision = "-" if check["precision"] is None else f"{check['precision']:.2f}"
        view.add_row(check["check"] + limit, *cells, precision)
    console.print(view)
    console.print(f"targets met: {table['targets_met']}; wrote {out / 'calibration.json'}")
