"""``insvie edit``: edit one video with the InsViE editor, following a written instruction."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from insvie.cli.console import console as make_console
from insvie.errors import InsvieError

_MISSING_MODEL = (
    "cannot load the editor {model!r} ({reason}). Pass a local folder: one written by "
    "`insvie convert-sat CKPT --base T2V_DIR --out DIR` (the released InsViE weights) or by "
    "`insvie tiny-models DEST` (DEST/editor, for a smoke run); a hub id works only when it is already in "
    "the local Hugging Face cache, since this machine may have no network."
)


def _load(model: str, dtype: str, device: str, offload: bool):
    import torch

    from insvie.editor import InsViEEditPipeline

    torch_dtype = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[dtype]
    try:
        pipe = InsViEEditPipeline.from_pretrained(model, dtype=torch_dtype)
    except (OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InsvieError(_MISSING_MODEL.format(model=model, reason=reason)) from exc
    pipe.set_progress_bar_config(disable=True)  # the CLI draws its own bar
    if offload:
        pipe.enable_model_cpu_offload()
        pipe.vae.enable_tiling()
    else:
        pipe.to(
            "cuda"
            if device == "auto" and torch.cuda.is_available()
            else "cpu"
            if device == "auto"
            else device
        )
    return pipe


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
    steps: Annotated[int, typer.Option(min=1, help="Denoising steps.")] = 50,
    text_guidance: Annotated[float, typer.Option(min=0.0, help="Text guidance scale.")] = 7.5,
    video_guidance: Annotated[float, typer.Option(min=0.0, help="Source-video guidance scale.")] = 1.2,
    schedule: Annotated[
        Literal["constant", "cosine"],
        typer.Option(help="Guidance over the steps (cosine: the original's ramp)."),
    ] = "constant",
    seed: Annotated[int, typer.Option(help="Noise seed; the same seed gives the same edit.")] = 0,
    frames: Annotated[
        int | None, typer.Option(min=1, help="Frames to edit (cut to 4k+1; default the model's).")
    ] = None,
    height: Annotated[int | None, typer.Option(min=16, help="Working height (default the model's).")] = None,
    width: Annotated[int | None, typer.Option(min=16, help="Working width (default the model's).")] = None,
    fps: Annotated[float, typer.Option(min=1.0, help="Frame rate the video is read and written at.")] = 8.0,
    dtype: Annotated[
        Literal["float32", "float16", "bfloat16"], typer.Option(help="Weights' precision.")
    ] = "bfloat16",
    device: Annotated[str, typer.Option(help="auto, cpu or cuda[:N].")] = "auto",
    offload: Annotated[
        bool, typer.Option(help="Keep idle parts on the CPU and tile the VAE (small GPUs).")
    ] = False,
) -> None:
    """Edit VIDEO following INSTRUCTION with the InsViE editor and write the result to OUT.

    The video is read at FPS, resized to cover the working size and centre-cropped, and cut to 4k+1
    frames (CogVideoX's constraint); guidance combines the unconditional, video-only and video+text
    predictions in one batched forward per step. The paper's settings are the defaults (50 steps,
    text 7.5, video 1.2); `--schedule cosine` follows the original code's ramp.
    """
    console = make_console(stderr=True)
    try:
        from insvie.editor import write_edit_video
        from insvie.media import largest_valid_length, read_frames

        source = read_frames(video, fps=fps)
        if frames is not None:
            frames = largest_valid_length(min(frames, len(source)))  # CogVideoX edits 4k+1 frames
        pipe = _load(model, dtype, device, offload)
        columns = (TextColumn("edit"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("edit", total=steps)

            def on_step(_pipe, _step, _timestep, kwargs):
                progress.advance(task)
                return kwargs

            import torch

            result = pipe(
                source,
                instruction,
                num_frames=frames,
                height=height,
                width=width,
                num_inference_steps=steps,
                guidance_scale=text_guidance,
                video_guidance_scale=video_guidance,
                guidance_schedule=schedule,
                generator=torch.Generator("cpu").manual_seed(seed),
                callback_on_step_end=on_step,
            )
        written = write_edit_video(result.frames[0], out, fps=fps)
    except (InsvieError, ValueError) as exc:  # the pipeline's argument checks raise ValueError
        console.print(f"[red]error[/red] {exc}")
        raise typer.Exit(code=2) from exc
    console.print(f"wrote {written}")
