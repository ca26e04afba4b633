"""Decoding videos to upright uint8 RGB frames with PyAV (or to yuv420p planes, for re-encoding).

Colour conversion and any downscaling happen in one swscale pass on the stored frame, before the
rotation is applied (a numpy transpose): cheaper than converting at full size and resizing after.
Frames outside the requested range or dropped by fps resampling are decoded (the codec needs them)
but never converted. Range indices count output frames, so ``read_frames(p, start=a, end=b, fps=f)``
equals ``read_frames(p, fps=f)[a:b]``. Every frame comes out at the first frame's size, so a stream
that changes resolution midway still stacks into one array.

:func:`iter_yuv420p` gives the same frames as x264's input instead: re-encoding a clip from RGB costs a
conversion each way and rounds the pixels twice, while a stored yuv420p frame of the right size and
orientation is already what the encoder wants.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from fractions import Fraction
from itertools import chain
from pathlib import Path
from typing import Any, Literal, TypeVar

import av
import numpy as np
from av.video.stream import VideoStream

from insvie.errors import EmptyVideoError, MediaTooLargeError
from insvie.media.container import av_errors, open_video
from insvie.media.encode import even_pad
from insvie.media.orientation import Orientation
from insvie.media.probe import VideoInfo, describe, is_indexed, probe
from insvie.media.timing import ConstantRateGrid, as_rate
from insvie.media.transform import fit_within

# Frame area above which decoding is refused: DCI 8K, beyond which an RGB frame alone passes 100 MB.
DEFAULT_MAX_PIXELS = 8192 * 4320
# read_frames holds every frame in memory; this keeps a forgotten range from exhausting it.
DEFAULT_MAX_FRAMES = 4096


class _ToRGB:
    """Converts stored frames to upright RGB of at most ``max_size`` on the longer displayed side."""

    def __init__(self, orientation: Orientation, first: av.VideoFrame, max_size: int | None) -> None:
        self.orientation = orientation
        shown_width, shown_height = orientation.display_size(first.width, first.height)
        if max_size is not None:
            shown_height, shown_width = fit_within(shown_height, shown_width, max_size)
        # display_size swaps for a transpose, and swapping back is the same swap.
        self.width, self.height = orientation.display_size(shown_width, shown_height)
        self.shrinking = (self.width, self.height) != (first.width, first.height)

    def __call__(self, frame: av.VideoFrame) -> np.ndarray:
        rgb = frame.reformat(
            width=self.width,
            height=self.height,
            format="rgb24",
            interpolation="AREA" if self.shrinking else None,
            src_color_range=frame.color_range,
        ).to_ndarray()
        return self.orientation.apply(rgb)


# Untagged or BT.601 matrices, what RGB converted to yuv420p gets (the output is untagged), so planes in
# them pass as they are; others (BT.709 and up) would be read back in the wrong matrix.
_SD_COLORSPACES = frozenset({2, 5, 6})  # unspecified, BT470BG, SMPTE170M


class _ToYUV420p:
    """Converts stored frames to upright yuv420p planes ((3H/2)xW uint8, H and W even) of the size
    :class:`_ToRGB` gives, padded to even sides as :func:`insvie.media.write_video` pads.

    Limited-range 8-bit 4:2:0 frames in an SD matrix that need no rotation and have even sides are
    taken as they are (scaled plane by plane when smaller); any other frame goes through upright RGB
    (then BT.601, limited range), so every source still works.
    """

    def __init__(self, orientation: Orientation, first: av.VideoFrame, max_size: int | None) -> None:
        self.to_rgb = _ToRGB(orientation, first, max_size)
        self.native = (
            not (orientation.transpose or orientation.flip_rows or orientation.flip_cols)
            and self.to_rgb.width % 2 == 0
            and self.to_rgb.height % 2 == 0
        )

    def __call__(self, frame: av.VideoFrame, rgb: np.ndarray | None = None) -> np.ndarray:
        """The planes of ``frame``; ``rgb``, its upright RGB where the caller has it already."""
        if (
            self.native
            and frame.format.name == "yuv420p"
            and frame.color_range != 2  # JPEG (full) range
            and int(frame.colorspace) in _SD_COLORSPACES
        ):
            planes = frame.reformat(
                width=self.to_rgb.width,
                height=self.to_rgb.height,
                interpolation="AREA" if self.to_rgb.shrinking else None,
            )
        else:
            upright = self.to_rgb(frame) if rgb is None else rgb
            planes = av.VideoFrame.from_ndarray(even_pad(upright), format="rgb24").reformat(format="yuv420p")
        return planes.to_ndarray()


class _ToRGBAndYUV420p:
    """Both of the above from one decoded frame: upright RGB to measure, planes to encode."""

    def __init__(self, orientation: Orientation, first: av.VideoFrame, max_size: int | None) -> None:
        self.to_yuv = _ToYUV420p(orientation, first, max_size)

    def __call__(self, frame: av.VideoFrame) -> tuple[np.ndarray, np.ndarray]:
        rgb = self.to_yuv.to_rgb(frame)
        return rgb, self.to_yuv(frame, rgb)


_Pixels = TypeVar("_Pixels", np.ndarray, tuple[np.ndarray, np.ndarray])
_Converter = Callable[[Orientation, av.VideoFrame, int | None], Callable[[av.VideoFrame], Any]]


def _copied(pixels: _Pixels) -> _Pixels:
    if isinstance(pixels, tuple):
        return (pixels[0].copy(), pixels[1].copy())
    return pixels.copy()


def _paced(
    frames: Iterator[av.VideoFrame], stream: VideoStream, fps: Fraction | None
) -> Iterator[tuple[av.VideoFrame, int]]:
    """Each frame with the number of output frames it fills: always 1 without a target fps."""
    if fps is None:
        for frame in frames:
            yield frame, 1
        return
    time_base = stream.time_base
    nominal_rate = stream.average_rate or stream.guessed_rate
    step = 1 / nominal_rate if nominal_rate else Fraction(0)
    # Muxers round times to whole ticks; half a tick of slack keeps rounded times on their slot.
    grid = ConstantRateGrid(fps, tolerance=time_base / 2)
    previous: av.VideoFrame | None = None
    time = Fraction(0)
    for frame in frames:
        if frame.pts is not None:
            time = frame.pts * time_base
        elif previous is not None:
            time += step
        slots = grid.slots_before(time)
        if previous is not None:
            yield previous, slots
        previous = frame
    if previous is not None:
        shown_for = previous.duration * time_base if previous.duration else step
        yield previous, grid.slots_before(time + shown_for)


def _checked_rate(
    start: int, end: int | None, fps: float | Fraction | None, max_size: int | None
) -> Fraction | None:
    """The window's arguments checked, and ``fps`` as an exact rate (None: every frame)."""
    if start < 0 or (end is not None and end < start):
        raise ValueError(f"need 0 <= start <= end, got start={start}, end={end}")
    if max_size is not None and max_size < 1:
        raise ValueError(f"max_size must be at least 1, got {max_size}")
    return None if fps is None else as_rate(fps)


def iter_frames(
    path: str | Path,
    *,
    start: int = 0,
    end: int | None = None,
    fps: float | Fraction | None = None,
    max_size: int | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> Iterator[np.ndarray]:
    """Stream upright HxWx3 uint8 RGB frames ``[start, end)`` of the video at ``path``.

    ``fps`` resamples onto a constant-rate grid by presentation time (each output frame is the one on
    screen at its instant), which is right for variable-frame-rate input too; ``max_size`` caps the
    longer displayed side, keeping aspect; ``max_pixels`` refuses frames of a larger stored area.
    Argument errors raise at once, file errors when iteration starts.
    """
    return _frames(path, start, end, fps, max_size, max_pixels, _ToRGB)


def iter_yuv420p(
    path: str | Path,
    *,
    start: int = 0,
    end: int | None = None,
    fps: float | Fraction | None = None,
    max_size: int | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> Iterator[np.ndarray]:
    """The frames :func:`iter_frames` gives, as yuv420p planes for :func:`insvie.media.write_yuv420p`.

    Each is a (3H/2)xW uint8 array (the Y plane, then U and V) with even H and W. Frames that are
    stored upright as 8-bit 4:2:0 are not converted at all, so a clip re-encoded from them loses
    nothing but the encode; other frames are converted through RGB (odd sides padded by one
    replicated row or column). Arguments as for :func:`iter_frames`.
    """
    return _frames(path, start, end, fps, max_size, max_pixels, _ToYUV420p)


def iter_rgb_yuv420p(
    path: str | Path,
    *,
    start: int = 0,
    end: int | None = None,
    fps: float | Fraction | None = None,
    max_size: int | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Each frame as :func:`iter_frames` and as :func:`iter_yuv420p` give it, from one decode: for a
    step that measures frames and stores them."""
    return _frames(path, start, end, fps, max_size, max_pixels, _ToRGBAndYUV420p)


def _frames(
    path: str | Path,
    start: int,
    end: int | None,
    fps: float | Fraction | None,
    max_size: int | None,
    max_pixels: int | None,
    converter: _Converter,
) -> Iterator[_Pixels]:
    """The arguments checked at once (file errors wait for the first frame, as a generator's do)."""
    rate = _checked_rate(start, end, fps, max_size)
    return _iter_frames(Path(path), start, end, rate, max_size, max_pixels, converter)


def _iter_frames(
    path: Path,
    start: int,
    end: int | None,
    fps: Fraction | None,
    max_size: int | None,
    max_pixels: int | None,
    converter: _Converter,
) -> Iterator[_Pixels]:
    with open_video(path) as (container, stream):
        _prepare(path, stream, max_pixels)
        yield from _converted(path, stream, container.decode(stream), start, end, fps, max_size, converter)


def _prepare(path: Path, stream: VideoStream, max_pixels: int | None) -> None:
    """Refuse frames over ``max_pixels``; decode on threads (set before the first packet opens the codec)."""
    width, height = stream.codec_context.width, stream.codec_context.height
    if max_pixels is not None and width * height > max_pixels:
        raise MediaTooLargeError(path, f"{width}x{height} frames exceed the limit of {max_pixels} pixels")
    stream.thread_type = "AUTO"


def _converted(
    path: Path,
    stream: VideoStream,
    decoded: Iterable[av.VideoFrame],
    start: int,
    end: int | None,
    fps: Fraction | None,
    max_size: int | None,
    converter: _Converter,
) -> Iterator[_Pixels]:
    """The frames ``[start, end)`` of ``decoded`` (the stream's frames from its first), paced to ``fps``."""
    convert: Callable[[av.VideoFrame], _Pixels] | None = None
    produced = 0
    with av_errors(path, "decoding"):
        for frame, repeats in _paced(iter(decoded), stream, fps):
            if convert is None:
                convert = converter(Orientation.of(stream, frame), frame, max_size)
            last = produced + repeats if end is None else min(produced + repeats, end)
            wanted = last - max(start, produced)
            if wanted > 0:
                pixels = convert(frame)
                yield pixels
                for _ in range(wanted - 1):
                    yield _copied(pixels)
            produced += repeats
            if end is not None and produced >= end:
                return
    if convert is None:
        raise EmptyVideoError(path, "no decodable frames")


_PIXELS: dict[str, _Converter] = {"rgb": _ToRGB, "yuv420p": _ToYUV420p, "rgb+yuv420p": _ToRGBAndYUV420p}


@contextmanager
def open_frames(
    path: str | Path,
    pixels: Literal["rgb", "yuv420p", "rgb+yuv420p"] = "rgb",
    *,
    start: int = 0,
    end: int | None = None,
    fps: float | Fraction | None = None,
    max_size: int | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> Iterator[tuple[VideoInfo, Iterator[Any]]]:
    """The video's :func:`~insvie.media.probe` and its frames, from one opening and one decode.

    For a step that checks a video before it decodes the whole of it: calling ``probe`` first opens
    the file twice and decodes its first frame twice (about 25 ms for a 720x480 source, a tenth of
    decoding 49 frames of it). ``pixels`` picks what each frame is, as :func:`iter_frames`,
    :func:`iter_yuv420p` or :func:`iter_rgb_yuv420p` give it; the other arguments are theirs. The
    frames are read inside the block. A container without a full sample index (mkv, webm) gains
    nothing: ``probe`` must scan all its packets for their timestamps, so it is probed apart (a second
    opening, as before) and decoded here from its start.
    """
    rate = _checked_rate(start, end, fps, max_size)
    path = Path(path)
    with open_video(path) as (container, stream):
        _prepare(path, stream, max_pixels)
        with av_errors(path, "probing"):
            if is_indexed(stream):
                packets = container.demux(stream)
                decoded: list[av.VideoFrame] = []
                for packet in packets:
                    decoded.extend(stream.decode(packet))
                    if decoded:
                        break
                if not decoded:
                    raise EmptyVideoError(path, "no decodable frames")
                info = describe(container, stream, decoded[0])
                frames = chain(decoded, (frame for packet in packets for frame in stream.decode(packet)))
            else:
                info = probe(path)
                frames = container.decode(stream)
        yield info, _converted(path, stream, frames, start, end, rate, max_size, _PIXELS[pixels])


def read_frames(
    path: str | Path,
    *,
    start: int = 0,
    end: int | None = None,
    fps: float | Fraction | None = None,
    max_size: int | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    max_frames: int | None = DEFAULT_MAX_FRAMES,
) -> np.ndarray:
    """Frames ``[start, end)`` as one TxHxWx3 uint8 array; see :func:`iter_frames` for the options.

    More than ``max_frames`` frames raise :class:`MediaTooLargeError` (use :func:`iter_frames` to
    stream long videos); an empty selection raises :class:`EmptyVideoError`.
    """
    frames: list[np.ndarray] = []
    with closing(
        iter_frames(path, start=start, end=end, fps=fps, max_size=max_size, max_pixels=max_pixels)
    ) as it:
        for frame in it:
            if max_frames is not None and len(frames) >= max_frames:
                raise MediaTooLargeError(path, f"more than {max_frames} frames selected")
            frames.append(frame)
    if not frames:
        raise EmptyVideoError(path, f"no frames in the requested range [{start}, {end})")
    return np.stack(frames)
