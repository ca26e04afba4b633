"""benchmarks/propagate.py runs end to end in --quick mode on tiny models and says they are tiny."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_propagate_benchmark_quick() -> None:
    pytest.importorskip("diffusers")
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "propagate.py"), "--quick"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "mechanics check only" in proc.stdout
    assert "\nsummary: svd/flow_warp relative_epe " in proc.stdout
    assert "wan/flow_warp" in proc.stdout
