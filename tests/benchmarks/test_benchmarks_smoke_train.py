"""benchmarks/train_synthedit.py runs end to end in its --quick mode and prints its table and summary."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_train_synthedit_quick(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "benchmarks" / "train_synthedit.py"),
            "--quick",
            "--out",
            str(tmp_path),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    out = proc.stdout
    assert "held-out PSNR vs ground truth" in out
    assert "instruction dependence" in out
    assert "\nsummary: global edits " in out
    assert "steps/s" in out
    assert (tmp_path / "train" / "log.csv").is_file()
    assert (tmp_path / "train" / "final" / "model_index.json").is_file()
    summary = json.loads((tmp_path / "summary.json").read_text())
    # step mode by default: the step count is fixed, the time is only reported beside it
    assert summary["mode"] == "steps" and summary["steps"] == 30
    assert summary["train_seconds"] > 0 and summary["steps_per_s"] > 0
    assert "identity_db" in summary["categories"]["global (gray+sepia)"]


def _train_synthedit() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "train_synthedit", REPO_ROOT / "benchmarks" / "train_synthedit.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


def test_train_synthedit_counts_steps_unless_given_minutes() -> None:
    """The README's figures come from a step count; a time budget is opt-in and excludes one."""
    module = _train_synthedit()
    default = module.parse_args([])
    assert (default.steps, default.minutes) == (module.DEFAULT_STEPS, None)
    assert module.parse_args(["--quick"]).steps == module.QUICK_STEPS
    budgeted = module.parse_args(["--minutes", "14"])
    assert (budgeted.steps, budgeted.minutes) == (None, 14.0)
    with pytest.raises(SystemExit):
        module.parse_args(["--steps", "10", "--minutes", "1"])


@pytest.mark.slow
def test_synthedit_vae_writes_a_loadable_vae(tmp_path: Path) -> None:
    script = str(REPO_ROOT / "benchmarks" / "synthedit_vae.py")
    args = [
        sys.executable,
        script,
        "--steps",
        "2",
        "--triplets",
        "4",
        "--check",
        "2",
        "--out",
        str(tmp_path / "vae"),
    ]
    proc = subprocess.run(args, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert "held-out round trip" in proc.stdout

    from diffusers import AutoencoderKLCogVideoX

    vae = AutoencoderKLCogVideoX.from_pretrained(tmp_path / "vae")
    assert vae.config.scaling_factor != 1.0  # measured on the training videos, not the default
    record = json.loads((tmp_path / "vae" / "pretraining.json").read_text())
    assert record["steps"] == 2 and record["training_triplets"] == 4 and "heldout_roundtrip_db" in record
