"""Editing videos longer than one window, and measuring the seams between windows.

The editor sees at most its frame count (49) at once. A longer video is edited in overlapping windows
of 4k+1 frames. Editing each window independently would give each its own interpretation of the
instruction (a different snow, a different shade of red), visible as a jump where windows meet. So each
window after the first is conditioned on the previous result, inpainting-style:

1. the first ``P`` frames of the window (``P`` the largest 4m+1 within the overlap) already have an
   edited version, the previous window's output; they are encoded by the VAE into ``m+1`` clean latent
   frames (the causal VAE codes a 4m+1-frame prefix into exactly the window's first m+1 latent frames);
2. at every denoising step those latent frames are replaced by the clean latents re-noised to the
   step's noise level, and after the last step by the clean latents (the original sampler's
   ``fixed_frames`` + ``sdedit`` mechanism, see ``InsViEEditPipeline(prefix_latents=...)``); the rest of
   the window is generated consistently with that pinned beginning while still following its own
   source frames;
3. the overlapping frames are cross-faded linearly from the previous window's output to the new one,
   which hides what the VAE round trip of step 1 changes.

The seams are the frame boundaries where one window's output meets another's: with cross-fading, the
first and the one past the last blended frame of each overlap; without, the first frame a new window
contributes. :func:`seam_consistency` compares the frame-to-frame change across each seam with the
video's typical frame-to-frame change: about 1 means the seam is as smooth as ordinary motion.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from insvie.editor.inputs import decoded_frames
from insvie.media import largest_valid_length

if TYPE_CHECKING:
    from insvie.editor.pipeline import InsViEEditPipeline

DIFF_EPSILON = 1e-3  # grey levels; keeps the ratio finite on perfectly still videos


@dataclass(frozen=True)
class SeamReport:
    """Frame-to-frame change across each seam, relative to the video's typical change.

    ``seam_diffs[k]`` is the mean absolute difference (grey levels) between frames ``seams[k] - 1`` and
    ``seams[k]``; ``typical_diff`` the median of the same over every other consecutive pair;
    ``ratios[k] = (seam_diffs[k] + eps) / (typical_diff + eps)``.
    """

    seams: tuple[int, ...]
    seam_diffs: tuple[float, ...]
    typical_diff: float
    ratios: tuple[float, ...]

    @property
    def mean_ratio(self) -> float:
        return float(np.mean(self.ratios)) if self.ratios else 1.0

    @property
    def max_ratio(self) -> float:
        return float(max(self.ratios)) if self.ratios else 1.0

    def as_metrics(self) -> dict[str, float]:
        """Flat numbers for an eval table."""
        return {
            "seam_count": float(len(self.seams)),
            "seam_ratio_mean": self.mean_ratio,
            "seam_ratio_max": self.max_ratio,
            "frame_diff_typical": self.typical_diff,
        }


def _frame_diffs(frames: np.ndarray) -> np.ndarray:
    """Mean absolute difference between consecutive frames, (T-1,), in grey levels."""
    as_float = frames.astype(np.float32)
    return np.abs(as_float[1:] - as_float[:-1]).reshape(len(frames) - 1, -1).mean(axis=1)


def seam_consistency(frames: np.ndarray, seams: Sequence[int]) -> SeamReport:
    """How visible the seams at frame indices ``seams`` are in ``frames`` (T, H, W, C).

    A seam at ``s`` is the boundary between frames ``s - 1`` and ``s`` (``0 < s < T``).
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or len(frames) < 2:
        raise ValueError(f"expected frames (T, H, W, C) with T >= 2, got shape {frames.shape}")
    seams = tuple(sorted(set(int(s) for s in seams)))
    if any(not 0 < s < len(frames) for s in seams):
        raise ValueError(f"seams must lie in 1..{len(frames) - 1}, got {seams}")
    diffs = _frame_diffs(frames)
    seam_pairs = {s - 1 for s in seams}
    others = [float(d) for i, d in enumerate(diffs) if i not in seam_pairs]
    typical = statistics.median(others) if others else float(np.median(diffs))
    seam_diffs = tuple(float(diffs[s - 1]) for s in seams)
    ratios = tuple((d + DIFF_EPSILON) / (typical + DIFF_EPSILON) for d in seam_diffs)
    return SeamReport(seams=seams, seam_diffs=seam_diffs, typical_diff=typical, ratios=ratios)


def default_overlap(window: int) -> int:
    """About a fifth of the window, as a 4m+1 count: 9 frames (3 latent frames) for 49."""
    return largest_valid_length(max(1, window // 5))


def largest_whole_window(num_frames: int) -> int:
    """The largest window within ``num_frames`` that decodes to all its frames: 4k+1 with an odd number of
    latent frames (8m+1: 1, 9, 17, ..., 49), since the official decode drops the last of an even count."""
    length = largest_valid_length(num_frames)
    return length if decoded_frames((length - 1) // 4 + 1) == length else length - 4


def long_video_spans(num_frames: int, window: int, overlap: int) -> list[tuple[int, int]]:
    """Half-open frame spans of ``window`` frames overlapping by ``overlap``, covering every frame.

    ``window`` must decode to all its frames (8m+1, see :func:`largest_whole_window`). Windows start
    every ``window - overlap`` frames; if that leaves a tail, a last window is placed flush with the end
    (overlapping its neighbour more). A video shorter than ``window`` uses the largest such window it
    holds.
    """
    if num_frames < 1:
        raise ValueError("no frames to edit")
    if window < 1 or (window - 1) % 4:
        raise ValueError(f"window must be 4k+1, got {window}")
    if largest_whole_window(window) != window:
        raise ValueError(
            f"a window of {window} frames is {(window - 1) // 4 + 1} latent frames, an even count whose last "
            f"the decoder drops; use {window - 4} or {window + 4}"
        )
    if overlap < 0:
        raise ValueError(f"overlap must be >= 0, got {overlap}")
    if num_frames < window:
        fitted = largest_whole_window(num_frames)
        if fitted == 1:  # 2-4 frames: nothing longer than one frame fits, edit each alone
            return [(i, i + 1) for i in range(num_frames)]
        return [(0, fitted)] + ([(num_frames - fitted, num_frames)] if fitted < num_frames else [])
    stride = window - min(overlap, window - 1)
    starts = list(range(0, num_frames - window + 1, stride))
    if starts[-1] + window < num_frames:
        starts.append(num_frames - window)
    return [(start, start + window) for start in starts]


@dataclass
class LongEdit:
    """A long edit: all frames, the windows used and the seams between them, with their report."""

    frames: np.ndarray  # (T, H, W, 3) uint8
    spans: list[tuple[int, int]]
    seams: list[int]
    report: SeamReport | None = field(default=None)


def _crossfade(previous: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Blend ``n`` overlapping frames from ``previous`` to ``new`` with weights (j+1)/(n+1)."""
    n = len(previous)
    weights = (np.arange(1, n + 1, dtype=np.float32) / (n + 1)).reshape(n, 1, 1, 1)
    mixed = (1 - weights) * previous.astype(np.float32) + weights * new.astype(np.float32)
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def edit_long_video(
    pipe: InsViEEditPipeline,
    video: Any,
    prompt: str,
    *,
    window: int | None = None,
    overlap: int | None = None,
    height: int | None = None,
    width: int | None = None,
    condition_seams: bool = True,
    crossfade: bool = True,
    **call_kwargs: Any,
) -> LongEdit:
    """Edit every frame of ``video`` window by window (see the module docstring for the method).

    ``window`` defaults to the model's frame count (49), ``overlap`` to :func:`default_overlap`.
    ``condition_seams=False`` and ``crossfade=False`` turn off the two consistency measures (for
    comparison). Other keyword arguments (steps, guidance, ``generator``...) go to every window's call;
    a generator is shared, so a seeded run is reproducible.
    """
    from insvie.editor.inputs import as_video_batch, prepare_videos

    if not isinstance(prompt, str):
        raise TypeError("edit_long_video edits one video with one instruction")
    if call_kwargs.get("num_videos_per_prompt", 1) != 1:
        raise ValueError("edit_long_video makes one video; call it once per variant")
    default_height, default_width = pipe.default_size
    height, width = height or default_height, width or default_width
    (frames,) = as_video_batch(video)
    frames = prepare_videos([frames], len(frames), height, width)[0]
    window = window or pipe.max_num_frames
    spans = long_video_spans(len(frames), window, default_overlap(window) if overlap is None else overlap)
    out = np.zeros_like(frames)
    seams: list[int] = []
    done = 0  # frames [0, done) of ``out`` hold edited frames
    for start, end in spans:
        shared = done - start  # frames both this window and the previous ones cover
        prefix_latents = None
        if shared > 0 and condition_seams:
            known = out[start : start + largest_valid_length(shared)]
            # The posterior mean: the prefix stands for frames already decided, and is re-noised per step.
            prefix_latents = pipe.encode_video(known[None], source_latent="mode")[0]
        edited = pipe(
            frames[start:end],
            prompt,
            num_frames=end - start,
            height=height,
            width=width,
            prefix_latents=prefix_latents,
            output_type="np",
            **call_kwargs,
        ).frames[0]
        if shared > 0 and crossfade:
            out[start:done] = _crossfade(out[start:done], edited[:shared])
            out[done:end] = edited[shared:]
            seams += [start, done] if done < len(frames) else [start]
        elif shared > 0:
            out[start:end] = edited
            seams.append(start)
        else:
            out[start:end] = edited
        done = end
    seams = sorted(set(s for s in seams if 0 < s < len(frames)))
    report = seam_consistency(out, seams) if len(out) > 1 else None
    return LongEdit(frames=out, spans=spans, seams=seams, report=report)
