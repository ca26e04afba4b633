"""Decoding one sample's videos once, into the :class:`SampleFrames` every metric reads.

The source sets the geometry: it is read at the requested fps, capped to ``max_frames`` and to
``max_size`` on its longer side; the edited video, the mask and the ground truth are read the same
way and resized to the source's size, and all are cut to the frames they have in common (an editor
that outputs 4k+1 frames of a 50-frame source is compared on its 49). An edited video of another
aspect ratio than the source's is taken to be of the source's centre crop (what editors working at a
fixed size do), so source, mask and ground truth are centre-cropped to that aspect first. A mask that
is an image applies to every frame; it is true where its brightest channel is at least half way (so
codec noise in a lossy mask video does not flip pixels).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from insvie.eval.sample import SampleFrames
from insvie.media import read_frames, read_image, resize

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
MASK_THRESHOLD = 128
ASPECT_TOLERANCE = 0.01  # relative; a 1-pixel rounding of an odd size is not a crop


@dataclass(frozen=True)
class DecodeOptions:
    """How much of each video the metrics see: frame cap, longer-side cap, and the frame rate read at."""

    max_frames: int | None = 49
    max_size: int | None = 512
    fps: float | None = None


def _video(path: Path, options: DecodeOptions) -> np.ndarray:
    return read_frames(path, end=options.max_frames, fps=options.fps, max_size=options.max_size)


def crop_to_aspect(video: np.ndarray, height: int, width: int) -> np.ndarray:
    """The centre crop of ``video`` (T, H, W[, C]) with the aspect of ``height`` x ``width``
    (``video`` itself when the aspects agree within :data:`ASPECT_TOLERANCE`)."""
    in_height, in_width = video.shape[1:3]
    aspect = width / height
    if abs(in_width / in_height - aspect) <= ASPECT_TOLERANCE * aspect:
        return video
    if in_width / in_height > aspect:
        crop_height, crop_width = in_height, max(1, round(in_height * aspect))
    else:
        crop_height, crop_width = max(1, round(in_width / aspect)), in_width
    top, left = (in_height - crop_height) // 2, (in_width - crop_width) // 2
    return video[:, top : top + crop_height, left : left + crop_width]


def _mask(path: Path, size: tuple[int, int], options: DecodeOptions) -> np.ndarray:
    """(T, H, W) bool at ``size``; an image mask is one frame, repeated by the caller's cut."""
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        image = resize(read_image(path), size)
        return (image.max(axis=-1) >= MASK_THRESHOLD)[None]
    return resize(_video(path, options), size).max(axis=-1) >= MASK_THRESHOLD


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
    full = _video(source, options)
    output = _video(edited, options)
    size = full.shape[1:3]
    videos = {"source": full}
    if mask is not None:
        videos["mask"] = _mask(mask, size, options)
    if ground_truth is not None:
        videos["ground_truth"] = resize(_video(ground_truth, options), size)
    videos = {name: crop_to_aspect(video, *output.shape[1:3]) for name, video in videos.items()}
    videos["edited"] = resize(output, videos["source"].shape[1:3])
    if "mask" in videos and len(videos["mask"]) == 1:
        videos["mask"] = np.repeat(videos["mask"], len(full), axis=0)
    length = min(len(video) for video in videos.values())
    cut = {name: np.ascontiguousarray(video[:length]) for name, video in videos.items()}
    return SampleFrames(
        source=cut["source"],
        edited=cut["edited"],
        mask=cut.get("mask"),
        ground_truth=cut.get("ground_truth"),
        seams=tuple(s for s in seams if 0 < s < length),
    )
