"""Curation analysis throughput against raw PyAV decoding, at 720x480.

    .venv/bin/python benchmarks/analysis_speed.py [MEDIA_DIR] [--repeat N] [--pairs P]

MEDIA_DIR defaults to examples/media in the repository. The baseline is PyAV decoding every clip
to RGB (threaded, as insvie decodes). The analysis is what curation runs on each decoded clip: the
streaming shot detector on every frame, motion from ``--pairs`` sampled flow pairs, quality (sharpness,
exposure, blockiness, colourfulness) on 5 frames and the clip hash on 3. Frames per second count clip
frames, so the figures compare directly: the curate stage runs at ``1 / (1/decode + 1/analysis)`` and
its ratio to decode alone is the figure that must stay >= 0.5. Each figure is the best of N runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
from baseline import best_seconds

from insvie.backends.analysis.motion import motion_stats
from insvie.backends.analysis.phash import clip_hash
from insvie.backends.analysis.quality import clip_quality
from insvie.backends.analysis.shots import ShotDetector

REPO_ROOT = Path(__file__).resolve().parents[1]


def pyav_decode(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(stream)])


def shots(video: np.ndarray) -> list[tuple[int, int]]:
    detector = ShotDetector()
    for frame in video:
        detector.push(frame)
    return detector.shots()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("media", nargs="?", type=Path, default=REPO_ROOT / "examples" / "media")
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement; the best counts")
    parser.add_argument("--pairs", type=int, default=8, help="flow pairs sampled per clip for motion")
    args = parser.parse_args()
    paths = sorted(args.media.glob("*.mp4"))
    if not paths:
        raise SystemExit(f"no .mp4 clips in {args.media}")

    decode_s = best_seconds(lambda: [pyav_decode(p) for p in paths], args.repeat)
    clips = [pyav_decode(p) for p in paths]
    frames = sum(len(c) for c in clips)
    height, width = clips[0].shape[1:3]

    parts: list[tuple[str, Callable[[np.ndarray], object]]] = [
        ("shots (every frame, 128 px HSV)", shots),
        (f"motion ({args.pairs} DIS ultrafast pairs, 256 px)", lambda v: motion_stats(v, pairs=args.pairs)),
        ("quality (5 frames)", lambda v: clip_quality(v, frames=5)),
        ("clip hash (3 frames)", clip_hash),
    ]
    timed = [
        (name, best_seconds(lambda run=run: [run(c) for c in clips], args.repeat)) for name, run in parts
    ]
    analysis_s = best_seconds(lambda: [[run(c) for _, run in parts] for c in clips], args.repeat)

    decode_fps = frames / decode_s
    analysis_fps = frames / analysis_s
    stage_fps = frames / (decode_s + analysis_s)
    print(f"{len(clips)} clips, {frames} frames of {width}x{height}, best of {args.repeat}")
    print(f"  {'':<46}{'ms/frame':>10}{'frames/s':>11}")
    rows = [
        ("PyAV decode (rgb24, threaded)", decode_s),
        *timed,
        ("analysis, all of the above", analysis_s),
        ("curate = decode + analysis", decode_s + analysis_s),
    ]
    for name, seconds in rows:
        print(f"  {name:<46}{1e3 * seconds / frames:>10.3f}{frames / seconds:>11.0f}")
    print(f"\nanalysis / decode speed: {analysis_fps / decode_fps:.2f}x")
    print(f"curate / decode speed:   {stage_fps / decode_fps:.2f}x (target >= 0.5)")


if __name__ == "__main__":
    main()
