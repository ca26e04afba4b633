"""One writer per dataset: an advisory lock a build holds from start to end.

Two builds on one folder would both run every item and both charge its attempts. The lock is an
``flock`` on ``<root>/writer.lock``: the kernel releases it when its holder exits in any way, SIGKILL
included, so a crashed build never leaves the dataset locked. The holder writes who it is (pid, host,
start time, command) into the file, so a refused second writer can name it. Readers (``status``,
``export``, ``eval --dataset``, the app) never take it.

Holding the lock also tells the store that no other writer's files are in flight: every temporary
file in ``tmp/`` then belongs to a dead writer and is removed, whatever its pid says (a killed
worker can linger as a zombie whose pid still looks alive).
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from insvie.errors import StoreError

LOCK_NAME = "writer.lock"


class DatasetBusy(StoreError):
    """Another process is writing to the dataset; the message names it."""


def _describe(holder: dict[str, Any]) -> str:
    started = holder.get("started")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)) if isinstance(started, float) else "?"
    return (
        f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}, running {holder.get('command', '?')!r} "
        f"since {when}"
    )


class WriterLock:
    """The dataset's writer lock; use as a context manager around a whole build."""

    def __init__(self, root: Path, command: str) -> None:
        self.path = root / LOCK_NAME
        self.command = command
        self._fd: int | None = None

    def holder(self) -> dict[str, Any] | None:
        """Who holds (or last held) the lock, as its holder wrote it."""
        try:
            text = self.path.read_text(encoding="utf-8")
            return json.loads(text) if text.strip() else None
        except (OSError, ValueError):
            return None

    def acquire(self) -> None:
        """Take the lock or raise :class:`DatasetBusy` naming its holder, at once (never waits)."""
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = self.holder()
            who = _describe(holder) if holder else "another process (it has not written its name yet)"
            raise DatasetBusy(
                f"{self.path.parent}: another build is writing to this dataset ({who}); a dataset has "
                "one writer at a time: wait for it to finish or stop it (status, export, eval and the "
                "app keep working meanwhile)"
            ) from None
        me = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.time(),
            "command": self.command,
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        import fcntl

        os.ftruncate(self._fd, 0)  # no stale name left for the next refused writer to quote
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
