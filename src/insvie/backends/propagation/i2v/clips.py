"""One clip's walk through its windows: what it carries into the next window and what each frame records.

A clip longer than a window is regenerated window by window, each conditioned on the last frame the
previous one made (:mod:`.windows`), so a clip's windows run one after another. A
:class:`ClipWalk` holds that state between windows; the propagator advances many walks at once, their
next windows sharing denoising loops, and hands each walk the frames its window made. Every output
frame gets diagnostics the refilter and reports read: its window, whether it conditioned a window, and
the colour and structure drift of the edit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from insvie.backends.procedural.operator import check_video
from insvie.backends.propagation.i2v.windows import (
    colour_drift,
    colour_shift,
    edge_correlation,
    plan_windows,
    structure_drift,
)


def resize_frames(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    """Frames (T, H, W, 3) at (height, width); area filter down, cubic up."""
    if frames.shape[1:3] == (height, width):
        return frames
    shrink = height * width < frames.shape[1] * frames.shape[2]
    interpolation = cv2.INTER_AREA if shrink else cv2.INTER_CUBIC
    return np.stack([cv2.resize(f, (width, height), interpolation=interpolation) for f in frames])


def check_pair(source: np.ndarray, edited_first: np.ndarray) -> None:
    """Refuse what no propagation can take: a malformed video, or an edited frame not of its frame's
    shape (uint8). Cheap, so a caller checks each item before a batch of them goes to the model."""
    check_video(source)
    if edited_first.shape != source.shape[1:] or edited_first.dtype != np.uint8:
        raise ValueError(
            f"edited_first must be uint8 {source.shape[1:]}, got {edited_first.dtype} {edited_first.shape}"
        )


@dataclass(frozen=True)
class Window:
    """One window to regenerate: its source frames (uint8, working size), the first frame it is carried
    from (the edited frame, or the previous window's last) and its clip's seed."""

    frames: np.ndarray
    first: np.ndarray
    seed: int


@dataclass
class ClipWalk:
    """A clip at the working size on its way through its windows, and the frames made so far."""

    source_shape: tuple[int, ...]
    frames: np.ndarray
    seed: int
    carried: np.ndarray
    reference: np.ndarray  # the edit's colour shift on the first frame
    aligned: float  # the edge correlation of the edited first frame with the source's
    windows: list[tuple[int, int]]
    output: list[np.ndarray] = field(default_factory=list)
    diagnostics: list[dict[str, Any]] = field(default_factory=list)
    done: int = 0  # windows made

    @classmethod
    def start(
        cls, source: np.ndarray, edited_first: np.ndarray, size: tuple[int, int], window: int, seed: int
    ) -> ClipWalk:
        """The walk of ``source`` carrying ``edited_first`` in windows of ``window`` frames at ``size``."""
        check_pair(source, edited_first)
        frames = resize_frames(source, *size)
        carried = resize_frames(edited_first[None], *size)[0]
        return cls(
            source_shape=source.shape,
            frames=frames,
            seed=seed,
            carried=carried,
            reference=colour_shift(frames[0], carried),
            aligned=edge_correlation(frames[0], carried),
            windows=plan_windows(len(frames), window),
        )

    @property
    def finished(self) -> bool:
        return self.done == len(self.windows)

    def next_window(self) -> Window:
        start, end = self.windows[self.done]
        return Window(self.frames[start:end], self.carried, self.seed)

    def take(self, made: np.ndarray) -> None:
        """Keep the frames the next window made (its first one only in the first window: a later window's
        first frame is the previous window's last) and carry its last frame on."""
        window = self.done
        start, end = self.windows[window]
        for offset in range(0 if window == 0 else 1, end - start):
            index = start + offset
            self.output.append(made[offset])
            self.diagnostics.append(
                {
                    "index": index,
                    "window": window,
                    "anchor": offset == 0 or (offset == end - start - 1 and end < len(self.frames)),
                    "colour_drift": round(colour_drift(self.reference, self.frames[index], made[offset]), 4),
                    "structure_drift": round(
                        structure_drift(self.aligned, self.frames[index], made[offset]), 4
                    ),
                }
            )
        self.carried = made[-1]
        self.done += 1

    def result(self) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """The edited video at the source's size and one diagnostics dict per frame."""
        return resize_frames(np.stack(self.output), *self.source_shape[1:3]), self.diagnostics
