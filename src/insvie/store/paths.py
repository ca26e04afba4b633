"""The one place where a path stored in a dataset becomes a file on disk.

Paths in the database, in exports and in provenance are relative to the dataset directory so that
a dataset can be moved or copied as a whole. Everything that turns such a path into a file goes
through :func:`resolve_inside`, so a hostile or corrupt row (``../../etc/passwd``, an absolute path,
a symlink planted inside the directory) can never make insvie read or write outside it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

from insvie.errors import PathEscapeError

_DRIVE = re.compile(r"^[A-Za-z]:")


def check_relpath(relpath: str) -> str:
    """Return ``relpath`` in its canonical stored form, or raise PathEscapeError saying why not.

    The checks are lexical, so they hold whatever the disk looks like: backslashes and drive
    letters are refused outright rather than interpreted, since a path that means one thing on
    POSIX and another on Windows is exactly what an escape exploits.
    """
    if not isinstance(relpath, str):
        raise PathEscapeError(f"{relpath!r}: a stored path must be a str, got {type(relpath).__name__}")
    if "\x00" in relpath:
        raise PathEscapeError(f"{relpath!r}: path contains a NUL byte")
    if "\\" in relpath:
        raise PathEscapeError(f"{relpath!r}: path contains a backslash; stored paths use '/'")
    if _DRIVE.match(relpath):
        raise PathEscapeError(f"{relpath!r}: path starts with a drive letter")
    if relpath.startswith("/"):
        raise PathEscapeError(f"{relpath!r}: path is absolute; stored paths are relative to the dataset")
    parts = PurePosixPath(relpath).parts
    if ".." in parts:
        raise PathEscapeError(f"{relpath!r}: path contains '..'")
    if not parts:
        raise PathEscapeError(f"{relpath!r}: path is empty")
    return "/".join(parts)


def resolve_inside(root: Path, relpath: str) -> Path:
    """Map a stored path to a file under ``root`` (which must already be absolute and resolved).

    Besides the lexical checks, the target is resolved through any symlinks that exist on disk and
    must still lie under ``root``; the returned path is the unresolved one, so callers see the
    layout they asked for.
    """
    canonical = check_relpath(relpath)
    target = root.joinpath(*canonical.split("/"))
    real = Path(os.path.realpath(target))
    if real != root and root not in real.parents:
        raise PathEscapeError(f"{relpath!r}: resolves to {real}, outside the dataset {root}")
    return target
