"""Error types of insvie.

Every failure a user can cause (a bad file, a bad path, a bad config) surfaces as one of these,
naming the thing at fault and the reason, so that a pipeline can record it against the item and
move on instead of dying on a library traceback.
"""

from __future__ import annotations

from pathlib import Path


class InsvieError(Exception):
    """Base class of every error insvie raises on purpose."""


class MediaError(InsvieError):
    """A media file could not be used; ``path`` names it and ``reason`` says why."""

    kind = "media"

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class NotAVideoError(MediaError):
    kind = "not-a-video"


class TruncatedMediaError(MediaError):
    kind = "truncated"


class UnsupportedCodecError(MediaError):
    kind = "unsupported-codec"


class EmptyVideoError(MediaError):
    kind = "zero-frames"


class MediaTooLargeError(MediaError):
    kind = "too-large"


class ImageError(MediaError):
    kind = "bad-image"


class StoreError(InsvieError):
    """The dataset directory or its database is unusable."""


class PathEscapeError(StoreError):
    """A path would leave the dataset directory."""


class SchemaError(StoreError):
    """The database was written by an incompatible version of insvie."""


class ConfigError(InsvieError):
    """A configuration value is missing or not allowed."""
