"""Durable file writes: temporary names that identify their writer, fsync, atomic rename.

A file only ever appears under its final name complete and on disk: it is written under a
temporary name, fsynced, renamed, and the rename is made durable by fsyncing the folder. Temporary
names carry the writer's pid (``tmp-<pid>-<random>``). In the dataset's ``tmp/`` area a build removes
every one of them once it holds the writer lock (no other writer can be running then; see
``insvie.store.lock``); elsewhere (exports) a name whose writer is dead marks a leftover.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

_TEMP_PID = re.compile(r"tmp-(\d+)-[0-9a-f]{16}")


def temp_name(suffix: str = "") -> str:
    """A fresh temporary name owned by this process; ``suffix`` keeps encoders' format guessing working."""
    return f"tmp-{os.getpid()}-{secrets.token_hex(8)}{suffix}"


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable; Windows cannot open folders and orders renames itself."""
    if os.name == "nt":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_durably(tmp: Path, final: Path) -> None:
    """Move a finished temporary file to its final name so that a crash leaves either nothing or all of it."""
    fsync_file(tmp)
    os.replace(tmp, final)
    fsync_dir(final.parent)


def write_atomically(dest: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` for a hidden temporary beside ``dest``, then move it into place."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{temp_name()}")
    try:
        write(tmp)
        replace_durably(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (a zombie counts as alive until it is reaped)."""
    if os.name == "nt":  # os.kill would terminate the process there; never guess, keep its files
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def remove_temps(directory: Path) -> list[Path]:
    """Remove every temporary file under ``directory``, whoever wrote it; returns what was removed.

    Only for a folder whose writers are known to be gone (the caller holds the dataset's writer lock):
    a pid says nothing about a writer on another host, and a killed worker's pid stays "alive" while
    it is an unreaped zombie.
    """
    removed = []
    for folder, _dirs, files in os.walk(directory):
        for name in files:
            if _TEMP_PID.search(name):
                path = Path(folder, name)
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def sweep_stale_temps(directory: Path) -> list[Path]:
    """Remove temporary files under ``directory`` whose writer is dead; returns what was removed.

    Files whose name carries no writer pid are left alone: the store cannot know who owns them.
    """
    removed = []
    for folder, _dirs, files in os.walk(directory):
        for name in files:
            match = _TEMP_PID.search(name)
            if match and not pid_alive(int(match.group(1))):
                path = Path(folder, name)
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed
