"""Reading, writing and shaping video and images.

Videos decode to upright uint8 RGB (rotation metadata honoured, 10-bit sources brought to 8 bits),
optionally resampled by presentation time to a constant fps; every failure is an
:class:`insvie.errors.MediaError` subclass naming the file and the reason.

    read_frames(path, *, start=0, end=None, fps=None, max_size=None, ...) -> np.ndarray  # T,H,W,3
    iter_frames(path, *, start=0, end=None, fps=None, max_size=None, ...) -> Iterator[np.ndarray]
    iter_yuv420p(path, ...) -> Iterator[np.ndarray]   # the same frames as x264 input planes, (3H/2)xW
    iter_rgb_yuv420p(path, ...) -> Iterator[tuple[np.ndarray, np.ndarray]]   # both, from one decode
    probe(path) -> VideoInfo
    with open_frames(path, pixels="rgb", ...) as (info, frames): ...   # probe and frames, one opening
    write_video(path, frames, fps, *, lossless=False, crf=18, preset="veryfast", threads=None) -> Path
    write_yuv420p(path, planes, fps, *, crf=18, preset="veryfast", threads=None) -> Path
    read_image(path, *, background=(255, 255, 255), max_pixels=...) -> np.ndarray  # H,W,3
    resize / center_crop / resize_center_crop / aligned_random_crop   # sizes are (height, width)
    window_spans(num_frames, length, stride=None) / largest_valid_length(num_frames)   # 4k+1 windows
"""

from insvie.media.decode import (
    DEFAULT_MAX_FRAMES,
    DEFAULT_MAX_PIXELS,
    iter_frames,
    iter_rgb_yuv420p,
    iter_yuv420p,
    open_frames,
    read_frames,
)
from insvie.media.encode import write_video, write_yuv420p
from insvie.media.image import DEFAULT_MAX_IMAGE_PIXELS, read_image
from insvie.media.probe import VideoInfo, probe
from insvie.media.timing import resample_indices
from insvie.media.transform import aligned_random_crop, center_crop, fit_within, resize, resize_center_crop
from insvie.media.windows import largest_valid_length, window_spans

__all__ = [
    "DEFAULT_MAX_FRAMES",
    "DEFAULT_MAX_IMAGE_PIXELS",
    "DEFAULT_MAX_PIXELS",
    "VideoInfo",
    "aligned_random_crop",
    "center_crop",
    "fit_within",
    "iter_frames",
    "iter_rgb_yuv420p",
    "iter_yuv420p",
    "largest_valid_length",
    "open_frames",
    "probe",
    "read_frames",
    "read_image",
    "resample_indices",
    "resize",
    "resize_center_crop",
    "window_spans",
    "write_video",
    "write_yuv420p",
]
