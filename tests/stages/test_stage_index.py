"""The stage index: ``docs/stages.md`` is what the code declares, and the declared graph holds together."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from insvie.engine import Input, Outcome, Stage, Task
from insvie.errors import ConfigError
from insvie.stages.config import load_config
from insvie.stages.index import render_markdown, stage_index
from insvie.stages.pipeline import PIPELINE, build_steps

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
            assert row.consumes in made, f"{row.step} consumes {row.consumes!r}, which nothing before makes"
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


def test_every_input_a_step_reads_comes_from_a_step_that_can_run_before_it() -> None:
    names = [stage.name for stage in PIPELINE]
    for index, stage_class in enumerate(PIPELINE):
        earlier = set(names[:index])
        for name in stage_class.after:
            assert name in earlier, f"{stage_class.name} follows {name}, which is not listed before it"
    for config in (None, REPO / PAPER, REPO / "configs" / "demo.yaml"):
        for step in build_steps(load_config(config)):
            for read in step.stage.reads():
                assert set(read.alternatives) & set(names), f"{step.name} reads an unknown step {read.step}"
                assert step.name not in read.alternatives, f"{step.name} reads itself"


BRANCH_AFFIXES = ("clip_", "image_", "video_")


def test_step_names_match_their_modules() -> None:
    """A step is named after its module, or after it with the branch it serves (clip_, image_, video_,
    _pairs) where one module makes the same step for two branches."""
    for stage_class in PIPELINE:
        module = stage_class.__module__.rsplit(".", 1)[-1]
        name = stage_class.name
        allowed = {module, f"{module}_pairs", *(affix + module for affix in BRANCH_AFFIXES)}
        assert name in allowed, f"step {name} lives in {stage_class.__module__}"


class Count(Stage):
    """A step added the documented way: this class (its module) and one line in the pipeline."""

    name = "count"
    consumes = "triplet"
    after = ("refilter",)

    def reads(self) -> tuple[Input, ...]:
        return (Input("propagate", ("drift",), parent=True),)

    def process(self, batch: list[Task]) -> list[Outcome]:
        return [Outcome.done(task.item_id) for task in batch]


def test_a_new_step_is_one_class_and_one_line() -> None:
    steps = build_steps(load_config(REPO / PAPER), (*PIPELINE, Count))
    names = [step.name for step in steps]
    assert names[-1] == "count" and steps[-1].after == "refilter"
    assert [row.step for row in stage_index(load_config(REPO / PAPER))] == names[:-1]


def test_a_step_whose_feeding_step_is_missing_is_refused() -> None:
    with pytest.raises(ConfigError, match="count follows one of"):
        build_steps(load_config(None), (Count,))


def test_no_stage_overrides_its_declarations_on_an_instance() -> None:
    stages_dir = REPO / "src" / "insvie" / "stages"
    offenders = [p.name for p in stages_dir.glob("*.py") if "type: ignore" in p.read_text()]
    assert offenders == []
