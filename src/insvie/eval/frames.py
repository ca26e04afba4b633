"""Decoding one sample's videos once, into the :class:`SampleFrames` every metric reads.

The source sets the geometry: it is read at the requested fps, capped to ``max_frames`` and to
``max_size`` on its longer side; the edited video, the mask and the ground truth are read the same
way and resized to the source's size, and all are cut to the frames they have in common (an editor
that outputs 4k+1 frames of a 50-frame source is compared on its 49). A mask that is an image applies
to every frame; it is true where its brightest channel is at least half way (so codec noise in a
lossy mask video does not flip pixels).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from insvie.eval.sample import SampleFrames
from insvie.media import read_frames, read_image, resize

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
MASK_THRESHOLD = 128


@dataclass(frozen=True)
class DecodeOptions:
    """How much of each video the metrics see: frame cap, longer-side cap, and the frame rate read at."""

    max_frames: int | None = 49
    max_size: int | None = 512
    fps: float | None = None


def _video(path: Path, options: DecodeOptions) -> np.ndarray:
    return read_frames(path, end=options.max_frames, fps=options.fps, max_size=options.max_size)


def _like_source(video: np.ndarray, source: np.ndarray) -> np.ndarray:
    return resize(video, source.shape[1:3])


def _mask(path: Path, source: np.ndarray, options: DecodeOptions) -> np.ndarray:
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        image = resize(read_image(path), source.shape[1:3])
        return np.repeat((image.max(axis=-1) >= MASK_THRESHOLD)[None], len(source), axis=0)
    video = _like_source(_video(path, options), source)
    return video.max(axis=-1) >= MASK_THRESHOLD


def decode_sample(
    source: Path,
    edited: Path,
    options: DecodeOptions,
    *,
    mask: Path | None = None,
    ground_truth: Path | None = None,
    seams: tuple[int, ...] = (),
) -> SampleFrames:
    """The sample's frames, edited/mask/ground truth at the source's size, all cut to a common length."""
    src = _video(source, options)
    videos = {"edited": _like_source(_video(edited, options), src)}
    if mask is not None:
        videos["mask"] = _mask(mask, src, options)
    if ground_truth is not None:
        videos["ground_truth"] = _like_source(_video(ground_truth, options), src)
    length = min(len(src), *(len(video) for video in videos.values()))
    cut = {name: video[:length] for name, video in videos.items()}
    return SampleFrames(
        source=src[:length],
        edited=cut["edited"],
        mask=cut.get("mask"),
        ground_truth=cut.get("ground_truth"),
        seams=tuple(s for s in seams if 0 < s < length),
    )
