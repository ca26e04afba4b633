"""CogVideoX VAE source encode: diffusers' 8-frame batches against the official whole-clip pass.

    .venv/bin/python benchmarks/vae_encode.py [--size 64x96] [--frames 49] [--repeat 3] [--threads 2]

diffusers' ``AutoencoderKLCogVideoX`` encodes 8 frames at a time (the first batch also takes the
leftover frames: 9 of 49) and carries its causal-convolution cache across the batches, but its
GroupNorm layers normalise each batch with that batch's own statistics, so the batched encode is not
the whole-clip one that the official InsViE SAT code does. This measures the difference on a real
clip (``horse_gallop.mp4``, resized and centre cropped to ``--size``, its first ``--frames`` frames)
through ``insvie.editor.vae_codec.encode_source`` with ``source_latent="mode"`` (the posterior mean,
so no noise is involved), once with ``batched=True`` and once with ``batched=False``, for two seeded,
randomly initialised VAEs on CPU:

- tiny: the test VAE of ``insvie.tiny.editor`` (block_out_channels (8, 8, 8, 8), 2 groups, 1 layer);
- wider: block_out_channels (32, 32, 64, 64), 8 groups, 1 layer per block, closer to the real
  model's structure (128, 256, 256, 512; 32 groups; 3 layers) but still CPU-sized.

Per VAE it prints the max abs and relative RMS difference of the scaled latents (batched against
whole, over all latents and per latent frame, with the input frames and batch each latent frame comes
from), the std of the latents for scale, a second whole-clip encode against the first (a sanity
baseline that must be 0), and the wall time of each way as a ratio whole / batched, both measured in
the same run (median of ``--repeat`` rounds, the two ways interleaved so they see the same load).

A random VAE is not the trained one: its activations, and so its GroupNorm statistics, differ from
CogVideoX's, so these figures show the mechanism and its order of size, not the real model's exact
figure.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from insvie.editor.vae_codec import encode_source
from insvie.media import read_frames, resize_center_crop

CLIP = Path(__file__).resolve().parent.parent / "examples" / "media" / "horse_gallop.mp4"
SCALING_FACTOR = 1.15258426
TEMPORAL_COMPRESSION = 4
CONFIGS: dict[str, dict[str, Any]] = {  # label: the VAE's width, groups and depth
    "tiny": {"block_out_channels": (8, 8, 8, 8), "norm_num_groups": 2, "layers_per_block": 1},
    "wider": {"block_out_channels": (32, 32, 64, 64), "norm_num_groups": 8, "layers_per_block": 1},
}


def parse_size(text: str) -> tuple[int, int]:
    try:
        height, width = (int(side) for side in text.lower().split("x"))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"size must be HxW, got {text!r}") from error
    if height <= 0 or width <= 0 or height % 8 or width % 8:
        raise argparse.ArgumentTypeError(f"sides must be positive multiples of 8, got {text!r}")
    return height, width


def build_vae(config: dict[str, Any], size: tuple[int, int], seed: int) -> Any:
    """A seeded, randomly initialised CogVideoX VAE (16 latent channels, 8x spatial / 4x temporal)."""
    from diffusers import AutoencoderKLCogVideoX

    blocks = len(config["block_out_channels"])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        vae = AutoencoderKLCogVideoX(
            in_channels=3,
            out_channels=3,
            down_block_types=("CogVideoXDownBlock3D",) * blocks,
            up_block_types=("CogVideoXUpBlock3D",) * blocks,
            latent_channels=16,
            temporal_compression_ratio=TEMPORAL_COMPRESSION,
            sample_height=size[0],
            sample_width=size[1],
            scaling_factor=SCALING_FACTOR,
            **config,
        )
    return vae.eval()


def batch_plan(num_frames: int, batch: int) -> list[tuple[int, int]]:
    """The input frame spans ``[start, end)`` diffusers' ``_encode`` feeds the encoder, in order."""
    remaining = num_frames % batch
    return [
        (batch * i + (0 if i == 0 else remaining), batch * (i + 1) + remaining)
        for i in range(max(num_frames // batch, 1))
    ]


def latent_origin(num_frames: int, batch: int) -> list[tuple[int, str]]:
    """Per latent frame: the batch it comes from and the input frames it covers."""
    step = TEMPORAL_COMPRESSION
    origin: list[tuple[int, str]] = []
    for index, (start, end) in enumerate(batch_plan(num_frames, batch)):
        if start == 0:  # causal temporal compression: the first frame alone, then groups of 4
            origin.append((index, "0"))
            start = 1
        origin.extend((index, f"{lo}-{lo + step - 1}") for lo in range(start, end, step))
    return origin


def median_seconds(runs: list[Callable[[], object]], repeat: int) -> list[float]:
    """Median seconds of each run over ``repeat`` rounds, the runs interleaved so all see the same load."""
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(repeat):
        for run, spent in zip(runs, times, strict=True):
            start = time.perf_counter()
            run()
            spent.append(time.perf_counter() - start)
    return [statistics.median(spent) for spent in times]


def rms(x: torch.Tensor) -> float:
    return float(x.double().pow(2).mean().sqrt())


def measure(label: str, config: dict[str, Any], frames: np.ndarray, args: argparse.Namespace) -> None:
    vae = build_vae(config, args.size, args.seed)
    device = torch.device("cpu")
    params = sum(p.numel() for p in vae.parameters())
    batch = vae.num_sample_frames_batch_size

    def encode(batched: bool) -> torch.Tensor:
        with torch.no_grad():
            return encode_source(vae, frames[None], device=device, source_latent="mode", batched=batched)

    whole = encode(False)[0]  # F, C, h, w
    again = encode(False)[0]
    batched = encode(True)[0]
    batched_s, whole_s = median_seconds([lambda: encode(True), lambda: encode(False)], args.repeat)

    diff = (batched - whole).abs()
    spans = batch_plan(len(frames), batch)
    print(
        f"\n== {label}: block_out_channels {tuple(config['block_out_channels'])}, "
        f"{config['norm_num_groups']} groups, {config['layers_per_block']} layer(s)/block, "
        f"{params / 1e6:.2f}M parameters"
    )
    print(
        f"latents (F, C, h, w) {tuple(whole.shape)}; diffusers batches of input frames: "
        + ", ".join(f"[{a},{b})" for a, b in spans)
    )
    print(f"latent std (whole, scaled)           {float(whole.std()):.4f}")
    print(
        f"whole vs whole again (sanity)        max abs {float((again - whole).abs().max()):.3g}, "
        f"rel RMS {rms(again - whole) / rms(whole):.3g}"
    )
    print(
        f"batched vs whole                     max abs {float(diff.max()):.4f}, "
        f"rel RMS {rms(batched - whole) / rms(whole):.4f} "
        f"(max abs = {float(diff.max()) / float(whole.std()):.2f} latent std)"
    )
    print(f"  {'latent':>6} {'batch':>5} {'input frames':>12} {'max abs':>9} {'rel RMS':>9}")
    origin = latent_origin(len(frames), batch)
    rel_rms = [rms(batched[f] - whole[f]) / rms(whole[f]) for f in range(whole.shape[0])]
    for f, rel in enumerate(rel_rms):
        index, span = origin[f]
        print(f"  {f:>6} {index:>5} {span:>12} {float(diff[f].max()):>9.4f} {rel:>9.4f}")
    for name, per_frame in (("max abs", diff.flatten(1).amax(1)), ("rel RMS", torch.tensor(rel_rms))):
        f = int(per_frame.argmax())
        batch_index, span = origin[f]
        print(f"  most different latent frame by {name}: {f} (batch {batch_index}, input frames {span})")
    print(
        f"wall time, median of {args.repeat}: batched {batched_s:.3f}s (baseline), whole {whole_s:.3f}s "
        f"= {whole_s / batched_s:.2f}x batched"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clip", type=Path, default=CLIP, help="source video (default horse_gallop.mp4)")
    parser.add_argument("--size", type=parse_size, default=(64, 96), help="working size HxW (default 64x96)")
    parser.add_argument("--frames", type=int, default=49, help="first N frames, 4k+1, >= 17 (default 49)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per way; the median counts")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="VAE initialisation seed (default 0)")
    parser.add_argument("--config", choices=[*CONFIGS, "all"], default="all", help="which VAE(s)")
    args = parser.parse_args()
    if args.frames < 17 or (args.frames - 1) % TEMPORAL_COMPRESSION:
        # diffusers makes max(frames // 8, 1) batches, the first taking the remainder: 9 or 13 frames
        # still go through in one batch, so the first batched clip is 17 frames.
        parser.error(f"--frames must be 4k+1 and >= 17 (two 8-frame batches or more), got {args.frames}")
    torch.set_num_threads(args.threads)

    frames = read_frames(args.clip, end=args.frames)
    if len(frames) < args.frames:
        raise SystemExit(f"{args.clip} has only {len(frames)} frames, {args.frames} asked")
    source_size = frames.shape[1:3]
    frames = resize_center_crop(frames, args.size)
    print(
        f"{args.clip.name}: {len(frames)} frames, {source_size[1]}x{source_size[0]} resized and cropped "
        f"to {args.size[1]}x{args.size[0]} (WxH); CPU, {args.threads} threads, source_latent='mode', "
        f"VAE seed {args.seed}"
    )
    labels = list(CONFIGS) if args.config == "all" else [args.config]
    for label in labels:
        measure(label, CONFIGS[label], frames, args)


if __name__ == "__main__":
    main()
