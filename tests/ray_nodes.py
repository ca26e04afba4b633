"""Ray nodes started as a user starts them (``ray start``), and stopped exactly.

Nothing here uses ``ray stop``: it stops every Ray process of the user on the machine (another test's
cluster, a colleague's). ``RayNodes`` stops exactly the processes of the nodes it started: those in the
sessions its ``ray start`` calls opened, their descendants, and anything naming its temp dir.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

# Token authentication off for throwaway loopback clusters: nodes and driver need no shared token.
RAY_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("", 0))  # free on every interface: Ray's servers listen on all of them
        return probe.getsockname()[1]


class StartFailed(Exception):
    """A ``ray start`` that exited with an error (its output is the message)."""


class RayNodes:
    """Ray nodes started with ``ray start``, each in a session of its own so they can be stopped exactly
    (and their temp dirs removed)."""

    def __init__(self, root: Path | None = None) -> None:
        # A short temp dir: Ray's unix sockets live under it, and their paths are limited to 107 bytes.
        self.root = root or Path(tempfile.mkdtemp(prefix="insvie-ray-", dir="/tmp"))
        self.sessions: list[int] = []
        self.ray = str(Path(sys.executable).with_name("ray"))

    def start(self, args: list[str], env: dict[str, str] | None = None) -> None:
        """Run ``ray start ARGS`` in a session of its own, with the environment plus RAY_ENV and ENV."""
        env = {**os.environ, **RAY_ENV, **(env or {})}
        proc = subprocess.Popen(
            [self.ray, "start", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.sessions.append(proc.pid)  # the session id of every daemon it starts
        output, _ = proc.communicate(timeout=120)
        if proc.returncode != 0:
            raise StartFailed(f"ray start {' '.join(args)} failed:\n{output}")

    def stop(self) -> None:
        import psutil

        ours: dict[int, psutil.Process] = {}
        for proc in psutil.process_iter():
            try:
                mine = os.getsid(proc.pid) in self.sessions or str(self.root) in " ".join(proc.cmdline())
                if mine:
                    ours[proc.pid] = proc
                    ours.update((child.pid, child) for child in proc.children(recursive=True))
            except (psutil.Error, OSError):
                continue
        ours.pop(os.getpid(), None)
        for proc in ours.values():
            with contextlib.suppress(psutil.Error):
                proc.send_signal(signal.SIGKILL)
        psutil.wait_procs(list(ours.values()), timeout=15)
        shutil.rmtree(self.root, ignore_errors=True)
