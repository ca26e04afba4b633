"""Throughput of the CPU propagators and the camera animator at 720x480, next to raw decoding.

    .venv/bin/python benchmarks/propagate_speed.py [CLIP] [--frames 49] [--repeat 3]

CLIP defaults to ../shared/media/car_dirt_road.mp4 beside the repository. Every figure is output
frames per second, the best of ``--repeat`` runs (on a shared machine the slower runs measure the
neighbours), and is shown as a ratio to raw PyAV decoding of the same frames measured in the same
run, so figures from different machines can be compared through the ratio. flow_warp includes
fitting its colour transfer; it runs with its defaults (flow at 240 px, two helper threads), in the
calling thread alone (``workers=0``: what a one-CPU worker gets), and with the settings the
``propagate`` step passes (flow at 360 px). animate_pair counts frame pairs (a source and an edited
frame each) and includes nothing but planning and rendering.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from baseline import pyav_decode

from insvie.backends.camera import animate_pair
from insvie.backends.procedural import get_operator
from insvie.backends.propagation import FlowWarpConfig, propagate_flow_warp, propagate_framewise
from insvie.media import read_frames
from insvie.stages.propagate import PropagateConfig

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CLIP = REPO_ROOT.parent / "shared" / "media" / "car_dirt_road.mp4"


def best_rate(run: Callable[[], int], repeat: int) -> float:
    """Frames per second of the fastest of ``repeat`` calls of ``run`` (which returns its frame count)."""
    best = 0.0
    for _ in range(repeat):
        started = time.perf_counter()
        frames = run()
        best = max(best, frames / (time.perf_counter() - started))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", nargs="?", type=Path, default=DEFAULT_CLIP)
    parser.add_argument("--frames", type=int, default=49)
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best counts")
    args = parser.parse_args()

    video = read_frames(args.clip, end=args.frames)
    count, height, width = video.shape[:3]
    sepia, cartoon = get_operator("sepia"), get_operator("cartoon")
    sepia_first = sepia.apply(video[0], 0.8)
    cartoon_first = cartoon.apply(video[0], 0.8)
    quality = FlowWarpConfig(flow_preset="fast")
    one_thread = FlowWarpConfig(workers=0)
    step_settings = PropagateConfig().flow_warp()

    def animate() -> int:
        animate_pair(video[0], sepia_first, path="dolly_in", num_frames=count, out_size=(height, width))
        return count

    rows: list[tuple[str, Callable[[], int]]] = [
        ("PyAV decode, rgb24, threaded (reference)", lambda: pyav_decode(args.clip, count)),
        ("framewise, sepia (pointwise LUT)", lambda: len(propagate_framewise(video, sepia, 0.8))),
        ("framewise, cartoon (filter)", lambda: len(propagate_framewise(video, cartoon, 0.8))),
        ("flow_warp, default (ultrafast flow)", lambda: len(propagate_flow_warp(video, cartoon_first).video)),
        (
            "flow_warp, workers=0 (calling thread only)",
            lambda: len(propagate_flow_warp(video, cartoon_first, one_thread).video),
        ),
        (
            f"flow_warp, propagate step (flow_size {step_settings.flow_size})",
            lambda: len(propagate_flow_warp(video, cartoon_first, step_settings).video),
        ),
        (
            "flow_warp, flow_preset='fast'",
            lambda: len(propagate_flow_warp(video, cartoon_first, quality).video),
        ),
        ("animate_pair, dolly_in (frame pairs)", animate),
    ]
    rates = [(name, best_rate(run, args.repeat)) for name, run in rows]
    reference = rates[0][1]
    print(f"{args.clip.name}: {count} frames of {width}x{height}, best of {args.repeat}")
    print(f"  {'':<44}{'frames/s':>10}{'vs decode':>11}")
    for name, rate in rates:
        print(f"  {name:<44}{rate:>10.1f}{rate / reference:>10.3f}x")


if __name__ == "__main__":
    main()
