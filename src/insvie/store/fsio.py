"""Durable file writes: temporary names that identify their writer, fsync, atomic rename.

A file only ever appears under its final name complete and on disk: it is written under a
temporary name, fsynced, renamed, and the rename is made durable by fsyncing the folder. Temporary
names carry the writer's pid (``tmp-<pid>-<random>``). In the dataset's ``tmp/`` area a build removes
every one of them once it holds the writer lock (no other writer can be running then; see
``insvie.store.lock``); elsewhere (exports) a name whose writer is dead marks a leftover. A whole
folder (a folder export) is written the same way: into a temporary folder beside it, then swapped in
(:func:`replace_folder`); files inside such a folder need no rename of their own, only to be on disk
before the swap (:func:`link_or_copy`, :func:`fsync_file`), and the folder is synced once.
"""

from __future__ import annotations

import ctypes
import os
import re
import secrets
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

_T = TypeVar("_T")

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


def link_or_copy(src: Path, dst: Path) -> None:
    """Give ``src``'s content the name ``dst`` (replacing a file there): a hard link where the filesystem
    allows, else a synced copy.

    A link is instant, takes no space and shares data already on disk, so only the folder holding it needs
    syncing (once, by the caller, for all of its files); a copy (another filesystem, one without links) is
    synced here. Either way the result survives the source's folder being moved or cleaned.
    """
    try:
        os.link(src, dst)
    except FileExistsError:
        os.unlink(dst)
        link_or_copy(src, dst)
    except OSError:
        shutil.copyfile(src, dst)
        fsync_file(dst)


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


def exchange_paths(first: Path, second: Path) -> bool:
    """Swap two paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported.

    With it, a reader or a crash sees either the old export or the new one under the destination's
    name, never neither; without it (other systems, some filesystems) the caller renames twice.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    return renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), rename_exchange) == 0


def sweep_dead_temps(dest: Path) -> None:
    """Remove what a killed export of ``dest`` left beside it: temporaries whose writer pid is dead.

    Only names made from ``dest``'s own (``.<name>.tmp-<pid>-<random>``) are looked at, so a shared
    folder (a home directory, ``exports/``) is never walked or emptied.
    """
    pattern = re.compile(rf"\.{re.escape(dest.name)}\.tmp-(\d+)-[0-9a-f]{{16}}")
    for entry in dest.parent.iterdir():
        match = pattern.fullmatch(entry.name)
        if not match or pid_alive(int(match.group(1))):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def replace_folder(dest: Path, write: Callable[[Path], _T]) -> _T:
    """Call ``write(folder)`` on a fresh temporary folder beside ``dest``, then swap it in for ``dest``.

    ``dest`` then holds exactly what this export wrote: files of an earlier export that this one does
    not write (a triplet rejected since, a shard fewer) are gone with the old folder. If ``write``
    fails or the process dies, ``dest`` is untouched; a killed export's temporary folder carries its
    pid and is removed by the next export of the same destination.
    """
    sweep_dead_temps(dest)
    tmp = dest.with_name(f".{dest.name}.{temp_name()}")
    try:
        tmp.mkdir()
        result = write(tmp)
        fsync_dir(tmp)
        if not dest.exists():
            os.replace(tmp, dest)
        elif not exchange_paths(tmp, dest):
            # two renames: a crash between them leaves both under temporary names (the next export sweeps
            # them) and none under dest's; renameat2 above closes that window where the system has it
            old = dest.with_name(f".{dest.name}.{temp_name()}")
            os.replace(dest, old)
            try:
                os.replace(tmp, dest)
            except OSError:
                os.replace(old, dest)
                raise
            tmp = old
        fsync_dir(dest.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the new export on failure, the old one on success
    return result
