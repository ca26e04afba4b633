"""Decode and encode throughput at 720x480: insvie against raw PyAV and OpenCV.

    .venv/bin/python benchmarks/media_io.py [MEDIA_DIR] [--repeat N]

MEDIA_DIR defaults to examples/media in the repository. Each figure is the best of N runs, since
on a shared machine the slower runs measure the neighbours rather than the code. OpenCV's readers and
writers work in BGR; its rows skip the conversion to RGB that the others include, which flatters it
slightly. OpenCV headless here writes MPEG-4 Part 2 (mp4v) only, so PyAV's ``mpeg4`` encoder is
timed too for a like-for-like codec comparison.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av
import cv2
import numpy as np
from baseline import pyav_decode

from insvie.media import probe, read_frames, write_video

REPO_ROOT = Path(__file__).resolve().parents[1]


def best_rate(run: Callable[[Path], int], paths: list[Path], repeat: int) -> float:
    """Frames per second of the fastest of ``repeat`` passes of ``run`` over ``paths``.

    ``run`` returns how many frames it handled.
    """
    best = 0.0
    for _ in range(repeat):
        started = time.perf_counter()
        frames = sum(run(path) for path in paths)
        best = max(best, frames / (time.perf_counter() - started))
    return best


def insvie_decode(path: Path) -> int:
    return len(read_frames(path))


def cv2_decode(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


def insvie_encode(path: Path, frames: np.ndarray, lossless: bool) -> int:
    write_video(path, frames, 8, lossless=lossless)
    return len(frames)


def pyav_encode(path: Path, frames: np.ndarray, codec: str, options: dict[str, str]) -> int:
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=8)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        stream.options = options
        for rgb in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode())
    return len(frames)


def cv2_encode(path: Path, frames: np.ndarray) -> int:
    height, width = frames.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 8, (width, height))
    if not writer.isOpened():
        raise SystemExit("OpenCV cannot open an mp4v writer here")
    for rgb in frames:
        writer.write(np.ascontiguousarray(rgb[:, :, ::-1]))
    writer.release()
    return len(frames)


def print_table(title: str, rows: list[tuple[str, float]]) -> None:
    reference = rows[0][1]
    print(f"\n{title}")
    print(f"  {'':<44}{'frames/s':>10}{'vs first':>10}")
    for name, rate in rows:
        print(f"  {name:<44}{rate:>10.1f}{rate / reference:>9.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("media", nargs="?", type=Path, default=REPO_ROOT / "examples" / "media")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best counts")
    args = parser.parse_args()
    clips = sorted(args.media.glob("*.mp4"))
    if not clips:
        raise SystemExit(f"no .mp4 clips in {args.media}")

    readers: list[tuple[str, Callable[[Path], int]]] = [
        ("insvie.read_frames (RGB, threaded)", insvie_decode),
        ("PyAV decode + to_ndarray rgb24, threaded", lambda clip: pyav_decode(clip, threaded=True)),
        ("PyAV decode + to_ndarray rgb24, 1 thread", lambda clip: pyav_decode(clip, threaded=False)),
        ("cv2.VideoCapture (BGR)", cv2_decode),
    ]
    rows = [(name, best_rate(read, clips, args.repeat)) for name, read in readers]
    frames = read_frames(clips[0])
    height, width = frames.shape[1:3]
    total = sum(probe(clip).num_frames for clip in clips)
    print_table(
        f"decode: {len(clips)} clips, {total} frames of {width}x{height}, best of {args.repeat}", rows
    )

    x264 = {"crf": "18", "preset": "veryfast"}
    with tempfile.TemporaryDirectory() as tmp:
        writers: list[tuple[str, Callable[[Path], int]]] = [
            ("insvie.write_video (x264 crf 18 veryfast)", lambda out: insvie_encode(out, frames, False)),
            ("insvie.write_video lossless (x264rgb qp 0)", lambda out: insvie_encode(out, frames, True)),
            ("PyAV libx264 (crf 18 veryfast)", lambda out: pyav_encode(out, frames, "libx264", x264)),
            (
                "PyAV mpeg4 (the codec of cv2 mp4v)",
                lambda out: pyav_encode(out, frames, "mpeg4", {}),
            ),
            ("cv2.VideoWriter mp4v (BGR)", lambda out: cv2_encode(out, frames)),
        ]
        target = Path(tmp) / "out.mp4"
        rows = [(name, best_rate(write, [target], args.repeat)) for name, write in writers]
    print_table(
        f"encode: {len(frames)} frames of {width}x{height} ({clips[0].name}), best of {args.repeat}", rows
    )


if __name__ == "__main__":
    main()
