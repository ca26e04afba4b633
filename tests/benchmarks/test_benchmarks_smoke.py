"""Each benchmark script runs end to end in its --quick mode and prints its summary line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_quick(script: str, timeout: float = 300) -> str:
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / script), "--quick"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, (
        f"{script} exited with {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc.stdout


@pytest.mark.slow
def test_calibration_quick() -> None:
    out = run_quick("calibration.py")
    assert "rejection rate by check and sample kind" in out
    assert "\nsummary: refilter recall motion_mismatch " in out


@pytest.mark.slow
def test_curate_quick() -> None:
    out = run_quick("curate.py")
    assert "(b) split + clip_filter" in out
    assert "\nsummary: decode " in out


@pytest.mark.slow
def test_resume_quick() -> None:
    out = run_quick("resume.py")
    assert "FAIL  triplet" not in out
    assert "\nsummary: re-run T2/T1 " in out
    assert "correctness checks all PASS" in out


@pytest.mark.slow
def test_edit_sweep_benchmark_quick() -> None:
    out = run_quick("edit_sweep.py")
    summary = out.splitlines()[-1]
    assert summary.startswith("summary: batched sweep / per-call loop")
    for name in ("instruct_pix2pix", "flux_kontext", "qwen_image_edit"):
        assert f"{name} " in summary
    # The batched candidates are the loop's within one grey level (batched kernels round apart).
    differences = [line for line in out.splitlines() if line.startswith("max |batched - loop|")]
    assert len(differences) == 3
    assert all(int(line.split("|")[-1].split()[0]) <= 1 for line in differences)
