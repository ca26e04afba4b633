"""``insvie probe``: what is in a video file, read from container metadata first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from insvie.cli.console import console as make_console
from insvie.errors import MediaError

_COLUMNS = [
    ("codec", "codec"),
    ("size", "size"),
    ("rot", "rotation"),
    ("fps", "fps"),
    ("vfr", "variable_fps"),
    ("frames", "num_frames"),
    ("seconds", "duration"),
    ("pixels", "pix_fmt"),
    ("bits", "bit_depth"),
    ("audio", "has_audio"),
]


def _cell(info: dict, key: str) -> str:
    if key == "size":
        return f"{info['width']}x{info['height']}"
    value = info.get(key)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return str(value)


def _failure(exc: Exception) -> tuple[str, str]:
    """The error kind and reason to report for a file that could not be probed.

    Media errors carry both; anything else (an OS refusal or a library fault the media layer did not
    foresee) is still reported against its file, so the promise that every other file is probed holds.
    """
    if isinstance(exc, MediaError):
        return exc.kind, exc.reason
    if isinstance(exc, OSError):
        return "unreadable", exc.strerror or str(exc) or type(exc).__name__
    return "error", f"{type(exc).__name__}: {exc}"


def probe(
    videos: Annotated[list[Path], typer.Argument(help="One or more video files.", show_default=False)],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object per file (JSON Lines).")
    ] = False,
) -> None:
    """Show codec, size (after rotation), fps, frame count, duration, pixel format and audio of videos.

    Reads container metadata and decodes only when the container does not say how many frames it has.
    A file that cannot be read is reported with the reason; the others are still probed, and the exit
    code is 1 if any failed.
    """
    from insvie.media import probe as probe_video

    err = make_console(stderr=True)
    table = Table(title_justify="left")
    # File names are the point of the table: fold them rather than truncate them on narrow terminals.
    table.add_column("file", overflow="fold")
    for label, _ in _COLUMNS:
        table.add_column(label)
    failed = 0
    for path in videos:
        try:
            info = probe_video(path).to_dict()
        except Exception as exc:  # one bad file must not end the others' probe
            failed += 1
            kind, reason = _failure(exc)
            if as_json:
                typer.echo(json.dumps({"path": str(path), "error": kind, "reason": reason}))
            else:
                err.print(f"[red]error[/red] {escape(str(path))}: {escape(reason)}")
            continue
        if as_json:
            typer.echo(json.dumps({"path": str(path), **info}))
        else:
            table.add_row(str(path), *(_cell(info, key) for _, key in _COLUMNS))
    if not as_json and table.row_count:
        make_console().print(table)
    if failed:
        raise typer.Exit(code=1)
