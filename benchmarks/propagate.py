"""Propagation quality on SynthEdit: flow-warp against image-to-video propagation (SVD, Wan 2.1 I2V).

    .venv/bin/python benchmarks/propagate.py [--quick] [--samples 6] [--frames 13] [--size 96 128]
        [--i2v [svd] [wan]] [--categories grayscale sepia]
        [--svd MODEL] [--wan MODEL] [--steps 25] [--height 576 --width 1024] [--device auto]

Each SynthEdit sample has a source video and its ground-truth edited video; every propagator gets the
source and the true edited first frame. Figures per method (means over samples): motion fidelity
(``motion_relative_epe`` of the result against the source: lower keeps the motion), edit persistence
(``persistence``: the first frames' edit still there at the end, 1 = fully), PSNR against the ground
truth edited video, and seconds per frame. Every figure is also given as a ratio to flow-warp measured
in the same run, so runs on different machines compare through the ratios.

``--categories`` picks the SynthEdit edit categories the samples cycle through: the global looks by
default; local ones (recolor, add, remove, background) at a size above flow_warp's ``flow_size``
(e.g. ``--size 480 720``) are what exercise its flow, e.g. ``--i2v --categories recolor background
--size 480 720 --frames 25``. ``--i2v`` names the image-to-video methods run beside flow_warp (both by
default; none when given alone).

Without ``--svd``/``--wan`` the script builds tiny *randomly initialised* models and runs them on the
CPU: that checks the mechanics (inversion, injection, windows, metrics) end to end and says nothing
about quality: random weights make noise. Real figures need real weights on a GPU, at sizes and
lengths that exercise the models and their windows, e.g.
``--svd stabilityai/stable-video-diffusion-img2vid-xt --wan Wan-AI/Wan2.1-I2V-14B-480P-Diffusers
--size 288 512 --frames 49 --dtype float16 --cpu-offload --decode-chunk-size 4``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from insvie.backends.analysis.consistency import motion_fidelity
from insvie.backends.analysis.persistence import edit_persistence
from insvie.backends.propagation import get_propagator
from insvie.synth import CATEGORIES, GLOBAL_CATEGORIES, generate_sample


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def measure(source: np.ndarray, truth: np.ndarray, result: np.ndarray) -> dict[str, float]:
    return {
        "relative_epe": motion_fidelity(source, result).relative_epe,
        "persistence": edit_persistence(source, result).persistence,
        "psnr": psnr(result, truth),
    }


def i2v_methods(args: argparse.Namespace, workdir: Path) -> tuple[dict[str, Callable], bool]:
    """The image-to-video propagators to run, and whether they are tiny random stand-ins."""
    wanted = args.i2v
    if not wanted:
        return {}, False
    from insvie.backends.propagation.i2v import I2VSettings
    from insvie.tiny import build_tiny_svd, build_tiny_wan_i2v

    tiny = args.svd is None and args.wan is None
    models = {"svd": args.svd, "wan": args.wan}
    if tiny:
        models = {
            "svd": str(build_tiny_svd(workdir / "svd")),
            "wan": str(build_tiny_wan_i2v(workdir / "wan")),
        }
        args.steps, args.height, args.width = min(args.steps, 4), 32, 48
    methods = {}
    for backend, model in models.items():
        if model is None or backend not in wanted:
            continue
        window = args.window if backend == "svd" else (args.window - 1) // 4 * 4 + 1
        settings = I2VSettings(
            model=model,
            num_frames=window,
            height=args.height,
            width=args.width,
            steps=args.steps,
            device=args.device,
            dtype=args.dtype,
            cpu_offload=args.cpu_offload,
            decode_chunk_size=args.decode_chunk_size,
        )
        propagate = get_propagator(backend)
        methods[backend] = lambda s, e, p=propagate, c=settings: p(s, e, config=c).video
    return methods, tiny


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 samples of 9 frames at 64x96 (smoke run)")
    parser.add_argument("--samples", type=int, default=6)
    parser.add_argument("--frames", type=int, default=13)
    parser.add_argument("--size", type=int, nargs=2, default=(96, 128), metavar=("H", "W"))
    parser.add_argument("--i2v", nargs="*", choices=("svd", "wan"), default=["svd", "wan"])
    parser.add_argument(
        "--categories", nargs="+", choices=CATEGORIES, default=list(GLOBAL_CATEGORIES), metavar="CATEGORY"
    )
    parser.add_argument("--svd", help="SVD weights (hub id or folder); none: tiny random models")
    parser.add_argument("--wan", help="Wan 2.1 I2V weights (hub id or folder)")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--window", type=int, default=25, help="frames per I2V window (Wan: rounded to 4k+1)")
    parser.add_argument("--height", type=int, default=576)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default=None)
    parser.add_argument("--cpu-offload", action="store_true")
    parser.add_argument("--decode-chunk-size", type=int, default=None)
    args = parser.parse_args()
    if args.quick:
        args.samples, args.frames, args.size = 2, 9, (64, 96)

    with tempfile.TemporaryDirectory() as tmp:
        methods, tiny = i2v_methods(args, Path(tmp))
        flow_warp = get_propagator("flow_warp")
        methods = {"flow_warp": lambda s, e: flow_warp(s, e).video, **methods}
        if tiny:
            print("NOTE: tiny randomly initialised I2V models on the CPU: a mechanics check only;")
            print("      their figures say nothing about propagation quality (pass --svd/--wan for that).")
        totals: dict[str, dict[str, list[float]]] = {name: {} for name in methods}
        for index in range(args.samples):
            category = args.categories[index % len(args.categories)]
            sample = generate_sample(index, size=tuple(args.size), num_frames=args.frames, category=category)
            for name, run in methods.items():
                started = time.perf_counter()
                result = run(sample.source, sample.clean_edited[0])
                seconds = (time.perf_counter() - started) / len(result)
                figures = {**measure(sample.source, sample.clean_edited, result), "s_per_frame": seconds}
                for key, value in figures.items():
                    totals[name].setdefault(key, []).append(value)
            print(f"sample {index} ({category}) done")

    means = {name: {k: float(np.mean(v)) for k, v in figures.items()} for name, figures in totals.items()}
    base = means["flow_warp"]
    print(f"\n{args.samples} SynthEdit samples, {args.frames} frames at {args.size[0]}x{args.size[1]}")
    print(f"{'method':<10} {'rel_epe':>9} {'persist':>9} {'psnr_gt':>9} {'s/frame':>9}   ratios to flow_warp")
    for name, m in means.items():
        ratios = " ".join(
            f"{key} {m[key] / base[key]:.2f}"
            for key in ("relative_epe", "persistence", "psnr", "s_per_frame")
        )
        print(
            f"{name:<10} {m['relative_epe']:9.3f} {m['persistence']:9.3f} {m['psnr']:9.2f}"
            f" {m['s_per_frame']:9.4f}   {ratios}"
        )
    others = [name for name in means if name != "flow_warp"]
    summary = ", ".join(
        f"{name}/flow_warp relative_epe {means[name]['relative_epe'] / base['relative_epe']:.2f}"
        f" persistence {means[name]['persistence'] / base['persistence']:.2f}"
        for name in others
    )
    if others:
        print(f"\nsummary: {summary}{' (tiny random models: mechanics only)' if tiny else ''}")


if __name__ == "__main__":
    main()
