"""What goes wrong reading a released checkpoint, said with the keys at fault."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from insvie.errors import InsvieError

# How many key names an error lists before it only counts.
LIST_LIMIT = 8


class CheckpointError(InsvieError):
    """A checkpoint cannot be converted; ``reason`` says why and the key lists name what is at fault."""

    def __init__(
        self,
        reason: str,
        *,
        path: str | Path | None = None,
        unknown_keys: Iterable[str] = (),
        missing_keys: Iterable[str] = (),
        shape_mismatches: Iterable[str] = (),
    ):
        self.reason = reason
        self.path = None if path is None else str(path)
        self.unknown_keys = list(unknown_keys)
        self.missing_keys = list(missing_keys)
        self.shape_mismatches = list(shape_mismatches)
        super().__init__(reason if self.path is None else f"{self.path}: {reason}")

    def at(self, path: str | Path) -> CheckpointError:
        """The same error, naming the file it came from."""
        return CheckpointError(
            self.reason,
            path=path,
            unknown_keys=self.unknown_keys,
            missing_keys=self.missing_keys,
            shape_mismatches=self.shape_mismatches,
        )


def listing(keys: list[str], noun: str) -> str:
    shown = ", ".join(keys[:LIST_LIMIT])
    more = f", ... and {len(keys) - LIST_LIMIT} more" if len(keys) > LIST_LIMIT else ""
    return f"{len(keys)} {noun}{'' if len(keys) == 1 else 's'} ({shown}{more})"
