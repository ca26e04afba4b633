"""Each benchmark script runs end to end in its --quick mode and prints its summary line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_quick(script: str, *args: str, timeout: float = 300) -> str:
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / script), "--quick", *args],
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
def test_split_long_quick() -> None:
    out = run_quick("split_long.py")
    assert "a 441-frame source" in out and "18 clips of 17 frames" in out
    assert "summary: split" in out and "a decode per clip would spend" in out


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


@pytest.mark.slow
def test_cost_benchmark_quick(tmp_path: Path) -> None:
    import torch

    out = tmp_path / "cost.json"
    printed = run_quick("cost.py", "--json", str(out), timeout=600)
    assert "Seconds per kept triplet by step" in printed
    assert "\ntotal " in printed and "CPU-days looped" in printed
    if not torch.cuda.is_available():
        assert "not measured: no CUDA device" in printed
    record = json.loads(out.read_text())
    rows = {row["step"]: row for row in record["cpu"]["rows"]}
    # every model-backed step of the video branch ran, in both runs, on the same items
    for step in ("instruct", "edit", "clip_prefilter", "judge", "propagate", "refilter", "video_judge"):
        assert rows[step]["items"] >= 1, step
    assert record["cpu"]["triplets"] == 1
    shares = sum(row["share_batched"] for row in rows.values())
    assert shares == pytest.approx(1.0)
    assert record["runs"]["looped"]["items"] == record["runs"]["batched"]["items"]
