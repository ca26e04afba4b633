"""Proof that the editor learns: train a small InsViE editor from scratch on SynthEdit, on CPU.

    python benchmarks/train_synthedit.py [--steps 12000 | --minutes 14] [--out DIR] [--quick]

1. SynthEdit triplets (recolor / remove / add / background / grayscale / sepia, categories drawn in
   turn) at 32x48, 9 frames: a training set and a held-out set from other seeds. Recolour edits whose
   (new colour, shape) pair is in a held-out list are kept out of training and evaluated separately
   ("recolor*": an instruction combination never seen in training).
2. A tiny CogVideoX VAE (4x spatial / 4x temporal, 16 latent channels) trained here as a plain
   autoencoder (the loop keeps the VAE frozen, and a random VAE cannot reconstruct anything), with its
   log-variance pinned so the latent distribution is deterministic.
3. A small CogVideoX editor transformer (random init) and a random, frozen 2-layer T5 over the
   character vocabulary (a random T5 still maps different instructions to different embeddings, which
   is enough to condition on: the loop never trains the text encoder), trained with
   ``insvie.train.loop.train`` (``finetune: full``) on cached latents for a fixed number of steps
   (``--steps``, the default: the figures then do not depend on how fast the machine is, only the time
   they take does), or for as many steps as a time budget allows (``--minutes``: the step count is set
   from a timed first chunk and the run resumes from its checkpoint, so a slower machine trains less
   and scores lower). Wall time and steps/s are reported beside the figures either way.
4. The trained ``InsViEEditPipeline`` edits the held-out source videos; PSNR against the ground-truth
   edited videos is reported next to the identity baseline (output = source) and the VAE's own
   reconstruction of the ground truth (the ceiling), per category, plus an instruction-dependence check
   (same video edited with "grayscale" and "sepia" instructions, same noise).

Everything runs on 2 CPU threads. ``--quick`` is a < 60 s smoke run with toy sizes.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from insvie.errors import InsvieError
from insvie.synth import CATEGORIES, GLOBAL_CATEGORIES, generate_sample, sample_seed
from insvie.synth.colours import OBJECT_COLOURS
from insvie.synth.shapes import SHAPES

TRAIN_SEED, TEST_SEED, PAIR_SEED = 1, 2, 3
UNSEEN = "recolor*"
SIZE, FRAMES = (32, 48), 9
PRETRAINED_VAE = Path(__file__).resolve().parent / "assets" / "synthedit_vae"
# Default training steps (--steps): the README's figures are measured at DEFAULT_STEPS.
DEFAULT_STEPS, QUICK_STEPS = 12000, 30
# Steps of a VAE trained here (--vae-from-scratch) when the run is counted in steps.
DEFAULT_VAE_STEPS, QUICK_VAE_STEPS = 3000, 4


def heldout_pairs() -> set[tuple[str, str]]:
    """One (colour, shape) recolour target per shape that training never sees."""
    colours = list(OBJECT_COLOURS)
    return {(colours[(2 * i + 1) % len(colours)], shape) for i, shape in enumerate(SHAPES)}


@dataclass
class Triplet:
    seed: int
    category: str  # CATEGORIES, or UNSEEN for a recolour to a held-out (colour, shape)
    instruction: str
    source: np.ndarray  # (T, H, W, 3) uint8
    edited: np.ndarray


def _recolor_pair(sample: Any) -> tuple[str, str]:
    params = sample.record["edit"]
    return params["to_colour"], params["shape"]


def make_triplets(
    base: int,
    count: int,
    size: tuple[int, int],
    frames: int,
    *,
    held: set[tuple[str, str]],
    categories: tuple[str, ...] = CATEGORIES,
    unseen_only: bool = False,
) -> list[Triplet]:
    """``count`` triplets, categories in turn; recolours to a held-out pair are dropped (or, with
    ``unseen_only``, the only recolours kept, labelled UNSEEN)."""
    out: list[Triplet] = []
    index = 0
    while len(out) < count:
        category = categories[len(out) % len(categories)]
        seed = sample_seed(base, index)
        index += 1
        try:
            sample = generate_sample(seed, size=size, num_frames=frames, category=category)
        except InsvieError:
            continue
        label = sample.edit.category
        if label == "recolor":
            unseen = _recolor_pair(sample) in held
            if unseen != unseen_only:
                continue
            label = UNSEEN if unseen else label
        out.append(Triplet(seed, label, sample.record["instruction"], sample.source, sample.edited))
    return out


def to_pixels(frames: np.ndarray) -> torch.Tensor:
    """uint8 (B, T, H, W, 3) to float (B, 3, T, H, W) in [-1, 1], the VAE's layout."""
    return torch.from_numpy(frames).permute(0, 4, 1, 2, 3).float() / 127.5 - 1.0


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * math.log10(255.0**2 / mse)


# -- models ----------------------------------------------------------------------------------------


@dataclass
class Sizes:
    vae_channels: tuple[int, int, int]  # per VAE block: full, 1/2, 1/4 resolution
    hidden_heads: int
    head_dim: int
    layers: int
    text_dim: int
    text_layers: int
    text_length: int


FULL_SIZES = Sizes(
    vae_channels=(16, 32, 64),
    hidden_heads=4,
    head_dim=32,
    layers=4,
    text_dim=64,
    text_layers=2,
    text_length=64,
)
QUICK_SIZES = Sizes(
    vae_channels=(8, 8, 8), hidden_heads=2, head_dim=16, layers=1, text_dim=32, text_layers=1, text_length=64
)
VAE_SIZES = FULL_SIZES  # what synthedit_vae.py pretrains


def build_vae(sizes: Sizes, height: int, width: int) -> Any:
    from diffusers import AutoencoderKLCogVideoX

    return AutoencoderKLCogVideoX(
        in_channels=3,
        out_channels=3,
        down_block_types=("CogVideoXDownBlock3D",) * 3,  # 4x spatial, 4x temporal
        up_block_types=("CogVideoXUpBlock3D",) * 3,
        block_out_channels=sizes.vae_channels,
        latent_channels=16,
        layers_per_block=1,
        norm_num_groups=8,
        temporal_compression_ratio=4,
        sample_height=height,
        sample_width=width,
        scaling_factor=1.0,
    )


def vae_lr(progress: float, peak: float, warmup: float = 0.02) -> float:
    """Linear warmup then cosine decay to zero over ``progress`` in [0, 1]: the decay is worth dBs."""
    if progress < warmup:
        return peak * (progress + 1e-3) / warmup
    return peak * 0.5 * (1 + math.cos(math.pi * min(1.0, (progress - warmup) / (1 - warmup))))


def train_vae(
    vae: Any,
    videos: np.ndarray,
    *,
    seed: int,
    seconds: float | None = None,
    steps: int | None = None,
    lr: float = 2e-3,
    batch: int = 4,
    crop: tuple[int, int, int] | None = None,
    full_after: float = 0.8,
    report_every: int = 0,
) -> dict[str, float]:
    """Train ``vae`` as a deterministic autoencoder (the distribution's mode) for ``steps`` or ``seconds``,
    then pin its log-variance so that ``sample() == mode()``.

    With ``crop`` (frames, height, width) the steps before ``full_after`` of the run see random crops:
    the convolutions are local in space and (causally) in time, so crops teach the same weights at a
    fraction of the cost; the last part sees whole clips, as the editor will encode them."""
    if (seconds is None) == (steps is None):
        raise ValueError("give exactly one of seconds or steps")
    rng = np.random.default_rng(seed)
    optimizer = torch.optim.AdamW(vae.parameters(), lr=lr, weight_decay=0.0)
    vae.train()
    start, done, recent = time.monotonic(), 0, []

    def progress() -> float:
        return done / steps if steps is not None else (time.monotonic() - start) / seconds

    while progress() < 1.0 or done < 2:
        for group in optimizer.param_groups:
            group["lr"] = vae_lr(min(progress(), 1.0), lr)
        clips = videos[rng.choice(len(videos), size=min(batch, len(videos)), replace=False)]
        if crop is not None and progress() < full_after:
            frames, height, width = crop
            t0 = 4 * int(rng.integers(0, (clips.shape[1] - frames) // 4 + 1))  # keep latent-frame alignment
            y0 = int(rng.integers(0, clips.shape[2] - height + 1))
            x0 = int(rng.integers(0, clips.shape[3] - width + 1))
            clips = clips[:, t0 : t0 + frames, y0 : y0 + height, x0 : x0 + width]
        pixels = to_pixels(np.ascontiguousarray(clips))
        latents = vae.encode(pixels).latent_dist.mode()
        recon = vae.decode(latents).sample[:, :, : pixels.shape[2]]
        loss = torch.nn.functional.mse_loss(recon, pixels) + 1e-4 * latents.pow(2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        optimizer.step()
        done += 1
        recent = [*recent[-49:], loss.item()]
        if report_every and done % report_every == 0:
            print(f"vae step {done}: mse {np.mean(recent):.5f} ({time.monotonic() - start:.0f}s)", flush=True)
    vae.eval()
    with torch.no_grad():
        channels = vae.config.latent_channels
        conv = vae.encoder.conv_out.conv
        conv.weight[channels:].zero_()
        conv.bias[channels:].fill_(-30.0)
    return {"steps": done, "loss": float(np.mean(recent)), "seconds": time.monotonic() - start}


@torch.no_grad()
def vae_roundtrip_frames(vae: Any, videos: np.ndarray) -> np.ndarray:
    """Encode (distribution mode) and decode uint8 videos; the VAE's own reconstruction, as uint8."""
    out = []
    for i in range(0, len(videos), 8):
        pixels = to_pixels(videos[i : i + 8])
        recon = vae.decode(vae.encode(pixels).latent_dist.mode()).sample[:, :, : pixels.shape[2]]
        out.append(((recon.clamp(-1, 1) + 1) * 127.5).round().permute(0, 2, 3, 4, 1).numpy().astype(np.uint8))
    return np.concatenate(out)


@torch.no_grad()
def latent_scale(vae: Any, videos: np.ndarray) -> float:
    latents = torch.cat(
        [vae.encode(to_pixels(videos[i : i + 8])).latent_dist.mode() for i in range(0, len(videos), 8)]
    )
    return float(1.0 / latents.std())


def build_pipeline(sizes: Sizes, vae: Any, height: int, width: int, frames: int, *, seed: int) -> Any:
    from diffusers import CogVideoXDPMScheduler, CogVideoXTransformer3DModel
    from transformers import T5Config, T5EncoderModel

    from insvie.editor.pipeline import InsViEEditPipeline
    from insvie.editor.transformer import COGVIDEOX_SCHEDULER_CONFIG, editor_from_t2v
    from insvie.tiny import seeded
    from insvie.tiny.tokenizer_builders import tiny_t5_tokenizer

    tokenizer = tiny_t5_tokenizer(max_length=sizes.text_length)
    with seeded(seed):
        t2v = CogVideoXTransformer3DModel(
            num_attention_heads=sizes.hidden_heads,
            attention_head_dim=sizes.head_dim,
            in_channels=16,
            out_channels=16,
            time_embed_dim=64,
            text_embed_dim=sizes.text_dim,
            num_layers=sizes.layers,
            sample_width=width // 4,
            sample_height=height // 4,
            sample_frames=frames,
            patch_size=2,
            temporal_compression_ratio=4,
            max_text_seq_length=sizes.text_length,
            use_rotary_positional_embeddings=False,
        )
        text_encoder = T5EncoderModel(
            T5Config(
                vocab_size=len(tokenizer),
                d_model=sizes.text_dim,
                d_kv=sizes.text_dim // 4,
                d_ff=sizes.text_dim * 2,
                num_layers=sizes.text_layers,
                num_heads=4,
                relative_attention_num_buckets=16,
                dropout_rate=0.0,
                pad_token_id=0,
                eos_token_id=1,
            )
        )
    transformer = editor_from_t2v(t2v, inplace=True)
    for model in (transformer, vae, text_encoder):
        model.eval()
    pipe = InsViEEditPipeline(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        vae=vae,
        transformer=transformer,
        scheduler=CogVideoXDPMScheduler(**COGVIDEOX_SCHEDULER_CONFIG),
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


# -- cached training data --------------------------------------------------------------------------


class LatentTriplets(Dataset):
    """Cached-mode items for the loop, with "no video" / "no text" drops (for guidance) drawn per access."""

    def __init__(self, source: torch.Tensor, target: torch.Tensor, embeds: torch.Tensor, drop: float):
        self.source, self.target, self.embeds, self.drop = source, target, embeds, drop
        self.draws = np.random.default_rng(0)

    def __len__(self) -> int:
        return self.source.shape[0]

    def __getitem__(self, index: int) -> dict[str, Any]:
        drop_source, drop_text = (self.draws.random(2) < self.drop).tolist()
        return {
            "source_latents": self.source[index],
            "target_latents": self.target[index],
            "prompt_embeds": self.embeds[index],
            "id": str(index),
            "drop_source": bool(drop_source),
            "drop_text": bool(drop_text),
        }


@torch.no_grad()
def encode_triplets(pipe: Any, triplets: list[Triplet], length: int) -> LatentTriplets:
    sources, targets, embeds = [], [], []
    for i in range(0, len(triplets), 8):
        chunk = triplets[i : i + 8]
        sources.append(pipe.encode_video(np.stack([t.source for t in chunk])))
        targets.append(pipe.encode_video(np.stack([t.edited for t in chunk])))
        embeds.append(
            pipe.encode_prompt(
                [t.instruction for t in chunk], max_sequence_length=length, dtype=torch.float32
            )[0]
        )
    return LatentTriplets(torch.cat(sources), torch.cat(targets), torch.cat(embeds), drop=0.1)


def run_training(
    config_kwargs: dict[str, Any],
    dataset: Dataset,
    *,
    steps: int | None = None,
    seconds: float | None = None,
    probe: int = 60,
) -> dict[str, Any]:
    """Train for exactly ``steps`` (reproducible on any machine), or for about ``seconds``: then a timed
    probe chunk sets the total step count and the run resumes to it (how far it gets depends on the
    machine's speed). Returns the final folder, the step count, the wall seconds and steps per second."""
    from insvie.train.config import TrainStageConfig
    from insvie.train.loop import train

    if (seconds is None) == (steps is None):
        raise ValueError("give exactly one of seconds or steps")
    started = time.monotonic()
    if steps is None:
        train(TrainStageConfig(**{**config_kwargs, "steps": 10**6}), dataset, stop_after=probe)
        per_step = (time.monotonic() - started) / probe
        left = seconds - (time.monotonic() - started)
        steps = max(probe + 1, probe + int(0.95 * left / per_step))
    final = train(TrainStageConfig(**{**config_kwargs, "steps": steps}), dataset)
    elapsed = time.monotonic() - started
    return {"final": final, "steps": steps, "seconds": elapsed, "steps_per_s": steps / elapsed}


# -- evaluation ------------------------------------------------------------------------------------


def edit_all(pipe: Any, videos: list[np.ndarray], prompts: list[str], args: argparse.Namespace) -> np.ndarray:
    outs = []
    for i in range(0, len(videos), 16):
        height, width = videos[0].shape[1:3]
        result = pipe(
            videos[i : i + 16],
            prompts[i : i + 16],
            num_frames=videos[0].shape[0],
            height=height,
            width=width,
            num_inference_steps=args.inference_steps,
            guidance_scale=args.guidance,
            video_guidance_scale=args.video_guidance,
            generator=torch.Generator().manual_seed(0),
        )
        outs.append(np.asarray(result.frames))
    return np.concatenate(outs)


@torch.no_grad()
def vae_roundtrip(pipe: Any, videos: np.ndarray) -> np.ndarray:
    return np.concatenate(
        [pipe.decode_latents(pipe.encode_video(videos[i : i + 8])) for i in range(0, len(videos), 8)]
    )


def instruction_pairs(count: int, size: tuple[int, int], frames: int) -> list[tuple[Any, Any]]:
    """(grayscale sample, sepia sample) of the same source video (same seed, same scene)."""
    pairs, index = [], 0
    while len(pairs) < count:
        seed = sample_seed(PAIR_SEED, index)
        index += 1
        a = generate_sample(seed, size=size, num_frames=frames, category="grayscale")
        b = generate_sample(seed, size=size, num_frames=frames, category="sepia")
        if np.array_equal(a.source, b.source):
            pairs.append((a, b))
    return pairs


# -- main ------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="toy sizes, < 60 s (smoke test)")
    length = parser.add_mutually_exclusive_group()
    length.add_argument(
        "--steps",
        type=int,
        default=None,
        help=f"training steps, the default mode (default {DEFAULT_STEPS}; quick {QUICK_STEPS})",
    )
    length.add_argument(
        "--minutes",
        type=float,
        default=None,
        help="total time budget instead of a step count (figures then depend on the machine's speed)",
    )
    parser.add_argument(
        "--vae-steps",
        type=int,
        default=None,
        help=f"steps of a VAE trained here, step mode (default {DEFAULT_VAE_STEPS}; quick {QUICK_VAE_STEPS})",
    )
    parser.add_argument("--out", type=Path, default=None, help="work folder (default: a temporary one)")
    parser.add_argument("--train", type=int, default=None, help="training triplets (default 360)")
    parser.add_argument(
        "--test-per-category", type=int, default=None, help="held-out per category (default 8)"
    )
    parser.add_argument("--inference-steps", type=int, default=None, help="sampler steps (default 16)")
    parser.add_argument("--guidance", type=float, default=1.0, help="text guidance scale")
    parser.add_argument("--video-guidance", type=float, default=1.0, help="video guidance scale")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--vae", type=Path, default=PRETRAINED_VAE, help="pretrained VAE folder (synthedit_vae.py writes it)"
    )
    parser.add_argument(
        "--vae-from-scratch",
        action="store_true",
        help="train the VAE in the run, --vae-steps or 30%% of --minutes (--quick does)",
    )
    args = parser.parse_args(argv)
    quick = args.quick
    if args.minutes is None:
        args.steps = args.steps or (QUICK_STEPS if quick else DEFAULT_STEPS)
        args.vae_steps = args.vae_steps or (QUICK_VAE_STEPS if quick else DEFAULT_VAE_STEPS)
    elif args.vae_steps is not None:
        parser.error("--vae-steps applies to step mode; with --minutes the VAE gets 30% of the budget")
    args.train = args.train or (18 if quick else 360)
    args.test_per_category = args.test_per_category or (1 if quick else 8)
    args.inference_steps = args.inference_steps or (3 if quick else 16)
    args.vae_from_scratch = args.vae_from_scratch or quick or not args.vae.is_dir()
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.monotonic()
    budget = None if args.minutes is None else args.minutes * 60
    size, frames = SIZE, FRAMES
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    tmp = None
    if args.out is None:
        tmp = tempfile.mkdtemp(prefix="train_synthedit_")
        out = Path(tmp)
    else:
        out = args.out
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)

    try:
        # 1. Data.
        held = heldout_pairs()
        train_set = make_triplets(TRAIN_SEED, args.train, size, frames, held=held)
        test_set = make_triplets(TEST_SEED, args.test_per_category * len(CATEGORIES), size, frames, held=held)
        test_set += make_triplets(
            TEST_SEED + 100,
            args.test_per_category,
            size,
            frames,
            held=held,
            categories=("recolor",),
            unseen_only=True,
        )
        pairs = instruction_pairs(max(2, args.test_per_category), size, frames)
        t_data = time.monotonic() - t0
        print(
            f"data: {len(train_set)} train, {len(test_set)} held-out triplets, "
            f"{len(pairs)} instruction pairs ({size[0]}x{size[1]}, {frames} frames) in {t_data:.1f}s; "
            f"held-out recolour pairs {sorted(held)}"
        )

        # 2. VAE: the pretrained one (synthedit_vae.py), as InsViE starts from CogVideoX's, or one trained
        # here for --vae-steps or 30% of the --minutes budget (--quick, --vae-from-scratch).
        train_videos = np.stack([v for t in train_set for v in (t.source, t.edited)])
        if args.vae_from_scratch:
            vae = build_vae(sizes, *size)
            if budget is None:
                vae_stats = train_vae(vae, train_videos, steps=args.vae_steps, seed=0)
            else:
                vae_stats = train_vae(vae, train_videos, seconds=0.3 * budget, seed=0)
            vae.register_to_config(scaling_factor=latent_scale(vae, train_videos[:64]))
            print(
                f"vae: trained here, {vae_stats['steps']} steps in {vae_stats['seconds']:.0f}s, final mse "
                f"{vae_stats['loss']:.4f}, scaling_factor {vae.config.scaling_factor:.3f}"
            )
        else:
            from diffusers import AutoencoderKLCogVideoX

            vae = AutoencoderKLCogVideoX.from_pretrained(args.vae)
            print(f"vae: pretrained {args.vae} (scaling_factor {vae.config.scaling_factor:.3f})")

        # 3. Editor from scratch, trained by the loop on cached latents.
        pipe = build_pipeline(sizes, vae, *size, frames, seed=0)
        start_folder = out / "start"
        pipe.save_pretrained(start_folder)
        dataset = encode_triplets(pipe, train_set, sizes.text_length)
        config = {
            "name": "synthedit",
            "model": start_folder,
            "output_dir": out / "train",
            "finetune": "full",
            "learning_rate": 1e-3,
            "weight_decay": 0.0,
            "warmup_steps": 5 if args.quick else 100,
            "lr_schedule": "cosine",
            "batch_size": 8,
            "log_every": 1 if args.quick else 10,
            "seed": 0,
        }
        params = sum(p.numel() for p in pipe.transformer.parameters())
        if budget is None:
            run = run_training(config, dataset, steps=args.steps)
        else:
            left = budget - (time.monotonic() - t0)
            train_seconds = max(5.0, left - (0.04 * budget + 20))  # evaluation takes about 20 s on 2 cores
            run = run_training(config, dataset, seconds=train_seconds, probe=3 if args.quick else 60)
        mode = "fixed steps" if budget is None else f"{args.minutes:g}-minute budget"
        print(
            f"train ({mode}): {run['steps']} steps (batch 8) in {run['seconds']:.0f}s "
            f"({run['steps_per_s']:.2f} steps/s), transformer {params / 1e6:.2f}M params"
        )

        # 4. Evaluation.
        from insvie.editor.pipeline import InsViEEditPipeline
        from insvie.train.tracking import read_log

        trained = InsViEEditPipeline.from_pretrained(run["final"])
        trained.set_progress_bar_config(disable=True)
        outputs = edit_all(trained, [t.source for t in test_set], [t.instruction for t in test_set], args)
        targets = np.stack([t.edited for t in test_set])
        ceiling = vae_roundtrip(trained, targets)
        rows: dict[str, list[tuple[float, float, float]]] = {}
        for t, out_video, roundtrip in zip(test_set, outputs, ceiling, strict=True):
            scores = (psnr(t.source, t.edited), psnr(out_video, t.edited), psnr(roundtrip, t.edited))
            rows.setdefault(t.category, []).append(scores)
        order = [*CATEGORIES, UNSEEN]
        groups = {c: rows[c] for c in order if c in rows}
        groups["global (gray+sepia)"] = [s for c in GLOBAL_CATEGORIES for s in rows.get(c, [])]
        groups["all"] = [s for c in order for s in rows.get(c, [])]
        print()
        print(
            f"held-out PSNR vs ground truth (dB), {args.inference_steps} steps, guidance "
            f"{args.guidance}/{args.video_guidance}:"
        )
        print(f"{'category':<22}{'n':>4}{'identity':>10}{'editor':>9}{'gain':>8}{'vae ceiling':>13}")
        means = {}
        for name, scores in groups.items():
            ident, edit, ceil = (float(np.mean([s[i] for s in scores])) for i in range(3))
            means[name] = (ident, edit, ceil)
            print(f"{name:<22}{len(scores):>4}{ident:>10.2f}{edit:>9.2f}{edit - ident:>+8.2f}{ceil:>13.2f}")

        # Instruction dependence: same video, "grayscale" vs "sepia", same noise.
        sources = [a.source for a, _ in pairs]
        out_a = edit_all(trained, sources, [a.record["instruction"] for a, _ in pairs], args)
        out_b = edit_all(trained, sources, [b.record["instruction"] for _, b in pairs], args)
        own, cross, wins, diffs = [], [], 0, []
        for (a, b), oa, ob in zip(pairs, out_a, out_b, strict=True):
            own += [psnr(oa, a.edited), psnr(ob, b.edited)]
            cross += [psnr(oa, b.edited), psnr(ob, a.edited)]
            wins += int(psnr(oa, a.edited) > psnr(oa, b.edited)) + int(
                psnr(ob, b.edited) > psnr(ob, a.edited)
            )
            diffs.append(float(np.abs(oa.astype(np.int16) - ob.astype(np.int16)).mean()))
        print()
        print(f"instruction dependence ({len(pairs)} videos x grayscale/sepia instructions, same noise):")
        print(
            f"  mean |out_gray - out_sepia| = {np.mean(diffs):.2f} / 255; PSNR to own ground truth "
            f"{np.mean(own):.2f} dB, to the other's {np.mean(cross):.2f} dB; "
            f"closer to own: {wins}/{2 * len(pairs)}"
        )

        log_rows = read_log(out / "train")
        buckets = np.array_split(np.array([r["loss"] for r in log_rows]), min(10, len(log_rows)))
        steps_at = np.array_split(np.array([r["step"] for r in log_rows]), min(10, len(log_rows)))
        curve = ", ".join(f"{int(s[-1])}:{b.mean():.3f}" for s, b in zip(steps_at, buckets, strict=True))
        print()
        print(f"loss curve (last step of bucket: mean loss): {curve}")
        total = time.monotonic() - t0
        gi, ge, _ = means["global (gray+sepia)"]
        ai, ae, _ = means["all"]
        summary = {
            "global_gain_db": round(ge - gi, 2),
            "all_gain_db": round(ae - ai, 2),
            "closer_to_own": f"{wins}/{2 * len(pairs)}",
            "mode": "steps" if budget is None else "minutes",
            "budget_minutes": args.minutes,
            "steps": run["steps"],
            "train_seconds": round(run["seconds"], 1),
            "steps_per_s": round(run["steps_per_s"], 3),
            "minutes": round(total / 60, 2),
            "threads": args.threads,
            "categories": {
                name: {"identity_db": round(i, 2), "editor_db": round(e, 2), "ceiling_db": round(c, 2)}
                for name, (i, e, c) in means.items()
            },
        }
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        verdict = "met" if ge - gi >= 5 else "not met"
        print(
            f"\nsummary: global edits {ge:.2f} dB vs identity {gi:.2f} dB ({ge - gi:+.2f} dB; target >= +5: "
            f"{verdict}), all {ae - ai:+.2f} dB, closer to own instruction {wins}/{2 * len(pairs)}, "
            f"{run['steps']} steps ({mode}), training {run['seconds'] / 60:.1f} min at "
            f"{run['steps_per_s']:.2f} steps/s, {total / 60:.1f} min total"
        )
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
