"""benchmarks/edit_sweep.py runs end to end in its --quick mode and prints a ratio per backend."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_edit_sweep_benchmark_quick() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "edit_sweep.py"), "--quick"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    summary = proc.stdout.splitlines()[-1]
    assert summary.startswith("summary: batched sweep / per-call loop")
    for name in ("instruct_pix2pix", "flux_kontext", "qwen_image_edit"):
        assert f"{name} " in summary
    # The batched candidates are the loop's within one grey level (batched kernels round apart).
    differences = [line for line in proc.stdout.splitlines() if line.startswith("max |batched - loop|")]
    assert len(differences) == 3
    assert all(int(line.split("|")[-1].split()[0]) <= 1 for line in differences)
