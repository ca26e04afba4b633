"""``insvie convert-sat``: the released InsViE checkpoint (CogVideoX SAT layout) as a diffusers editor."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from insvie.cli.console import console as make_console
from insvie.errors import InsvieError

_STAGES = {
    "hash": "hashing checkpoint",
    "load": "loading checkpoint (weights only)",
    "convert": "converting keys, merging LoRA",
    "write": "writing transformer (safetensors)",
    "components": "reusing base components",
}


def convert_sat(
    ckpt: Annotated[
        Path,
        typer.Argument(
            help="The released checkpoint, e.g. .../1000/mp_rank_00_model_states.pt (CogVideoX SAT layout).",
            show_default=False,
        ),
    ],
    base: Annotated[
        Path,
        typer.Option(
            "--base",
            help="A diffusers CogVideoX text-to-video folder (e.g. a local THUDM/CogVideoX-2b): its "
            "transformer config is grown to 32 input channels; its VAE, text encoder and tokenizer are "
            "reused.",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path,
        typer.Option("--out", help="The editor pipeline folder to write.", show_default=False),
    ],
    dtype: Annotated[
        str,
        typer.Option(
            help="Weight dtype of the converted transformer: checkpoint (the dtype the checkpoint stores, "
            "float16 for the released file, which the official code samples in), bfloat16, float16 or "
            "float32."
        ),
    ] = "checkpoint",
    lora_alpha: Annotated[
        float,
        typer.Option(
            "--lora-alpha",
            help="LoRA alpha of the checkpoint's SAT LoRA layers; they merge as W + BA * alpha / r, with "
            "r read from the weights. The released config uses alpha 1, r 128.",
        ),
    ] = 1.0,
    components: Annotated[
        str,
        typer.Option(
            help="How the base's components are reused: hardlink (copies across filesystems), copy or "
            "symlink."
        ),
    ] = "hardlink",
    overwrite: Annotated[bool, typer.Option(help="Replace OUT if it exists and is not empty.")] = False,
) -> None:
    """Convert the released InsViE checkpoint into a diffusers editor pipeline folder.

    Loads CKPT without running code from it (torch weights_only), maps the SAT keys onto
    diffusers' CogVideoXTransformer3DModel with 32 input channels (the edit patch embedding
    proj_edit), merges SAT LoRA layers, and refuses a checkpoint with unknown or missing keys,
    listing them. OUT gets the transformer, the base's VAE, text encoder and tokenizer, the released
    sampling recipe as the model's defaults (scheduler/: the official stochastic DPM-Solver++(2M);
    guider/: text 7.5, video 1.2, cosine schedule, 50 steps), a model_index.json naming
    InsViEEditPipeline and conversion.json (source sha256, LoRA, key counts, recipe).
    Exit code 2 on any error.
    """
    from insvie.editor.sat import convert_sat_checkpoint

    console = make_console(stderr=True)
    try:
        with Progress(
            SpinnerColumn(finished_text="[green]done[/green]"),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,  # piped: no redraws, only the result lines
        ) as progress:
            tasks: dict[str, TaskID] = {}

            def report(stage: str, done: int | None, total: int | None) -> None:
                for name, task in tasks.items():  # a new stage means the earlier ones finished
                    if name != stage and not progress.tasks[task].finished:
                        progress.update(task, total=1, completed=1)
                if stage not in _STAGES:
                    return
                if stage not in tasks:
                    tasks[stage] = progress.add_task(_STAGES[stage], total=total, detail="")
                if done is not None and total:
                    detail = (
                        f"{done / 1e9:.1f}/{total / 1e9:.1f} GB" if stage == "hash" else f"{done}/{total}"
                    )
                    progress.update(tasks[stage], completed=done, total=total, detail=detail)

            convert_sat_checkpoint(
                ckpt,
                base=base,
                out=out,
                dtype=dtype,
                lora_alpha=lora_alpha,
                components=components,
                overwrite=overwrite,
                progress=report,
            )
    except InsvieError as exc:
        console.print(f"[red]error[/red] {escape(str(exc))}", soft_wrap=True, highlight=False)
        raise typer.Exit(code=2) from exc

    record = json.loads((out / "conversion.json").read_text(encoding="utf-8"))
    lora = record["lora"]
    keys = record["keys"]
    lines = [
        f"patch embedding: {record['patch_embedding']}",
        f"LoRA merged: {lora['layers']} layers, r {lora['rank']}, alpha {lora['alpha']:g}"
        if lora
        else "LoRA: none (the checkpoint holds merged weights)",
        f"keys: {keys['converted_sat_keys']} converted, {keys['ignored_sat_keys']} ignored (VAE, text "
        f"encoder, unused tables) -> {keys['diffusers_keys']} diffusers tensors ({record['dtype']}, "
        f"{record['dtype_source']})",
        "recipe: official sampler (InsViEDPMScheduler), text 7.5, video 1.2, cosine schedule, 50 steps",
    ]
    for line in lines:
        console.print(line, soft_wrap=True, highlight=False, markup=False)
    for warning in record.get("warnings", []):
        console.print(f"[yellow]warning[/yellow] {escape(warning)}", soft_wrap=True, highlight=False)
    console.print(f"wrote {out}", soft_wrap=True, highlight=False, markup=False)
