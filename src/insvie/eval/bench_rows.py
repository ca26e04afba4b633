"""What every benchmark reader shares: where a row came from, its paths kept inside the benchmark, its text.

A benchmark is somebody else's folder. Its manifest may be hand-edited, truncated or hostile, so every
reader turns a bad row into one :class:`BenchmarkError` naming the file, the line and the reason, and
every path goes through the store's guard (:func:`insvie.store.paths.resolve_inside`): a row cannot
make an evaluation read ``../../secret.mp4`` or an absolute path outside the benchmark folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from insvie.errors import InsvieError, PathEscapeError
from insvie.store.paths import resolve_inside


class BenchmarkError(InsvieError):
    """A benchmark manifest or one of its rows is unusable; the message names file, line and reason."""

    def __init__(self, file: str | Path, reason: str, *, where: str | None = None) -> None:
        self.file = str(file)
        self.where = where
        self.reason = reason
        super().__init__(f"{self.file}: {reason}" if where is None else f"{self.file}: {where}: {reason}")


@dataclass(frozen=True)
class Row:
    """One manifest row: its fields, where it sits (``line 4``, ``entry '17'``) and the folder its paths
    live in."""

    fields: dict[str, Any]
    root: Path
    manifest: Path
    where: str

    def error(self, reason: str) -> BenchmarkError:
        return BenchmarkError(self.manifest, reason, where=self.where)

    def text(self, key: str) -> str | None:
        """The stripped string under ``key``; None when absent or blank."""
        value = self.fields.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str):
            raise self.error(f"column {key!r} must be text, got {type(value).__name__}")
        return value.strip()

    def required_text(self, key: str) -> str:
        value = self.text(key)
        if value is None:
            raise self.error(f"column {key!r} is missing or empty")
        return value

    def file(self, key: str, relpath: str | None = None) -> Path:
        """The file named under ``key`` (or ``relpath``, derived from it), kept inside the benchmark folder.

        It must exist: a benchmark whose rows name missing videos fails when read, not halfway through
        an evaluation.
        """
        relpath = relpath if relpath is not None else self.required_text(key)
        try:
            path = resolve_inside(self.root, relpath)
        except PathEscapeError as exc:
            raise self.error(f"column {key!r}: {exc}") from None
        if not path.is_file():
            raise self.error(f"column {key!r}: {relpath!r} is not a file under {self.root}")
        return path

    def optional_file(self, key: str) -> Path | None:
        return None if self.text(key) is None else self.file(key)


def benchmark_root(path: Path) -> tuple[Path, Path | None]:
    """(benchmark folder, manifest file or None): a folder stands for itself, a file for its parent."""
    resolved = Path(path).resolve()
    if resolved.is_dir():
        return resolved, None
    if resolved.is_file():
        return resolved.parent, resolved
    raise BenchmarkError(path, "no such benchmark folder or manifest file")


def check_unique(ids: list[tuple[str, Row]]) -> None:
    """Refuse a benchmark where two rows share an id: scores are keyed by it."""
    seen: dict[str, Row] = {}
    for sample_id, row in ids:
        first = seen.get(sample_id)
        if first is not None:
            raise row.error(f"duplicate id {sample_id!r} (first at {first.where})")
        seen[sample_id] = row
