"""``insvie convert-sat``: the released InsViE checkpoint (CogVideoX SAT layout) as a diffusers editor."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

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
            "transformer config is grown to 32 input channels; its VAE, text encoder, tokenizer and "
            "scheduler are reused.",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path,
        typer.Option("--out", help="The editor pipeline folder to write.", show_default=False),
    ],
    dtype: Annotated[
        str, typer.Option(help="Weight dtype of the converted transformer: bfloat16, float16 or float32.")
    ] = "bfloat16",
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

    Loads CKPT without running any code from it (torch weights_only), maps the SAT keys onto diffusers'
    CogVideoXTransformer3DModel with 32 input channels (the edit patch embedding proj_edit), merges SAT
    LoRA layers, and refuses a checkpoint with unknown or missing keys, listing them. OUT gets the
    transformer, the base's other components, a model_index.json naming InsViEEditPipeline and
    conversion.json (source sha256, LoRA, key counts). Exit code 2 on any error.
    """
    from insvie.editor.convert_sat import convert_sat_checkpoint

    console = make_console(stderr=True)
    try:
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            tasks: dict[str, int] = {}
            current: list[str] = []

            def report(stage: str, done: int | None, total: int | None) -> None:
                if current and current[-1] != stage:
                    finished = tasks[current[-1]]
                    progress.update(finished, completed=progress.tasks[finished].total or 1, total=None)
                    progress.stop_task(finished)
                if stage not in _STAGES:
                    return
                if stage not in tasks:
                    tasks[stage] = progress.add_task(_STAGES[stage], total=total)
                    current.append(stage)
                if done is not None:
                    progress.update(tasks[stage], completed=done, total=total)

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
        console.print(f"[red]error[/red] {exc}", soft_wrap=True, highlight=False, markup=True)
        raise typer.Exit(code=2) from exc

    record = json.loads((out / "conversion.json").read_text(encoding="utf-8"))
    lora = record["lora"]
    merged = (
        f"LoRA merged: {lora['layers']} layers, r {lora['rank']}, alpha {lora['alpha']:g}"
        if lora
        else "LoRA: none (merged weights)"
    )
    keys = record["keys"]
    console.print(f"patch embedding: {record['patch_embedding']}")
    console.print(merged)
    console.print(
        f"keys: {keys['converted_sat_keys']} converted, {keys['ignored_sat_keys']} ignored "
        f"(VAE, text encoder, unused tables) -> {keys['diffusers_keys']} diffusers tensors "
        f"({record['dtype']})"
    )
    for warning in record.get("warnings", []):
        console.print(f"[yellow]warning[/yellow] {warning}", soft_wrap=True)
    console.print(f"wrote {out}", soft_wrap=True, highlight=False)
