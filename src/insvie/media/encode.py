"""Writing frames to H.264 mp4.

Delivered videos use yuv420p, the format every player and every training loader reads; yuv420p needs
even sides, so odd frames are padded by edge replication rather than resized (no resampling blur).
Intermediate results use lossless RGB H.264 (``libx264rgb`` at qp 0): bit-exact, still an .mp4.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import av
import numpy as np

from insvie.errors import MediaError
from insvie.media.container import av_errors
from insvie.media.timing import as_rate


def _even_pad(frame: np.ndarray) -> np.ndarray:
    height, width = frame.shape[:2]
    pad_h, pad_w = height % 2, width % 2
    if not (pad_h or pad_w):
        return frame
    return np.pad(frame, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")


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
) -> Path:
    """Encode RGB uint8 frames (HxWx3, or HxW grey) to an mp4 at ``path``; returns the path.

    The file is written under a temporary name in the same folder and renamed when complete, so a
    crash never leaves a half-written video under the final name. Lossless output keeps odd sizes;
    lossy yuv420p output pads odd sides by one replicated row or column. A non-positive ``fps`` is a
    ValueError; bad frames and FFmpeg failures (a bad preset, a full disk) are MediaError.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial{path.suffix}")
    rate = as_rate(fps)
    count = 0
    try:
        with av_errors(path, "encoding"), av.open(str(tmp), mode="w", format="mp4") as container:
            stream = None
            for frame in frames:
                rgb = _as_rgb(np.asarray(frame), path)
                if not lossless:
                    rgb = _even_pad(rgb)
                if stream is None:
                    stream = container.add_stream("libx264rgb" if lossless else "libx264", rate=rate)
                    stream.width, stream.height = rgb.shape[1], rgb.shape[0]
                    stream.pix_fmt = "rgb24" if lossless else "yuv420p"
                    stream.options = {
                        **({"qp": "0"} if lossless else {"crf": str(crf)}),
                        "preset": preset,
                        # x264's macroblock tree made repeated encodes of the same frames differ by up
                        # to ~40 levels here; without it output is byte-identical run to run, so a
                        # Ray build and a local build store the same files.
                        "x264-params": "mbtree=0",
                    }
                elif (rgb.shape[1], rgb.shape[0]) != (stream.width, stream.height):
                    raise MediaError(
                        path,
                        f"frame {count} has size {rgb.shape[1]}x{rgb.shape[0]}, "
                        f"expected {stream.width}x{stream.height}",
                    )
                for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
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
