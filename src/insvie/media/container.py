"""Opening a video with PyAV, turning every way that can fail into an insvie error.

FFmpeg happily "opens" things that are not videos: a .txt file becomes an ANSI-art video stream, a
PNG or JPEG a one-frame video, an mp3 with cover art a video stream holding the cover. Those are
refused here so that every reader and probe agrees on what a video is.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import av
from av.container import InputContainer
from av.video.stream import VideoStream

from insvie.errors import MediaError, NotAVideoError, TruncatedMediaError, UnsupportedCodecError
from insvie.media.integrity import check_not_truncated

# Demuxers that present something other than a moving picture as a video stream.
_NOT_VIDEO_FORMATS = {"tty": "a text file", "image2": "a still image", "image2pipe": "a still image"}


def _reason(exc: BaseException) -> str:
    """FFmpeg's message without the file name PyAV appends (MediaError names the file itself)."""
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _not_video_reason(container: InputContainer) -> str | None:
    name = container.format.name
    if name in _NOT_VIDEO_FORMATS:
        return f"{_NOT_VIDEO_FORMATS[name]} ({name}), not a video"
    if name.endswith("_pipe"):
        return f"a still image ({name.removesuffix('_pipe')}), not a video"
    return None


def _video_stream(path: Path, container: InputContainer) -> VideoStream:
    streams = [
        stream
        for stream in container.streams.video
        if not stream.disposition & av.stream.Disposition.attached_pic
    ]
    if not streams:
        parts = sorted({stream.type for stream in container.streams if stream.type != "video"})
        parts += ["cover art"] if container.streams.video else []
        raise NotAVideoError(path, f"no video stream (only {' and '.join(parts)})" if parts else "no streams")
    stream = streams[0]
    if stream.codec_context is None:
        raise UnsupportedCodecError(path, "no decoder for its video codec in this FFmpeg build")
    return stream


def _stat(path: Path) -> os.stat_result:
    """``os.stat`` of ``path``, its failure named for the user.

    ``Path.exists`` answers False for a symlink loop and raises on other refusals (a name too long),
    so a loop read as "no such file" and the rest escaped as tracebacks; the errno tells them apart.
    """
    try:
        return path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise MediaError(path, "symlink loop") from exc
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise MediaError(path, "no such file") from exc
        raise MediaError(path, f"cannot read: {_reason(exc)}") from exc


@contextmanager
def open_video(path: str | Path) -> Iterator[tuple[InputContainer, VideoStream]]:
    """Open ``path`` and yield (container, its first real video stream); closes it afterwards."""
    path = Path(path)
    info = _stat(path)
    if stat.S_ISDIR(info.st_mode):
        raise MediaError(path, "is a directory, not a video file")
    try:
        if info.st_size == 0:
            raise NotAVideoError(path, "empty file (0 bytes)")
        check_not_truncated(path)
        container = av.open(str(path))
    except av.error.EOFError as exc:
        raise TruncatedMediaError(path, f"file ends before its header is complete ({_reason(exc)})") from exc
    except av.error.InvalidDataError as exc:
        raise NotAVideoError(path, f"not a recognisable video container ({_reason(exc)})") from exc
    except (av.error.FFmpegError, OSError) as exc:
        raise MediaError(path, f"cannot open: {_reason(exc)}") from exc
    with container:
        reason = _not_video_reason(container)
        if reason:
            raise NotAVideoError(path, reason)
        yield container, _video_stream(path, container)


@contextmanager
def av_errors(path: str | Path, doing: str) -> Iterator[None]:
    """Report FFmpeg failures while ``doing`` something with ``path`` as errors naming the file."""
    try:
        yield
    except av.error.FFmpegError as exc:
        raise MediaError(path, f"{doing} failed: {_reason(exc)}") from exc
