"""Regenerate the official-code golden tensors in this folder (see README.md here).

It drives ``make_reference.py`` from the shared reference folder (which runs the official InsViE SAT
code, unchanged, on CPU) with our own tiny configuration and seed, then keeps the tensors the parity
tests read. It runs in the reference's own environment, not in the project's:

    python3 -m venv VENV   # then the three pip lines of shared/reference/official-sat/README.md
    VENV/bin/python tests/golden/official_sat/make_golden.py ../shared/reference/official-sat

Nothing of the official code is copied here: this script only edits the reference script's tiny
configuration (a string) and repackages what it writes.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 2026
# Our configuration: (old line fragment in make_reference.CONFIG_TEMPLATE, new one).
CONFIG_CHANGES = [
    ("time_embed_dim: 128", "time_embed_dim: 32 "),
    ("num_frames: 9 ", "num_frames: 13"),  # 4 latent frames: an even count, as the official code allows
    ("latent_width: 12", "latent_width: 10"),
    ("latent_height: 8", "latent_height: 6"),
    ("text_hidden_size: 32", "text_hidden_size: 24"),
    ("r: 128", "r: 32"),
]
SHAPES = {"B": 1, "T": 4, "C": 16, "H": 6, "W": 10, "TEXT_DIM": 24}
KEPT = [
    # inputs.pt
    "x_noisy",
    "source_latent",
    "text_context",
    "probe_timesteps",
    "alpha_cumprod_sqrt_table",
    "sample_init_noise",
    "sample_step_noises",
    # outputs.pt
    "dit_forward_cond",
    "denoiser_cond",
    "guided_denoised_probe",
    "probe_scale_text",
    "probe_scale_video",
    "sample_final",
    "sample_trace_timestep",
    "sample_trace_alpha_cumprod_sqrt",
    "sample_trace_next_alpha_cumprod_sqrt",
    "sample_trace_denoiser_alpha_cumprod_sqrt",
    "sample_trace_x_out",
    "sample_trace_denoised",
    "sample_trace_scale_text",
    "sample_trace_scale_video",
    "guidance_table_default_50_steps",
]


def _reference_module(reference: Path):
    spec = importlib.util.spec_from_file_location("make_reference", reference / "make_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(reference: Path) -> None:
    import safetensors.torch
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["PARITY_ROOT"] = str(root)
        os.environ["PARITY_SEED"] = str(SEED)
        ref = _reference_module(reference)
        template = ref.CONFIG_TEMPLATE
        for old, new in CONFIG_CHANGES:
            if template.count(old) != 1:
                raise SystemExit(f"the reference config no longer has exactly one {old!r}")
            template = template.replace(old, new)
        ref.CONFIG_TEMPLATE = template
        for name, value in SHAPES.items():
            setattr(ref, name, value)
        meta = ref.main()

        out = root / "out"
        inputs = torch.load(out / "inputs.pt", weights_only=True)
        outputs = torch.load(out / "outputs.pt", weights_only=True)
        everything = {**inputs, **outputs}
        tensors = {name: everything[name].contiguous() for name in KEPT}
        safetensors.torch.save_file(tensors, str(HERE / "tensors.safetensors"))
        shutil.copyfile(out / "mp_rank_00_model_states.pt", HERE / "merged" / "mp_rank_00_model_states.pt")
        shutil.copyfile(
            out / "lora" / "mp_rank_00_model_states.pt", HERE / "lora" / "mp_rank_00_model_states.pt"
        )
        config = (out / "config.yaml").read_text(encoding="utf-8").replace(str(root), "<temporary folder>")
        (HERE / "config.yaml").write_text(config, encoding="utf-8")
        record = {
            "made_by": "tests/golden/official_sat/make_golden.py",
            "official_commit": meta["official_commit"],
            "torch": meta["torch"],
            "seed": SEED,
            "config_changes_from_make_reference": CONFIG_CHANGES,
            "shapes": SHAPES,
            "scale_factor": float(inputs["scale_factor"]),
            "lora": {"rank": 32, "alpha": 1.0},
            "step_noise_used_index": inputs["sample_step_noise_used_index"].tolist(),
            "lora_vs_merged_max_abs_diff": meta["lora_vs_merged_max_abs_diff"],
            "sample_trace_denoiser_alpha_cumprod_sqrt_index": meta[
                "sample_trace_denoiser_alpha_cumprod_sqrt_index"
            ],
        }
        (HERE / "golden.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    (HERE / "merged").mkdir(exist_ok=True)
    (HERE / "lora").mkdir(exist_ok=True)
    main(Path(sys.argv[1]).resolve())
