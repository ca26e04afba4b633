"""``insvie train``: train the editor stage by stage; ``insvie train cache``: encode a stage's data once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from insvie.cli.console import console as make_console
from insvie.errors import InsvieError

app = typer.Typer(
    invoke_without_command=True,
    no_args_is_help=True,
)


@app.callback()
def train(
    ctx: typer.Context,
    config: Annotated[
        list[Path] | None,
        typer.Option("--config", "-c", help="A stage config (YAML); give several to run them in order."),
    ] = None,
) -> None:
    """Train one stage, or several in order, each starting from the weights the one before it wrote.

    A stage config names its start (`model`: an editor folder, or `init_from`: the previous stage's
    output_dir), its data (`data.manifest`: a Parquet manifest from `insvie export`, an InsViE folder
    or a SynthEdit folder, with `data.filters`), LoRA or full fine-tuning, and the optimisation. A run
    that stops resumes exactly (optimizer, scheduler, RNG, data position) when started again. The stage
    configs of the InsViE curriculum are in configs/train/. For several GPUs, run `accelerate launch
    --config_file configs/accelerate/ddp.yaml -m insvie train -c STAGE.yaml` (fsdp2.yaml shards the
    weights for full fine-tuning); docs/train.md has the details.
    """
    if ctx.invoked_subcommand is not None:
        return
    console = make_console(stderr=True)
    if not config:
        raise typer.BadParameter("give at least one --config", param_hint="--config")
    try:
        from insvie.train.run import run_stages

        for final in run_stages(config):
            console.print(f"trained: {final}")
    except InsvieError as exc:
        console.print(f"[red]error[/red] {exc}")
        raise typer.Exit(code=2) from exc


@app.command("cache")
def cache(
    config: Annotated[Path, typer.Option("--config", "-c", help="The stage config whose data to encode.")],
) -> None:
    """Encode a stage's training data once into data.cache_dir: VAE latents and T5 prompt embeddings.

    Entries are keyed by content and config, so re-running skips what is cached; training then reads
    the cache instead of decoding and encoding videos at every step. Can run on other machines than
    the training itself.
    """
    console = make_console(stderr=True)
    try:
        from insvie.train.config import load_train_config
        from insvie.train.run import build_cache

        report = build_cache(load_train_config(config))
    except InsvieError as exc:
        console.print(f"[red]error[/red] {exc}")
        raise typer.Exit(code=2) from exc
    console.print(f"cache: {report.computed} encoded, {report.skipped} already there ({report.index})")
