"""``insvie edit``: edit one video with the InsViE editor, following a written instruction."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from insvie.cli import editor_options as opt
from insvie.cli.console import console as make_console
from insvie.errors import InsvieError


def edit(
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="Editor folder (from `insvie convert-sat` or `insvie tiny-models`) or a cached hub id.",
        ),
    ],
    video: Annotated[Path, typer.Option("--video", "-v", help="The video to edit.", exists=False)],
    instruction: Annotated[str, typer.Option("--instruction", "-p", help="What to change, in words.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the edited mp4.")],
    steps: opt.Steps = None,
    text_guidance: opt.TextGuidance = None,
    video_guidance: opt.VideoGuidance = None,
    schedule: opt.Schedule = None,
    seed: opt.Seed = 0,
    frames: opt.Frames = None,
    fps: opt.Fps = None,
    height: opt.Height = None,
    width: opt.Width = None,
    source_latent: opt.SourceLatent = "sample",
    long_video: opt.LongVideo = "windows",
    dtype: opt.Dtype = "auto",
    device: opt.Device = "auto",
    offload: opt.Offload = False,
    sampler: opt.Sampler = "saved",
) -> None:
    """Edit VIDEO following INSTRUCTION with the InsViE editor and write the result to OUT.

    Unset sampling options come from the model folder's recipe: a folder written by `insvie
    convert-sat` carries the official one (the stochastic DPM-Solver++(2M) sampler, text 7.5, video
    1.2, the cosine DynamicCFG_edit schedule, 50 steps), so the defaults sample as the official
    `sample_video_edit.py` does. The video's own frames are edited (the largest 4k+1 count, resized to
    cover the working size and centre-cropped) and written at its own rate; a video longer than the
    model's 49 frames is edited in overlapping windows. The lines printed before the edit say where
    each setting came from.
    """
    options = locals()  # the parsed options, by name: edit_settings picks the edit's settings from them
    console = make_console(stderr=True)
    try:
        from insvie.editor.output import write_edit_video
        from insvie.editor.runner import EditorRunner, LoadOptions

        settings = opt.edit_settings(options)
        runner = EditorRunner(
            model, LoadOptions(device=device, dtype=dtype, offload=offload, sampler=sampler)
        )
        for line in runner.describe(settings):
            console.print(escape(line), highlight=False)
        columns = (TextColumn("edit"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("edit", total=None)

            def on_step(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            result = runner.edit(video, instruction, settings, on_step=on_step)
        for note in result.notes:
            console.print(escape(note), highlight=False)
        written = write_edit_video(result.frames, out, fps=result.fps)
    except (InsvieError, ValueError) as exc:  # the pipeline's argument checks raise ValueError
        console.print(f"[red]error[/red] {escape(str(exc))}")
        raise typer.Exit(code=2) from exc
    console.print(f"wrote {written}")
