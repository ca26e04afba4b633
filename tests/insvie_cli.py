"""The ``insvie`` command as a user runs it: a fresh process, offline, in a known environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# Offline (no hub), one torch thread per process (the suite runs one worker per core), and a console wide
# enough that rich never wraps a message a test looks for.
CLEAN_ENV = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "COLUMNS": "250", "OMP_NUM_THREADS": "1"}


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """``python -m insvie ARGS`` in :data:`CLEAN_ENV` plus ``env``."""
    return _run(args, cwd, {**CLEAN_ENV, **(env or {})}, timeout)


def run_cli_inheriting(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """``python -m insvie ARGS`` in this process's environment (offline) plus ``env``: for commands that
    need what the test runner was given (a temp dir, the Ray settings)."""
    return _run(args, cwd, {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}, timeout)


def _run(
    args: tuple[str, ...], cwd: Path | None, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "insvie", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env=env,
    )


def invoke_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``insvie ARGS`` in this process (typer's runner on the app ``python -m insvie`` runs), in this
    process's environment (offline) plus ``env``, returned as :func:`run_cli` returns a fresh process's
    run: the same code from argv on, without an interpreter's start and imports.

    An exception that escapes the command is put in ``stderr`` as the traceback a process would print
    (exit status 1), so checks for a clean, one-line error see it.
    """
    import traceback

    from typer.testing import CliRunner

    from insvie.cli.main import app

    result = CliRunner().invoke(app, list(args), env={"HF_HUB_OFFLINE": "1", **(env or {})})
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    return subprocess.CompletedProcess(
        ["insvie", *args], result.exit_code, stdout=result.stdout, stderr=stderr
    )
