"""The stage index: ``docs/stages.md`` is what the code declares, and the declared graph holds together."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from insvie.stages.config import load_config
from insvie.stages.index import render_markdown, stage_index

REPO = Path(__file__).resolve().parents[2]
PAPER = "configs/paper.yaml"
INPUT_KINDS = {"video", "image", "pair"}  # what ingest makes from the files it is given


def test_docs_stages_md_is_current() -> None:
    page = render_markdown(stage_index(load_config(REPO / PAPER)), config=PAPER)
    assert (REPO / "docs" / "stages.md").read_text() == page, (
        "docs/stages.md is stale: run `insvie stages -c configs/paper.yaml --markdown > docs/stages.md`"
    )


def test_every_kind_a_step_reads_is_made_by_an_earlier_step_or_by_ingest() -> None:
    for config in (None, REPO / PAPER, REPO / "configs" / "demo.yaml"):
        made = set(INPUT_KINDS)
        names = set()
        for row in stage_index(load_config(config)):
            assert row.reads in made, f"{row.step} reads {row.reads!r}, which nothing before it makes"
            assert row.after is None or row.after in names, (
                f"{row.step} runs after {row.after}, not before it"
            )
            names.add(row.step)
            if row.makes:
                made.add(row.makes)
        assert "triplet" in made


def test_the_command_lists_every_step() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "insvie", "stages", "-c", str(REPO / PAPER)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "250"},
    )
    assert result.returncode == 0, result.stderr
    for row in stage_index(load_config(REPO / PAPER)):
        assert row.step in result.stdout
