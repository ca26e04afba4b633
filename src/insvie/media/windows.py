"""Cutting clips into windows of 4k+1 frames.

The CogVideoX VAE compresses time 4x after keeping the first frame on its own, so the editor accepts
exactly 4k+1 frames (49 = 4*12+1 at 8 fps is its native six seconds).
"""

from __future__ import annotations


def largest_valid_length(num_frames: int) -> int:
    """The largest 4k+1 that is at most ``num_frames``."""
    if num_frames < 1:
        raise ValueError(f"no 4k+1 window fits in {num_frames} frames")
    return (num_frames - 1) // 4 * 4 + 1


def window_spans(num_frames: int, length: int, stride: int | None = None) -> list[tuple[int, int]]:
    """Half-open ``(start, end)`` frame spans of ``length`` frames every ``stride`` frames.

    ``stride`` defaults to ``length`` (back-to-back windows); a smaller stride overlaps them. Frames
    after the last whole window are left out; a clip shorter than ``length`` gives no windows.
    """
    if length < 1 or length % 4 != 1:
        raise ValueError(f"window length must be 4k+1 (1, 5, 9, ..., 49, ...), got {length}")
    stride = length if stride is None else stride
    if stride < 1:
        raise ValueError(f"stride must be at least 1, got {stride}")
    return [(start, start + length) for start in range(0, num_frames - length + 1, stride)]
