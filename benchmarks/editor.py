"""InsViE editor: three guidance branches in one batched forward vs three sequential forwards; whole edits.

    .venv/bin/python benchmarks/editor.py [--quick] [--repeat N]
        the tiny random editor on CPU: time and peak memory of one guided prediction, batched (3B)
        against three forwards of B, at a few latent sizes.

    .venv/bin/python benchmarks/editor.py --real T2V_DIR [--steps 50] [--dtype fp16] [--offload]
        on a GPU: an untrained editor built from a CogVideoX text-to-video pipeline folder
        (e.g. a local copy of THUDM/CogVideoX-2b), one edit of 49 frames at 480x720: seconds per edit,
        seconds per step, peak GPU memory, and the branch comparison at that size.

    .venv/bin/python benchmarks/editor.py --random 2b|5b [--steps 50]
        the same on a GPU without weights: random real-size transformer and VAE (the speed and memory
        do not depend on the values), precomputed random text embeddings instead of T5.

Timings are the best of ``--repeat`` runs. CPU peak memory is what torch's allocator held above the
starting point during the call (from the profiler's allocation events), GPU peak memory is
``torch.cuda.max_memory_allocated``. The batched form does the same arithmetic on a batch three times
larger, so its gain is per-call overhead and better kernel occupancy; its cost is activations for 3B.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from insvie.editor.transformer import latent_shape

SIZES = {  # label: (frames, height, width)
    "9x32x48 (tiny default)": (9, 32, 48),
    "17x64x96": (17, 64, 96),
    "25x128x192": (25, 128, 192),
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_time(run: Callable[[], Any], repeat: int, device: torch.device) -> float:
    """Seconds of the fastest of ``repeat`` calls (after one warm-up call)."""
    run()
    best = float("inf")
    for _ in range(repeat):
        _sync(device)
        start = time.perf_counter()
        run()
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return best


def peak_memory(run: Callable[[], Any], device: torch.device) -> float:
    """Peak bytes allocated by torch above the starting level during one call."""
    if device.type == "cuda":
        _sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        run()
        _sync(device)
        return float(torch.cuda.max_memory_allocated(device) - base)
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        run()
    # Allocations are charged to the op that made them, frees appear as "[memory]" events.
    changes = sorted(
        (e.time_range.start, e.self_cpu_memory_usage) for e in prof.events() if e.self_cpu_memory_usage
    )
    level = peak = 0
    for _, change in changes:
        level += change
        peak = max(peak, level)
    return float(peak)


def branch_inputs(
    pipe: Any, batch: int, frames: int, height: int, width: int, text: torch.Tensor | None = None
):
    """Random latents, source latents and text embeddings for one guided prediction."""
    device, dtype = pipe._execution_device, pipe.transformer.dtype
    g = torch.Generator(device="cpu").manual_seed(0)
    f, c, h, w = latent_shape(frames, height, width)
    latents = torch.randn(batch, f, c, h, w, generator=g).to(device, dtype)
    source = torch.randn(batch, f, c, h, w, generator=g).to(device, dtype)
    if text is None:
        prompt, negative = pipe.encode_prompt(["add snow"] * batch, device=device, dtype=dtype)
    else:
        prompt, negative = (
            text.to(device, dtype).expand(batch, -1, -1),
            torch.zeros_like(text).expand(batch, -1, -1),
        )
    rotary = pipe._rotary_embeddings(height, width, f, device)
    return latents, source, prompt, negative, rotary


def compare_branches(
    pipe: Any, batch: int, size: tuple[int, int, int], repeat: int, text=None
) -> dict[str, float]:
    """Seconds and peak bytes of one guided prediction: batched (3B) vs three sequential forwards (B)."""
    latents, source, prompt, negative, rotary = branch_inputs(pipe, batch, *size, text=text)
    device = latents.device
    t = torch.tensor(979, device=device)

    @torch.no_grad()
    def batched() -> torch.Tensor:
        return pipe.guided_prediction(latents, source, prompt, negative, t, 7.5, 1.2, image_rotary_emb=rotary)

    @torch.no_grad()
    def sequential() -> torch.Tensor:
        outs = [
            pipe.transformer(
                torch.cat([latents, video], dim=2),
                embeds,
                t.expand(batch),
                image_rotary_emb=rotary,
                return_dict=False,
            )[0].float()
            for video, embeds in ((torch.zeros_like(source), negative), (source, negative), (source, prompt))
        ]
        uu, cu, cc = outs
        return uu + 1.2 * (cu - uu) + 7.5 * (cc - cu)

    diff = (batched() - sequential()).abs().max().item()
    return {
        "batched_s": best_time(batched, repeat, device),
        "sequential_s": best_time(sequential, repeat, device),
        "batched_peak": peak_memory(batched, device),
        "sequential_peak": peak_memory(sequential, device),
        "max_abs_diff": diff,
    }


def print_branch_table(title: str, rows: list[tuple[str, dict[str, float]]]) -> None:
    print(f"\n{title}")
    header = f"  {'size (frames x H x W)':<26}{'batched ms':>12}{'3x seq ms':>12}{'seq/batched':>13}"
    print(header + f"{'peak MB batched':>17}{'peak MB seq':>13}{'max |diff|':>12}")
    for label, r in rows:
        print(
            f"  {label:<26}{r['batched_s'] * 1e3:>12.1f}{r['sequential_s'] * 1e3:>12.1f}"
            f"{r['sequential_s'] / r['batched_s']:>12.2f}x{r['batched_peak'] / 2**20:>17.1f}"
            f"{r['sequential_peak'] / 2**20:>13.1f}{r['max_abs_diff']:>12.1e}"
        )


def run_tiny(args: argparse.Namespace) -> None:
    from insvie.tiny import build_tiny_editor

    torch.set_num_threads(args.threads)
    pipe = build_tiny_editor()
    sizes = dict(list(SIZES.items())[:1]) if args.quick else SIZES
    rows = [(label, compare_branches(pipe, args.batch, size, args.repeat)) for label, size in sizes.items()]
    print_branch_table(
        f"one guided prediction, tiny editor on CPU ({args.threads} thread(s), batch {args.batch}, "
        f"best of {args.repeat})",
        rows,
    )
    video = np.random.default_rng(0).integers(0, 256, (9, 32, 48, 3), dtype=np.uint8)
    edit_s = best_time(
        lambda: pipe(video, "add snow", num_inference_steps=4, generator=torch.Generator().manual_seed(0)),
        args.repeat,
        torch.device("cpu"),
    )
    print(f"\nwhole tiny edit, 9x32x48, 4 steps: {edit_s * 1e3:.1f} ms")
    label, first = rows[-1]
    print(
        f"\nsummary: three sequential forwards take {first['sequential_s'] / first['batched_s']:.2f}x "
        f"the batched one at {label}; peak memory {first['batched_peak'] / 2**20:.1f} MB batched vs "
        f"{first['sequential_peak'] / 2**20:.1f} MB sequential"
    )


def _random_pipeline(name: str, dtype: torch.dtype, device: torch.device) -> Any:
    """Real-size random editor transformer and VAE; the tiny T5 stands in (embeddings are passed).

    ``name="tiny"`` gives the tiny editor instead, to smoke-test this mode on a CPU.
    """
    from diffusers import AutoencoderKLCogVideoX, CogVideoXTransformer3DModel

    from insvie.editor.pipeline import InsViEEditPipeline
    from insvie.editor.scheduler import from_cogvideox_config
    from insvie.editor.transformer import (
        COGVIDEOX_2B_CONFIG,
        COGVIDEOX_5B_CONFIG,
        COGVIDEOX_SCHEDULER_CONFIG,
        COGVIDEOX_VAE_CONFIG,
    )
    from insvie.tiny import build_tiny_editor

    tiny = build_tiny_editor()
    if name == "tiny":
        return tiny.to(device, dtype)
    config = {"2b": COGVIDEOX_2B_CONFIG, "5b": COGVIDEOX_5B_CONFIG}[name]
    with torch.device(device):
        transformer = CogVideoXTransformer3DModel.from_config({**config, "in_channels": 32}).to(dtype).eval()
        vae = AutoencoderKLCogVideoX.from_config(COGVIDEOX_VAE_CONFIG).to(dtype).eval()
    scheduler = from_cogvideox_config(COGVIDEOX_SCHEDULER_CONFIG)
    return InsViEEditPipeline(tiny.tokenizer, tiny.text_encoder, vae, transformer, scheduler).to(device)


def _device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"


def run_edit(args: argparse.Namespace) -> None:
    """Whole edits with a real (--real) or random (--random) editor: seconds per edit, peak memory."""
    from insvie.editor.pipeline import InsViEEditPipeline

    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(args.threads)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(
            "no CUDA GPU here: --real/--random are GPU measurements (--device cpu only for --random tiny)"
        )
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[args.dtype]
    frames, height, width = (int(x) for x in args.size.split("x"))
    started = time.perf_counter()
    text = None
    if args.real:
        pipe = InsViEEditPipeline.from_t2v(args.real, dtype=dtype)
        source = f"editor from {args.real}"
    else:
        pipe = _random_pipeline(args.random, dtype, device)
        config = pipe.transformer.config
        text = torch.randn(1, config.max_text_seq_length, config.text_embed_dim, generator=torch.Generator())
        source = f"random {args.random}-size editor"
    if args.offload:
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    built = time.perf_counter() - started
    print(f"{source}, {args.dtype}, built in {built:.1f} s on {_device_name(device)}")
    video = np.random.default_rng(0).integers(0, 256, (frames, height, width, 3), dtype=np.uint8)
    call: dict[str, Any] = {
        "num_frames": frames,
        "height": height,
        "width": width,
        "guidance_schedule": "cosine",
    }
    if text is not None:
        call |= {"prompt_embeds": text, "negative_prompt_embeds": torch.zeros_like(text)}
    prompt = None if text is not None else "make it snowy"

    def edit(steps: int) -> None:
        pipe(video, prompt, num_inference_steps=steps, generator=torch.Generator().manual_seed(0), **call)

    def timed(steps: int) -> float:
        _sync(device)
        start = time.perf_counter()
        edit(steps)
        _sync(device)
        return time.perf_counter() - start

    edit(1)  # warm-up: kernels, allocator
    total = timed(args.steps)
    overhead = timed(1)  # encode + one step + decode
    per_step = (total - overhead) / max(args.steps - 1, 1)
    peak = peak_memory(lambda: edit(1), device)  # the step's activations, the VAE's, and the weights' share
    print(f"\none edit, {frames}x{height}x{width}, {args.steps} steps, three branches per step")
    print(f"  seconds per edit          {total:10.2f}")
    print(f"  seconds per step          {per_step:10.3f}")
    print(f"  encode+1 step+decode, s   {overhead:10.2f}")
    print(f"  peak memory above weights {peak / 2**30:10.2f} GiB")
    if device.type == "cuda":
        print(f"  peak GPU memory in total  {torch.cuda.max_memory_allocated(device) / 2**30:10.2f} GiB")
    if not args.offload:
        row = compare_branches(pipe, 1, (frames, height, width), args.repeat, text=text)
        print_branch_table(f"one guided prediction on {_device_name(device)}", [(args.size, row)])
    print(
        f"\nsummary: {total:.2f} s per edit ({args.steps} steps at {args.size}), peak {peak / 2**30:.2f} GiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one small size, for a smoke run")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per figure; the best counts")
    parser.add_argument("--batch", type=int, default=1, help="videos per guided prediction (B)")
    parser.add_argument(
        "--threads", type=int, default=1, help="CPU threads (tiny mode; toy ops run best on one)"
    )
    parser.add_argument("--real", metavar="T2V_DIR", help="CogVideoX text-to-video pipeline folder or hub id")
    parser.add_argument(
        "--random",
        choices=["2b", "5b", "tiny"],
        help="random real-size editor (GPU, no weights); tiny: smoke",
    )
    parser.add_argument("--size", default="49x480x720", help="FRAMESxHEIGHTxWIDTH for --real/--random")
    parser.add_argument("--device", default="cuda", help="device for --real/--random")
    parser.add_argument("--steps", type=int, default=50, help="sampling steps for --real/--random")
    parser.add_argument(
        "--dtype", choices=["fp16", "bf16", "fp32"], default="fp16", help="fp16: as the official code runs"
    )
    parser.add_argument("--offload", action="store_true", help="enable_model_cpu_offload (--real)")
    args = parser.parse_args()
    if args.quick:
        args.repeat = min(args.repeat, 2)
    if args.real or args.random:
        run_edit(args)
    else:
        run_tiny(args)


if __name__ == "__main__":
    main()
