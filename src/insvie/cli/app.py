"""``insvie app``: the web app (edit a video, browse and review a dataset), on loopback by default."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from insvie.cli.console import console as make_console

NO_GRADIO = (
    "insvie app needs Gradio, which is optional: pip install 'insvie[app]' "
    "(for editing also 'insvie[models]' and torch)"
)


def app(
    model: Annotated[
        str | None,
        typer.Option(
            "--model", "-m", help="Editor folder for the edit tab (convert-sat or tiny-models output)."
        ),
    ] = None,
    dataset: Annotated[
        Path | None, typer.Option("--dataset", "-d", help="A dataset folder to open in the dataset tab.")
    ] = None,
    datasets_root: Annotated[
        Path | None,
        typer.Option(
            "--datasets-root",
            help="Only datasets under this folder can be opened in the app (default: the working "
            "directory, or the --dataset folder's parent when it lies elsewhere).",
        ),
    ] = None,
    host: Annotated[
        str, typer.Option(help="Address to listen on; anything but loopback exposes the app to the network.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 7860,
    max_upload_mb: Annotated[
        float, typer.Option(min=0.1, help="Largest video a visitor may upload (MB).")
    ] = 200.0,
    max_seconds: Annotated[
        float, typer.Option(min=0.1, help="Longest video a visitor may edit (seconds).")
    ] = 30.0,
    device: Annotated[str, typer.Option(help="Where the editor runs: auto, cpu or cuda[:N].")] = "auto",
) -> None:
    """Serve the insvie web app on loopback: edit a video, browse and review a dataset.

    The edit tab: upload or pick a video, instruction, guidance, steps, seed; source and edit side by
    side; download. The dataset tab: triplets with every stage score and the rejected candidates,
    filter and sort, the acceptance funnel, accept/reject reviews that `insvie export` honours.

    It listens on 127.0.0.1 unless --host says otherwise; uploads are held to --max-upload-mb and
    --max-seconds, and only media files inside the opened dataset's media/ folder are ever served.
    """
    console = make_console(stderr=True)
    # No telemetry and no version check: set before Gradio is first imported.
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    try:
        from insvie.app.server import AppSettings, launch
    except ModuleNotFoundError as exc:
        if exc.name is None or not exc.name.startswith("gradio"):
            raise
        console.print(f"[red]error[/red] {escape(NO_GRADIO)}")
        raise typer.Exit(code=2) from exc
    from insvie.app.limits import UploadLimits

    if dataset is not None and not (dataset / "insvie.db").is_file():
        console.print(f"[red]error[/red] {dataset}: no insvie.db here; run `insvie build` first")
        raise typer.Exit(code=2)
    settings = AppSettings(
        model=model,
        dataset=dataset,
        datasets_root=datasets_root,
        host=host,
        port=port,
        limits=UploadLimits(max_upload_mb, max_seconds),
        device=device,
    )
    launch(settings)
