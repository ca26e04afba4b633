"""``insvie synth``: write a SynthEdit dataset (source, edited, mask videos and JSONL records)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from insvie.cli.console import console as make_console
from insvie.errors import InsvieError


def _parse_size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match:
        raise typer.BadParameter(f"{text!r} is not HEIGHTxWIDTH, e.g. 240x360")
    height, width = int(match.group(1)), int(match.group(2))
    if height < 16 or width < 16:
        raise typer.BadParameter(f"{text!r}: both sides must be at least 16 pixels")
    return height, width


def synth(
    out: Annotated[Path, typer.Argument(help="Folder to write into (created; an existing run is resumed).")],
    n: Annotated[int, typer.Option("--n", min=1, help="Number of samples.")] = 16,
    seed: Annotated[int, typer.Option(help="Base seed; sample i uses a seed derived from (seed, i).")] = 0,
    size: Annotated[str, typer.Option(help="Frame size as HEIGHTxWIDTH.")] = "240x360",
    frames: Annotated[int, typer.Option(min=1, help="Frames per video (4k+1 suits the editor).")] = 17,
    fps: Annotated[float, typer.Option(min=1.0, help="Frames per second of the written videos.")] = 8.0,
    broken_fraction: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Share of samples whose edited video is deliberately broken (flicker, drift, "
            "first-frames-only, motion mismatch, wrong attribute, blur, blocking), labelled in the records.",
        ),
    ] = 0.0,
    lossless: Annotated[bool, typer.Option(help="Write source and edited videos losslessly.")] = False,
) -> None:
    """Generate SynthEdit samples: procedural scenes with a ground-truth edit and edit mask.

    Each sample is a source video, the same scene re-rendered with an edit applied ("make the red circle
    blue", "remove the green square", "give it a sepia look", ...), a lossless mask video of the changed
    pixels, and one line in OUT/records.jsonl with the instruction, captions and scene description.
    Samples already written are skipped, so an interrupted run continues where it stopped.
    """
    from insvie.synth import write_synth_dataset

    height, width = _parse_size(size)
    console = make_console(stderr=True)
    columns = (TextColumn("synth"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("synth", total=n)
        try:
            records = write_synth_dataset(
                out,
                n,
                seed,
                size=(height, width),
                num_frames=frames,
                fps=fps,
                broken_fraction=broken_fraction,
                lossless=lossless,
                on_sample=lambda _record: progress.advance(task),
            )
        except InsvieError as exc:
            console.print(f"[red]error[/red] {exc}")
            raise typer.Exit(code=2) from exc
    broken = sum(1 for record in records if record.get("broken"))
    records_path = out / "records.jsonl"
    console.print(f"wrote {len(records)} samples ({broken} broken) to {out} (records: {records_path})")
