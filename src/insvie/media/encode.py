"""Writing frames to H.264 mp4.

Delivered videos use yuv420p, the format every player and every training loader reads; yuv420p needs
even sides, so odd frames are padded by edge replication rather than resized (no resampling blur).
Intermediate results use lossless RGB H.264 (``libx264rgb`` at qp 0): bit-exact, still an .mp4.

x264 runs without its macroblock tree, which made repeated encodes of the same frames differ by up to
~40 levels; it is then byte-identical run to run for a given thread count. Its default thread count
follows the CPUs the process may use, so a caller that stores files by content (the same file from a
laptop and from a Ray worker) passes ``threads``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import av
import numpy as np

from insvie.errors import MediaError
from insvie.media.container import av_errors
from insvie.media.timing import as_rate


def even_pad(frame: np.ndarray) -> np.ndarray:
    """An HxW(xC) frame with odd sides extended by one replicated row or column (yuv420p's need)."""
    height, width = frame.shape[:2]
    pad_h, pad_w = height % 2, width % 2
    if not (pad_h or pad_w):
        return frame
    return np.pad(frame, ((0, pad_h), (0, pad_w)) + ((0, 0),) * (frame.ndim - 2), mode="edge")


def _as_rgb(frame: np.ndarray, path: Path) -> np.ndarray:
    if frame.dtype != np.uint8:
        raise MediaError(path, f"frames must be uint8, got {frame.dtype}")
    if frame.ndim == 2:
        frame = np.repeat(frame[:, :, None], 3, axis=2)
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise MediaError(path, f"frames must be HxWx3 RGB, got shape {frame.shape}")
    return np.ascontiguousarray(frame)


def write_video(
    path: str | Path,
    frames: Iterable[np.ndarray],
    fps: float,
    *,
    lossless: bool = False,
    crf: int = 18,
    preset: str = "veryfast",
    threads: int | None = None,
) -> Path:
    """Encode RGB uint8 frames (HxWx3, or HxW grey) to an mp4 at ``path``; returns the path.

    The file is written under a temporary name in the same folder and renamed when complete, so a
    crash never leaves a half-written video under the final name. Lossless output keeps odd sizes;
    lossy yuv420p output pads odd sides by one replicated row or column. ``threads`` fixes x264's
    thread count (default: by CPU count). A non-positive ``fps`` is a ValueError; bad frames and
    FFmpeg failures (a bad preset, a full disk) are MediaError.
    """
    path = Path(path)

    def video_frames() -> Iterator[av.VideoFrame]:
        for frame in frames:
            rgb = _as_rgb(np.asarray(frame), path)
            yield av.VideoFrame.from_ndarray(rgb if lossless else even_pad(rgb), format="rgb24")

    if lossless:
        return _write(
            path, video_frames(), fps, "libx264rgb", "rgb24", {"qp": "0", "preset": preset}, threads
        )
    return _write(
        path, video_frames(), fps, "libx264", "yuv420p", {"crf": str(crf), "preset": preset}, threads
    )


def write_yuv420p(
    path: str | Path,
    frames: Iterable[np.ndarray],
    fps: float,
    *,
    crf: int = 18,
    preset: str = "veryfast",
    threads: int | None = None,
) -> Path:
    """Encode yuv420p planes ((3H/2)xW uint8, as :func:`insvie.media.iter_yuv420p` gives) to an mp4.

    x264 takes them as they are: no colour conversion, so re-encoding decoded frames rounds them
    once (in the encode) rather than three times. Otherwise as :func:`write_video`.
    """
    path = Path(path)

    def video_frames() -> Iterator[av.VideoFrame]:
        for frame in frames:
            planes = np.asarray(frame)
            if planes.dtype != np.uint8 or planes.ndim != 2 or planes.shape[0] % 3 or planes.shape[1] % 2:
                raise MediaError(path, f"frames must be (3H/2)xW uint8 yuv420p planes, got {planes.shape}")
            yield av.VideoFrame.from_ndarray(planes, format="yuv420p")

    return _write(
        path, video_frames(), fps, "libx264", "yuv420p", {"crf": str(crf), "preset": preset}, threads
    )


def _write(
    path: Path,
    frames: Iterator[av.VideoFrame],
    fps: float,
    codec: str,
    pix_fmt: str,
    options: dict[str, str],
    threads: int | None,
) -> Path:
    """Mux ``frames`` (all of the first one's size) through a temporary name renamed when complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial{path.suffix}")
    rate = as_rate(fps)
    count = 0
    try:
        with av_errors(path, "encoding"), av.open(str(tmp), mode="w", format="mp4") as container:
            stream = None
            for frame in frames:
                if stream is None:
                    stream = container.add_stream(codec, rate=rate)
                    stream.width, stream.height = frame.width, frame.height
                    stream.pix_fmt = pix_fmt
                    stream.options = {**options, "x264-params": "mbtree=0"}
                    if threads is not None:
                        stream.codec_context.thread_count = threads
                elif (frame.width, frame.height) != (stream.width, stream.height):
                    raise MediaError(
                        path,
                        f"frame {count} has size {frame.width}x{frame.height}, "
                        f"expected {stream.width}x{stream.height}",
                    )
                for packet in stream.encode(frame):
                    container.mux(packet)
                count += 1
            if stream is None:
                raise MediaError(path, "no frames to write")
            for packet in stream.encode():
                container.mux(packet)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
