"""benchmarks/train_synthedit.py runs end to end in its --quick mode and prints its table and summary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


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
        timeout=120,
    )
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    out = proc.stdout
    assert "held-out PSNR vs ground truth" in out
    assert "instruction dependence" in out
    assert "\nsummary: global edits " in out
    assert (tmp_path / "train" / "log.csv").is_file()
    assert (tmp_path / "train" / "final" / "model_index.json").is_file()
