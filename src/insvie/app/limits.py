"""Upload limits: a shared app must not let one visitor fill the disk or tie the editor up for hours."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from insvie.errors import InsvieError, MediaError
from insvie.media import VideoInfo, probe

DEFAULT_MAX_UPLOAD_MB = 200.0
DEFAULT_MAX_SECONDS = 30.0


class UploadRejected(InsvieError):
    """An uploaded video the app refuses; the message is shown to the visitor as it is."""


@dataclass(frozen=True)
class UploadLimits:
    """How large (MB) and how long (seconds) an uploaded video may be."""

    max_mb: float = DEFAULT_MAX_UPLOAD_MB
    max_seconds: float = DEFAULT_MAX_SECONDS

    def __post_init__(self) -> None:
        if self.max_mb <= 0 or self.max_seconds <= 0:
            raise ValueError(f"upload limits must be positive, got {self.max_mb} MB and {self.max_seconds} s")

    @property
    def max_bytes(self) -> int:
        return int(self.max_mb * 1024 * 1024)


def check_upload(path: str | Path, limits: UploadLimits) -> VideoInfo:
    """The video's properties if within ``limits``; else UploadRejected naming the limit and how to raise it.

    The size is checked before the file is opened, so an oversized file is never decoded; the
    duration comes from the container (no frame is decoded past the first).
    """
    path = Path(path)
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise UploadRejected(
            f"the video is {size / 1024 / 1024:.1f} MB; this app accepts at most {limits.max_mb:g} MB "
            "(start it with a larger --max-upload-mb to allow more)"
        )
    try:
        info = probe(path)
    except MediaError as exc:
        raise UploadRejected(f"not a video this app can read: {exc.reason}") from exc
    if info.duration > limits.max_seconds:
        raise UploadRejected(
            f"the video is {info.duration:.1f} s long; this app edits at most {limits.max_seconds:g} s "
            "(trim it, or start the app with a larger --max-seconds)"
        )
    return info
