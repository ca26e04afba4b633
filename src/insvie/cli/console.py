"""Consoles for the CLI: rich on a terminal, unwrapped lines when piped (so logs and greps stay whole)."""

from __future__ import annotations

from rich.console import Console

_PIPED_WIDTH = 1000


def console(*, stderr: bool = False) -> Console:
    """A rich console; when not writing to a terminal, wide enough that no message or row is wrapped."""
    out = Console(stderr=stderr)
    return out if out.is_terminal else Console(stderr=stderr, width=_PIPED_WIDTH)
