"""Pretrain the small CogVideoX VAE that ``train_synthedit.py`` edits in, once, on SynthEdit training videos.

    python benchmarks/synthedit_vae.py [--steps 20000] [--out benchmarks/assets/synthedit_vae]

InsViE trains its editor on top of CogVideoX's pretrained, frozen VAE; the training benchmark does the
same with this one. Training it inside the 15-minute benchmark left too little time for either part
(a 4-minute VAE capped every edit near 22 dB, below the identity baseline on small local edits), so it
is trained here, on the benchmark's own training seeds only (never its held-out videos), and the result
is committed as a diffusers folder (config + safetensors). A fixed step count, not a time budget, sets
how far it trains, so a rerun on another machine trains the same way.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_synthedit import (
    FRAMES,
    PRETRAINED_VAE,
    SIZE,
    TEST_SEED,
    TRAIN_SEED,
    VAE_SIZES,
    build_vae,
    heldout_pairs,
    latent_scale,
    make_triplets,
    psnr,
    train_vae,
    vae_roundtrip_frames,
)

PRETRAINING_RECORD = "pretraining.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=20000, help="optimizer steps (default 20000)")
    parser.add_argument("--batch", type=int, default=4, help="videos per step (default 4)")
    parser.add_argument("--lr", type=float, default=5e-3, help="peak learning rate (cosine decay)")
    parser.add_argument("--triplets", type=int, default=720, help="training triplets, two videos each")
    parser.add_argument("--check", type=int, default=48, help="held-out videos for the round-trip PSNR")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=PRETRAINED_VAE)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    held = heldout_pairs()
    train = make_triplets(TRAIN_SEED, args.triplets, SIZE, FRAMES, held=held)
    videos = np.stack([v for t in train for v in (t.source, t.edited)])
    check = np.stack([t.edited for t in make_triplets(TEST_SEED, args.check, SIZE, FRAMES, held=held)])
    vae = build_vae(VAE_SIZES, *SIZE)
    stats = train_vae(
        vae,
        videos,
        steps=args.steps,
        lr=args.lr,
        batch=args.batch,
        crop=(5, 32, 32),
        seed=0,
        report_every=100,
    )
    vae.register_to_config(scaling_factor=latent_scale(vae, videos[:64]))
    ceiling = np.mean([psnr(a, b) for a, b in zip(vae_roundtrip_frames(vae, check), check, strict=True)])
    args.out.mkdir(parents=True, exist_ok=True)
    vae.save_pretrained(args.out, safe_serialization=True)
    record = {  # how these weights were made, beside them
        "steps": stats["steps"],
        "seconds": round(stats["seconds"]),
        "threads": args.threads,
        "batch": args.batch,
        "lr": args.lr,
        "training_triplets": args.triplets,
        "final_mse": round(stats["loss"], 5),
        "heldout_roundtrip_db": round(float(ceiling), 2),
        "heldout_videos": args.check,
    }
    (args.out / PRETRAINING_RECORD).write_text(json.dumps(record, indent=1) + "\n")
    print(
        f"saved {args.out}: {stats['steps']} steps in {stats['seconds']:.0f}s, "
        f"final mse {stats['loss']:.5f}, held-out round trip {ceiling:.2f} dB, "
        f"scaling_factor {vae.config.scaling_factor:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
