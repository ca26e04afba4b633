"""Video decode, encode and probe on the real sample clips and on small files made here with PyAV."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from insvie.errors import (
    EmptyVideoError,
    MediaError,
    MediaTooLargeError,
    NotAVideoError,
    TruncatedMediaError,
    UnsupportedCodecError,
)
from insvie.media import (
    VideoInfo,
    iter_frames,
    iter_rgb_yuv420p,
    iter_yuv420p,
    open_frames,
    probe,
    read_frames,
    write_video,
)

CLIPS = ["car_dirt_road.mp4", "horse_gallop.mp4", "cat_grass.mp4"]
LOSSLESS = {"codec": "libx264rgb", "pix_fmt": "rgb24", "options": {"qp": "0"}}  # for exact comparisons


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


def smooth_clip(num_frames: int, height: int, width: int) -> np.ndarray:
    """Drifting colour gradients: what a lossy codec handles well, with real motion."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    frames = []
    for t in range(num_frames):
        r = 128 + 100 * np.sin((x + 3 * t) / 17)
        g = 128 + 100 * np.cos((y - 2 * t) / 13)
        b = 128 + 80 * np.sin((x + y + t) / 23)
        frames.append(np.stack([r, g, b], axis=-1))
    return np.clip(frames, 0, 255).astype(np.uint8)


def marked_clip(num_frames: int, height: int = 48, width: int = 64) -> np.ndarray:
    """Frames whose grey level tells their index (20 * i) and with a white block marking the top-left."""
    frames = np.zeros((num_frames, height, width, 3), np.uint8)
    for index in range(num_frames):
        frames[index] = 20 * index
    frames[:, :8, :16] = 255
    return frames


def frame_ids(frames: np.ndarray) -> list[int]:
    """Recover marked_clip indices from (possibly lossy) decoded frames."""
    return [round(float(frame[-8:, -8:].mean()) / 20) for frame in frames]


def write_with(
    path: Path,
    frames: np.ndarray,
    *,
    fps: int = 8,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    fmt: str | None = None,
    rotation: float | None = None,
    hflip: bool = False,
    metadata: dict[str, str] | None = None,
    times_ms: list[int] | None = None,
    options: dict[str, str] | None = None,
    audio: bool = False,
    container_options: dict[str, str] | None = None,
) -> Path:
    """A file made directly with PyAV, for the cases write_video deliberately does not produce."""
    with av.open(str(path), "w", format=fmt, options=container_options or {}) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = pix_fmt
        stream.options = options or {}
        if rotation is not None:
            stream.set_display_rotation(rotation, hflip=hflip)
        stream.metadata.update(metadata or {})
        if times_ms is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        sound = add_silent_audio(container) if audio else None
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            if times_ms is not None:
                frame.pts, frame.time_base = times_ms[index], Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
        if sound is not None:
            write_silence(container, sound)
    return path


def add_silent_audio(container: av.container.OutputContainer) -> av.audio.stream.AudioStream:
    stream = container.add_stream("aac", rate=16000)
    stream.layout = "mono"
    return stream


def write_silence(container: av.container.OutputContainer, stream: av.audio.stream.AudioStream) -> None:
    for index in range(8):
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 16000, index * 1024
        container.mux(stream.encode(frame))
    container.mux(stream.encode())


@pytest.fixture(scope="module")
def horse(shared_media: Path) -> tuple[Path, np.ndarray]:
    path = shared_media / "horse_gallop.mp4"
    return path, read_frames(path)


# -- encode / decode round trip ---------------------------------------------------------------


def test_lossy_round_trip_psnr(tmp_path: Path):
    clip = smooth_clip(12, 96, 128)
    path = write_video(tmp_path / "smooth.mp4", clip, fps=8)
    decoded = read_frames(path)
    assert decoded.shape == clip.shape and decoded.dtype == np.uint8
    assert psnr(decoded, clip) >= 35


def test_lossless_round_trip_is_exact_at_odd_size(tmp_path: Path):
    clip = np.random.default_rng(0).integers(0, 256, (5, 33, 47, 3), dtype=np.uint8)
    decoded = read_frames(write_video(tmp_path / "noise.mp4", clip, fps=8, lossless=True))
    np.testing.assert_array_equal(decoded, clip)


def test_lossy_odd_size_is_padded_not_resized(tmp_path: Path):
    clip = smooth_clip(4, 33, 47)
    decoded = read_frames(write_video(tmp_path / "odd.mp4", clip, fps=8))
    assert decoded.shape == (4, 34, 48, 3)
    assert psnr(decoded[:, :33, :47], clip) >= 35


def test_write_video_rejects_bad_input(tmp_path: Path):
    with pytest.raises(MediaError, match="no frames"):
        write_video(tmp_path / "empty.mp4", [], fps=8)
    with pytest.raises(MediaError, match="expected 64x48"):
        write_video(
            tmp_path / "mixed.mp4", [np.zeros((48, 64, 3), np.uint8), np.zeros((8, 8, 3), np.uint8)], 8
        )
    with pytest.raises(ValueError, match="fps"):
        write_video(tmp_path / "still.mp4", [np.zeros((8, 8, 3), np.uint8)], fps=0)
    assert not list(tmp_path.iterdir())  # nothing half-written left behind


# -- probe ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CLIPS)
def test_probe_real_clips(shared_media: Path, name: str):
    info = probe(shared_media / name)
    assert info == VideoInfo(
        codec="h264",
        width=720,
        height=480,
        rotation=0,
        fps=8.0,
        variable_fps=False,
        num_frames=49,
        duration=pytest.approx(6.125),
        pix_fmt="yuv420p",
        bit_depth=8,
        has_audio=False,
    )
    assert json.loads(json.dumps(info.to_dict()))["num_frames"] == 49


def test_probe_variable_frame_rate(tmp_path: Path):
    times = [0, 100, 150, 400, 450, 500, 900, 1000]
    path = write_with(tmp_path / "vfr.mp4", marked_clip(8), times_ms=times, options={"bf": "0"})
    info = probe(path)
    assert info.variable_fps is True
    assert info.num_frames == 8
    assert info.duration == pytest.approx(1.0 + 1 / 8)  # the last frame lasts one nominal (8 fps) period
    assert probe(write_video(tmp_path / "cfr.mp4", marked_clip(8), fps=10)).variable_fps is False


def test_probe_counts_frames_the_container_does_not_declare(tmp_path: Path):
    path = write_with(tmp_path / "clip.mkv", marked_clip(9), fmt="matroska")
    info = probe(path)
    assert (info.num_frames, info.fps, info.width, info.height) == (9, 8.0, 64, 48)
    assert info.duration == pytest.approx(9 / 8)


def test_probe_sees_audio(tmp_path: Path):
    assert probe(write_with(tmp_path / "talk.mp4", marked_clip(4), audio=True)).has_audio is True


# -- rotation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rotation", "hflip", "expected_rotation", "upright"),
    [
        (90, False, 90, lambda clip: np.rot90(clip, 1, axes=(1, 2))),
        (-90, False, -90, lambda clip: np.rot90(clip, -1, axes=(1, 2))),
        (180, False, 180, lambda clip: clip[:, ::-1, ::-1]),
        (90, True, 90, lambda clip: np.rot90(clip, 1, axes=(1, 2))[:, :, ::-1]),
    ],
)
def test_display_matrix_is_honoured(tmp_path: Path, rotation, hflip, expected_rotation, upright):
    clip = marked_clip(3)
    path = write_with(tmp_path / "rot.mp4", clip, **LOSSLESS, rotation=rotation, hflip=hflip)
    info = probe(path)
    assert info.rotation == expected_rotation
    expected = upright(clip)
    assert (info.height, info.width) == expected.shape[1:3]
    np.testing.assert_array_equal(read_frames(path), expected)


def test_legacy_rotate_tag_is_honoured(tmp_path: Path):
    clip = marked_clip(3)
    path = write_with(tmp_path / "tag.mkv", clip, **LOSSLESS, fmt="matroska", metadata={"rotate": "90"})
    assert probe(path).rotation == -90  # the old tag counts clockwise
    np.testing.assert_array_equal(read_frames(path), np.rot90(clip, -1, axes=(1, 2)))


def test_max_size_applies_to_the_displayed_frame(tmp_path: Path):
    path = write_with(tmp_path / "portrait.mp4", marked_clip(2), rotation=-90)
    assert read_frames(path, max_size=32).shape == (2, 32, 24, 3)


# -- ranges, fps, size ------------------------------------------------------------------------


def test_frame_range_matches_slicing(horse):
    path, full = horse
    assert full.shape == (49, 480, 720, 3)
    np.testing.assert_array_equal(read_frames(path, start=10, end=20), full[10:20])
    np.testing.assert_array_equal(read_frames(path, start=45), full[45:])
    first_two = []
    for frame in iter_frames(path):
        first_two.append(frame)
        if len(first_two) == 2:
            break
    np.testing.assert_array_equal(np.stack(first_two), full[:2])


def test_half_fps_takes_every_other_frame(horse):
    path, full = horse
    halved = read_frames(path, fps=4)
    assert len(halved) == 25
    np.testing.assert_array_equal(halved, full[::2])
    np.testing.assert_array_equal(read_frames(path, fps=4, start=5, end=9), full[::2][5:9])


def test_double_fps_repeats_frames(horse):
    path, full = horse
    doubled = read_frames(path, fps=16, end=10)
    np.testing.assert_array_equal(doubled, np.repeat(full[:5], 2, axis=0))
    assert sum(1 for _ in iter_frames(path, fps=16)) == 98


def test_fps_resampling_follows_timestamps_of_variable_rate_input(tmp_path: Path):
    times = [0, 100, 150, 400, 450, 500, 900, 1000]
    path = write_with(tmp_path / "vfr.mp4", marked_clip(8), times_ms=times, options={"bf": "0"})
    # The frame on screen at each 100 ms instant: 0.2 and 0.3 s show the 150 ms frame, 0.45 s is skipped,
    # and the last frame, lasting one nominal 8 fps period, is still on screen at 1.1 s.
    assert frame_ids(read_frames(path, fps=10)) == [0, 1, 2, 2, 3, 5, 5, 5, 5, 6, 7, 7]
    assert frame_ids(read_frames(path)) == list(range(8))


def test_max_size_shrinks_like_area_resize(horse):
    path, full = horse
    small = read_frames(path, end=3, max_size=360)
    assert small.shape == (3, 240, 360, 3)
    reference = np.stack([cv2.resize(f, (360, 240), interpolation=cv2.INTER_AREA) for f in full[:3]])
    assert psnr(small, reference) > 30
    assert read_frames(path, end=1, max_size=2000).shape == (1, 480, 720, 3)  # never enlarged


@pytest.mark.parametrize(
    ("codec", "options"), [("libx264", {}), ("libx265", {"x265-params": "log-level=error"})]
)
def test_ten_bit_input_decodes_to_eight_bit_rgb(tmp_path: Path, codec: str, options: dict[str, str]):
    clip = np.zeros((3, 64, 64, 3), np.uint8)
    clip[:, :, :32] = (200, 100, 50)
    clip[:, :, 32:] = (10, 20, 240)
    path = write_with(tmp_path / f"{codec}.mp4", clip, codec=codec, pix_fmt="yuv420p10le", options=options)
    info = probe(path)
    assert (info.bit_depth, info.pix_fmt) == (10, "yuv420p10le")
    decoded = read_frames(path)
    assert decoded.dtype == np.uint8 and decoded.shape == clip.shape
    inner = (slice(None), slice(8, -8), np.r_[4:24, 40:60])  # away from the chroma edge
    assert np.abs(decoded[inner].astype(int) - clip[inner]).max() <= 8


def test_full_range_source_keeps_its_levels(tmp_path: Path):
    """A full-range (JPEG/pc) VP9 stream: read as limited range, mid-tones would be stretched."""
    clip = np.zeros((2, 32, 32, 3), np.uint8)
    clip[:, :, 16:] = (200, 30, 60)
    path = tmp_path / "full_range.webm"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libvpx-vp9", rate=8)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        stream.codec_context.color_range = av.video.reformatter.ColorRange.JPEG
        for rgb in clip:
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
                format="yuv420p", dst_color_range="JPEG"
            )
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    decoded = read_frames(path)
    assert np.abs(decoded[:, 16, 24].astype(int) - (200, 30, 60)).max() <= 6
    assert decoded[:, 16, 4].max() <= 4


# -- failures ---------------------------------------------------------------------------------


def _text_file(tmp: Path) -> Path:
    path = tmp / "notes.mp4"
    path.write_text("this is not a video\n")
    return path


def _text_txt(tmp: Path) -> Path:  # FFmpeg would render this as ANSI art
    path = tmp / "notes.txt"
    path.write_text("just words\n" * 40)
    return path


def _png(tmp: Path) -> Path:
    path = tmp / "still.mp4"
    cv2.imwrite(str(tmp / "still.png"), np.zeros((16, 16, 3), np.uint8))
    (tmp / "still.png").rename(path)
    return path


def _audio_only(tmp: Path) -> Path:
    path = tmp / "voice.m4a"
    with av.open(str(path), "w", format="mp4") as container:
        write_silence(container, add_silent_audio(container))
    return path


def _audio_with_cover(tmp: Path) -> Path:  # FFmpeg shows the cover as a one-picture video stream
    path = tmp / "song.mka"
    with av.open(str(path), "w", format="matroska") as container:
        container.add_attachment(
            name="cover.png", mimetype="image/png", data=cv2.imencode(".png", marked_clip(1)[0])[1].tobytes()
        )
        write_silence(container, add_silent_audio(container))
    return path


def _empty(tmp: Path) -> Path:
    path = tmp / "empty.mp4"
    path.touch()
    return path


def _cut(source: Path, target: Path, keep: float) -> Path:
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * keep)])
    return target


def _truncated_index_last(tmp: Path) -> Path:
    return _cut(write_video(tmp / "full.mp4", smooth_clip(6, 48, 64), fps=8), tmp / "cut.mp4", 0.5)


def _truncated_faststart(tmp: Path) -> Path:
    full = write_with(tmp / "fs.mp4", smooth_clip(6, 48, 64), container_options={"movflags": "faststart"})
    return _cut(full, tmp / "cut_faststart.mp4", 0.7)


def _truncated_mkv(tmp: Path) -> Path:
    return _cut(write_with(tmp / "full.mkv", smooth_clip(6, 48, 64), fmt="matroska"), tmp / "cut.mkv", 0.7)


def _unsupported(tmp: Path) -> Path:
    data = write_video(tmp / "ok.mp4", marked_clip(3), fps=8).read_bytes()
    entry = data.rfind(b"avc1")  # the sample entry (the first avc1 is a brand in ftyp)
    path = tmp / "evc.mp4"
    path.write_bytes(data[:entry] + b"evc1" + data[entry + 4 :])  # EVC: known to FFmpeg, no decoder here
    return path


def _zero_frames(tmp: Path) -> Path:
    path = tmp / "nothing.avi"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=8)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        container.start_encoding()
    return path


BAD_FILES = [
    (lambda tmp: tmp / "missing.mp4", MediaError),
    (_text_file, NotAVideoError),
    (_text_txt, NotAVideoError),
    (_png, NotAVideoError),
    (_audio_only, NotAVideoError),
    (_audio_with_cover, NotAVideoError),
    (_empty, NotAVideoError),
    (_truncated_index_last, TruncatedMediaError),
    (_truncated_faststart, TruncatedMediaError),
    (_truncated_mkv, TruncatedMediaError),
    (_unsupported, UnsupportedCodecError),
    (_zero_frames, EmptyVideoError),
]


@pytest.mark.parametrize(("make", "error"), BAD_FILES, ids=lambda value: getattr(value, "__name__", ""))
def test_bad_inputs_raise_specific_errors_naming_the_file(tmp_path: Path, make, error):
    path = make(tmp_path)
    for attempt in (probe, read_frames, lambda p: list(iter_frames(p)), _open_frames):
        with pytest.raises(MediaError) as caught:
            attempt(path)
        assert type(caught.value) is error, caught.value
        assert path.name in str(caught.value) and caught.value.path == str(path)
        assert caught.value.reason and caught.value.kind == error.kind


def _open_frames(path: Path, pixels: str = "rgb", **window) -> tuple[VideoInfo, list]:
    with open_frames(path, pixels, **window) as (info, frames):
        return info, list(frames)


def _same(a: list, b: list) -> bool:
    """Equal frame lists, each frame an array or a tuple of arrays (RGB and planes)."""

    def flat(frame: np.ndarray | tuple) -> np.ndarray:
        return np.concatenate([x.ravel() for x in (frame if isinstance(frame, tuple) else (frame,))])

    return len(a) == len(b) and all(np.array_equal(flat(x), flat(y)) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize(
    "make",
    [
        lambda tmp, media: media / "horse_gallop.mp4",
        lambda tmp, media: write_with(
            tmp / "vfr.mp4",
            marked_clip(8),
            times_ms=[0, 100, 150, 400, 450, 500, 900, 1000],
            options={"bf": "0"},
        ),
        lambda tmp, media: write_with(tmp / "clip.mkv", marked_clip(9), fmt="matroska", audio=True),
        lambda tmp, media: write_with(tmp / "rot.mp4", marked_clip(3), **LOSSLESS, rotation=90, hflip=True),
        lambda tmp, media: write_with(
            tmp / "tag.mkv", marked_clip(3), **LOSSLESS, fmt="matroska", metadata={"rotate": "90"}
        ),
    ],
    ids=["mp4", "vfr", "mkv_audio", "rotated", "rotate_tag"],
)
def test_open_frames_is_probe_and_the_frames_from_one_opening(tmp_path: Path, shared_media: Path, make):
    path = make(tmp_path, shared_media)
    window = {"start": 1, "end": 7, "fps": 4, "max_size": 40}
    for pixels, iterate in [
        ("rgb", iter_frames),
        ("yuv420p", iter_yuv420p),
        ("rgb+yuv420p", iter_rgb_yuv420p),
    ]:
        info, frames = _open_frames(path, pixels, **window)
        assert info == probe(path)
        assert _same(frames, list(iterate(path, **window))) and frames, pixels
    assert _same(_open_frames(path)[1], list(iter_frames(path)))


def test_real_png_is_not_a_video(shared_media: Path):
    with pytest.raises(NotAVideoError, match=r"camping\.png.*still image"):
        probe(shared_media / "camping.png")


def test_size_limits(horse):
    path, _ = horse
    with pytest.raises(MediaTooLargeError, match="720x480"):
        read_frames(path, max_pixels=100_000)
    with pytest.raises(MediaTooLargeError, match="more than 10 frames"):
        read_frames(path, max_frames=10)
    assert len(read_frames(path, max_frames=49)) == 49


def test_empty_selection_and_bad_arguments(horse):
    path, _ = horse
    with pytest.raises(EmptyVideoError, match="horse_gallop"):
        read_frames(path, start=60)
    with pytest.raises(ValueError):
        iter_frames(path, start=5, end=2)
    with pytest.raises(ValueError):
        iter_frames(path, fps=-1)


def test_encoding_is_reproducible(tmp_path, shared_media):
    """The same frames must give the same file: builds on different executors store identical media."""
    import hashlib

    from insvie.media import read_frames, write_video

    frames = read_frames(shared_media / "car_dirt_road.mp4", end=25)
    digests = set()
    for i in range(4):
        write_video(tmp_path / f"run{i}.mp4", frames, 8)
        digests.add(hashlib.sha256((tmp_path / f"run{i}.mp4").read_bytes()).hexdigest())
    assert len(digests) == 1
