"""Candidates per second of a first-frame guidance sweep: one denoising loop per batch against one call each.

    .venv/bin/python benchmarks/edit_sweep.py [--backends instruct_pix2pix,flux_kontext,qwen_image_edit]
        [--items 8] [--settings 6] [--steps 4] [--size 64x96] [--repeat 1] [--threads 1] [--quick]

For each backend, a tiny randomly initialised checkpoint (``insvie.tiny``) edits a batch of ``--items``
images (each with its own instruction and seed) with InsViE's default sweep of ``--settings`` guidance
settings, on the CPU, three ways:

- ``loop``: what the edit stage does today, ``edit()`` per item with ``sampler="pipeline"``: one
  diffusers call per setting, guidance as a scalar;
- ``per-item sweep``: ``edit()`` per item with ``sampler="sweep"``: one loop over an item's settings
  (what the stage gets from the default sampler until it calls ``edit_batch``);
- ``batched``: one ``edit_batch()`` over all items with ``sampler="sweep"``: one loop over every candidate.

It prints candidates per second of each (median of ``--repeat`` rounds, the three interleaved so they
see the same load), the ratio batched / loop (the issue's aim: >= 3x) and the largest pixel difference
between the batched and the loop candidates (one grey level at most: batched kernels round apart).

The tiny models are overhead-bound where real ones are compute-bound, so these ratios show what batching
saves in per-call work (prompt and image encoding, scheduler set-up, Python) on a CPU, not a GPU's
figure. Qwen-Image-Edit conditions on the source at ~1 MP whatever the output size: its tiny model
spends most of its time in attention over those ~4,100 tokens, so its ratio stays lower on a CPU.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from insvie.backends.image_edit import ImageEditRequest, default_sweep, make_image_editor
from insvie.tiny import TINY_IMAGE_EDITORS

INSTRUCTIONS = (
    "make it snowy",
    "turn the square into a red circle",
    "add fog",
    "make it look like a watercolour painting",
    "change the season to autumn",
    "make it night time with street lights",
    "give it a warm sunset glow",
    "turn it into a pencil sketch",
)


def parse_size(text: str) -> tuple[int, int]:
    try:
        height, width = (int(side) for side in text.lower().split("x"))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"size must be HxW, got {text!r}") from error
    if height < 16 or width < 16:
        raise argparse.ArgumentTypeError(f"sides must be at least 16, got {text!r}")
    return height, width


def requests(count: int, settings: int, steps: int, size: tuple[int, int]) -> list[ImageEditRequest]:
    """``count`` smooth random images, each with its own instruction and seed, all with one sweep."""
    rng = np.random.default_rng(0)
    height, width = size
    y, x = np.mgrid[0:height, 0:width]
    sweep = default_sweep(settings, steps=steps)
    out = []
    for index in range(count):
        base = rng.integers(0, 256, 3)
        image = np.stack([x * 255 // width, y * 255 // height, np.full_like(x, base[2])], axis=-1)
        image[height // 4 : height // 2, width // 4 : width // 2] = base
        instruction = INSTRUCTIONS[index % len(INSTRUCTIONS)]
        out.append(ImageEditRequest(image.astype(np.uint8), instruction, sweep, 1000 + index))
    return out


def median_seconds(runs: list[Callable[[], Any]], repeat: int) -> tuple[list[float], list[Any]]:
    """Median seconds of each run over ``repeat`` rounds (interleaved) and each run's last result."""
    times: list[list[float]] = [[] for _ in runs]
    results: list[Any] = [None] * len(runs)
    for _ in range(repeat):
        for index, run in enumerate(runs):
            start = time.perf_counter()
            results[index] = run()
            times[index].append(time.perf_counter() - start)
    return [statistics.median(spent) for spent in times], results


def measure(name: str, folder: Path, args: argparse.Namespace) -> float:
    """Print one backend's figures; return its ratio batched / loop."""
    loop_editor, sweep_editor = (
        make_image_editor(name, model=str(folder), device="cpu", resolution="input", sampler=sampler)
        for sampler in ("pipeline", "sweep")
    )
    for editor in (loop_editor, sweep_editor):
        editor.load()
    batch = requests(args.items, args.settings, args.steps, args.size)
    warm = requests(1, 1, 2, (16, 16))[0]  # first calls pay one-off set-up; keep it out of the timings
    loop_editor.edit(*warm[:3], seed=warm.seed)
    sweep_editor.edit(*warm[:3], seed=warm.seed)

    (loop_s, item_s, batched_s), (loop_out, _, batched_out) = median_seconds(
        [
            lambda: [loop_editor.edit(*r[:3], seed=r.seed) for r in batch],
            lambda: [sweep_editor.edit(*r[:3], seed=r.seed) for r in batch],
            lambda: sweep_editor.edit_batch(batch),
        ],
        args.repeat,
    )
    difference = max(
        int(np.abs(a.astype(np.int16) - b).max())
        for row_a, row_b in zip(loop_out, batched_out, strict=True)
        for a, b in zip(row_a, row_b, strict=True)
    )
    candidates = args.items * args.settings
    ratio = loop_s / batched_s
    height, width = args.size
    print(f"\n== {name}: {args.items} items x {args.settings} settings, {args.steps} steps, {height}x{width}")
    for label, seconds in (
        ("loop (pipeline per setting)", loop_s),
        ("per-item sweep", item_s),
        ("batched sweep", batched_s),
    ):
        print(f"{label:30s} {seconds:8.2f} s  {candidates / seconds:8.2f} candidates/s")
    print(f"{'ratio batched / loop':30s} {ratio:8.2f}x   (per-item sweep / loop {loop_s / item_s:.2f}x)")
    print(f"{'max |batched - loop|':30s} {difference:8d} grey level(s)")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default=",".join(TINY_IMAGE_EDITORS), help="comma-separated names")
    parser.add_argument("--items", type=int, default=8)
    parser.add_argument("--settings", type=int, default=6)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--size", type=parse_size, default=(64, 96), help="HxW of the images")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; the median is reported")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--quick", action="store_true", help="1 item x 2 settings, 2 steps: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.items, args.settings, args.steps, args.repeat = 1, 2, 2, 1
    names = [name.strip() for name in args.backends.split(",") if name.strip()]
    unknown = sorted(set(names) - set(TINY_IMAGE_EDITORS))
    if unknown or min(args.items, args.settings, args.steps, args.repeat, args.threads) < 1:
        parser.error(f"unknown backends {unknown} or a count below 1")
    torch.set_num_threads(args.threads)
    print("command:", shlex.join([Path(sys.executable).name, *sys.argv]))
    print(f"torch {torch.__version__}, {args.threads} thread(s), CPU, tiny random checkpoints")
    ratios = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            ratios[name] = measure(name, TINY_IMAGE_EDITORS[name](Path(tmp) / name), args)
    figures = ", ".join(f"{name} {ratio:.2f}x" for name, ratio in ratios.items())
    print(f"\nsummary: batched sweep / per-call loop, candidates per second: {figures} (aim >= 3x)")


if __name__ == "__main__":
    main()
