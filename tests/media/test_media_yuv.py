"""yuv420p planes for re-encoding: decoded frames pass untouched where they can, others go through RGB."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import av
import numpy as np
import pytest

from insvie.errors import MediaError
from insvie.media import iter_frames, iter_rgb_yuv420p, iter_yuv420p, read_frames, write_yuv420p


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def as_rgb(planes: np.ndarray) -> np.ndarray:
    return av.VideoFrame.from_ndarray(planes, format="yuv420p").to_ndarray(format="rgb24")


def write_rgb(
    path: Path,
    frames: np.ndarray,
    *,
    rotation: float | None = None,
    full_range: bool = False,
    bt709: bool = False,
) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=8)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        if rotation is not None:
            stream.set_display_rotation(rotation)
        if full_range:
            stream.codec_context.color_range = av.video.reformatter.ColorRange.JPEG
        if bt709:
            stream.codec_context.colorspace = av.video.reformatter.Colorspace.ITU709
        for rgb in frames:
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            if full_range:
                frame = frame.reformat(format="yuv420p", dst_color_range="JPEG")
            if bt709:
                frame = frame.reformat(format="yuv420p", dst_colorspace="ITU709")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


@pytest.fixture(scope="module")
def horse(shared_media: Path) -> Path:
    return shared_media / "horse_gallop.mp4"


def test_upright_420_frames_are_the_decoded_planes(horse: Path):
    with av.open(str(horse)) as container:
        decoded = [frame.to_ndarray() for _, frame in zip(range(6), container.decode(video=0), strict=False)]
    planes = list(iter_yuv420p(horse, end=6, fps=8, max_size=720))
    assert all(np.array_equal(a, b) for a, b in zip(planes, decoded, strict=True))
    assert all(
        np.array_equal(a, b) for a, b in zip(iter_yuv420p(horse, start=3, end=6), planes[3:], strict=True)
    )


@pytest.mark.parametrize("max_size", [720, 360, 127])
def test_planes_show_the_frames_iter_frames_gives(horse: Path, max_size: int):
    """Scaled plane by plane (360) or through RGB with odd sides padded (127: 127x85)."""
    rgb = read_frames(horse, end=4, max_size=max_size)
    planes = list(iter_yuv420p(horse, end=4, max_size=max_size))
    height, width = rgb.shape[1:3]
    assert planes[0].shape == ((height + height % 2) * 3 // 2, width + width % 2)
    shown = np.stack([as_rgb(p)[:height, :width] for p in planes])
    assert psnr(shown, rgb) > 36


def test_both_from_one_decode_match_each_alone(horse: Path):
    pairs = list(iter_rgb_yuv420p(horse, start=2, end=5, fps=4, max_size=360))
    alone = zip(
        iter_frames(horse, start=2, end=5, fps=4, max_size=360),
        iter_yuv420p(horse, start=2, end=5, fps=4, max_size=360),
        strict=True,
    )
    for (rgb, planes), (rgb_alone, planes_alone) in zip(pairs, alone, strict=True):
        assert np.array_equal(rgb, rgb_alone) and np.array_equal(planes, planes_alone)


def test_rotated_full_range_and_hd_matrix_sources_go_through_rgb(tmp_path: Path):
    clip = np.zeros((2, 48, 64, 3), np.uint8)
    clip[:, :, 32:] = (200, 30, 60)
    clip[:, :8, :8] = 255
    for path in [
        write_rgb(tmp_path / "rotated.mp4", clip, rotation=-90),
        write_rgb(tmp_path / "full.mp4", clip, full_range=True),
        write_rgb(tmp_path / "bt709.mp4", clip, bt709=True),  # untagged planes would read back in BT.601
    ]:
        rgb = read_frames(path)
        shown = np.stack([as_rgb(p) for p in iter_yuv420p(path)])
        assert shown.shape == rgb.shape
        assert psnr(shown, rgb) > 35, path.name


def test_write_yuv420p_round_trip_and_bad_planes(tmp_path: Path, horse: Path):
    planes = list(iter_yuv420p(horse, end=9))
    out = write_yuv420p(tmp_path / "clip.mp4", planes, 8, crf=21, preset="ultrafast", threads=1)
    assert psnr(read_frames(out), read_frames(horse, end=9)) > 38
    with pytest.raises(MediaError, match="yuv420p planes"):
        write_yuv420p(tmp_path / "bad.mp4", [np.zeros((48, 64, 3), np.uint8)], 8)
    with pytest.raises(MediaError, match="no frames"):
        write_yuv420p(tmp_path / "empty.mp4", [], 8)
    assert not list(tmp_path.glob(".*partial*"))


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs to differ from one")
def test_fixed_threads_encode_the_same_bytes_on_any_number_of_cpus(tmp_path: Path, horse: Path):
    """x264's default thread count follows the CPUs the process may use; a fixed one does not."""
    planes = list(iter_yuv420p(horse, end=9))
    cpus = os.sched_getaffinity(0)

    def digest(name: str, one_cpu: bool, threads: int | None) -> str:
        if one_cpu:
            os.sched_setaffinity(0, {min(cpus)})
        try:
            out = write_yuv420p(tmp_path / name, planes, 8, crf=21, preset="ultrafast", threads=threads)
        finally:
            os.sched_setaffinity(0, cpus)
        return hashlib.sha256(out.read_bytes()).hexdigest()

    assert digest("a.mp4", False, 1) == digest("b.mp4", True, 1)
    assert digest("c.mp4", False, None) != digest("d.mp4", True, None)  # why the thread count is fixed
