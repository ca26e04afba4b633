"""What a video file holds, read from container metadata rather than by decoding it.

Only the first frame is decoded: FFmpeg hands the display matrix (rotation) to PyAV through decoded
frames, and decoding one frame also proves the codec is usable. Timestamps for the variable-frame-rate
check come from the container's sample index where it lists every frame (mp4, mov); otherwise the
packets are demuxed, without decoding, which also counts frames the container does not declare (mkv).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.container import InputContainer
from av.video.stream import VideoStream

from insvie.errors import EmptyVideoError
from insvie.media.container import av_errors, open_video
from insvie.media.orientation import Orientation
from insvie.media.timing import is_variable_rate


@dataclass(frozen=True)
class VideoInfo:
    """A video's properties; ``width``/``height`` are as displayed, i.e. after rotation.

    ``rotation`` is counter-clockwise degrees as ffprobe reports it (-90 for a typical portrait phone
    clip); ``fps`` is the average rate, and ``variable_fps`` says whether frame spacing varies.
    """

    codec: str
    width: int
    height: int
    rotation: int
    fps: float
    variable_fps: bool
    num_frames: int
    duration: float
    pix_fmt: str
    bit_depth: int
    has_audio: bool

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        return asdict(self)


def _scan(
    container: InputContainer, stream: VideoStream, want_timestamps: bool
) -> tuple[av.VideoFrame | None, list[int], int]:
    """Decode the first frame and, if wanted, gather every packet's timestamp in the same pass."""
    first: av.VideoFrame | None = None
    timestamps: list[int] = []
    packets = 0
    for packet in container.demux(stream):
        if first is None:
            decoded = stream.decode(packet)
            first = decoded[0] if decoded else None
        if packet.size:
            packets += 1
            stamp = packet.pts if packet.pts is not None else packet.dts
            if stamp is not None:
                timestamps.append(stamp)
        if first is not None and not want_timestamps:
            break
    return first, timestamps, packets


def _duration(container: InputContainer, stream: VideoStream, timestamps: list[int], frames: int) -> Fraction:
    if stream.duration:
        return stream.duration * stream.time_base
    if container.duration:
        return Fraction(container.duration, av.time_base)
    if len(timestamps) > 1:
        span = (max(timestamps) - min(timestamps)) * stream.time_base
        return span * frames / (frames - 1)  # add the last frame's share
    return Fraction(0)


def probe(path: str | Path) -> VideoInfo:
    """Describe the video at ``path`` without decoding more than its first frame."""
    with open_video(path) as (container, stream), av_errors(path, "probing"):
        indexed = is_indexed(stream)
        first, timestamps, packets = _scan(container, stream, want_timestamps=not indexed)
        if first is None:
            raise EmptyVideoError(path, "no decodable frames")
        return describe(container, stream, first, None if indexed else (timestamps, packets))


def is_indexed(stream: VideoStream) -> bool:
    """Whether the container's sample index lists every frame (mp4, mov): then :func:`describe` needs
    nothing but the first frame."""
    return bool(stream.frames) and len(stream.index_entries) == stream.frames


def describe(
    container: InputContainer,
    stream: VideoStream,
    first: av.VideoFrame,
    scanned: tuple[list[int], int] | None = None,
) -> VideoInfo:
    """What :func:`probe` says of an open video, from its first decoded frame and, for a stream that
    is not :func:`is_indexed`, every packet's timestamp and the packet count (``scanned``)."""
    if scanned is None:
        timestamps, frames = [entry.timestamp for entry in stream.index_entries], stream.frames
    else:
        timestamps, frames = scanned[0], stream.frames or scanned[1]
    duration = _duration(container, stream, timestamps, frames)
    rate = stream.average_rate or stream.guessed_rate or (frames / duration if duration else 0)
    orientation = Orientation.of(stream, first)
    width, height = orientation.display_size(first.width, first.height)
    return VideoInfo(
        codec=stream.codec_context.name,
        width=width,
        height=height,
        rotation=orientation.rotation,
        fps=float(rate),
        variable_fps=is_variable_rate(timestamps),
        num_frames=frames,
        duration=float(duration),
        pix_fmt=first.format.name,
        bit_depth=first.format.components[0].bits,
        has_audio=bool(container.streams.audio),
    )
