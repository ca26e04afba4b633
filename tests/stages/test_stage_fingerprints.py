"""The build's config hashes stay put: a refactor that changed one would make every existing dataset
redo that step (and everything after it) on its next run.

``golden/stage_fingerprints.json`` holds each step's fingerprint (the hash keying its results) under
the built-in defaults and the shipped configs, as computed at the start of issue 17's restructuring. A
change of a stage's decisions must bump its ``version`` and update that file on purpose:

    .venv/bin/python -c "import json, sys; sys.path.insert(0, 'tests/stages'); \\
        from test_stage_fingerprints import current; print(json.dumps(current(), indent=1))" \\
        > tests/golden/stage_fingerprints.json
"""

from __future__ import annotations

import json
from pathlib import Path

from insvie.stages.config import load_config
from insvie.stages.pipeline import build_steps

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parents[1] / "golden" / "stage_fingerprints.json"
CONFIGS = {"defaults": None, "demo": REPO / "configs" / "demo.yaml", "paper": REPO / "configs" / "paper.yaml"}


def current() -> dict[str, dict[str, str]]:
    return {
        name: {step.name: step.stage.fingerprint() for step in build_steps(load_config(path))}
        for name, path in CONFIGS.items()
    }


def test_every_step_keeps_its_fingerprint() -> None:
    golden = json.loads(GOLDEN.read_text())
    now = current()
    changed = [
        f"{config}/{step}"
        for config in golden
        for step in golden[config]
        if now.get(config, {}).get(step) != golden[config][step]
    ]
    assert not changed, f"config hashes changed (existing datasets would redo these steps): {changed}"
