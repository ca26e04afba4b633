"""``insvie train`` and ``insvie train cache`` as a user runs them, on the tiny editor and SynthEdit.

Each command runs at least once as a fresh process (``run_cli``); the stage chain otherwise calls the
same commands in this process (``invoke_cli``): the same code from argv on, without a fresh
interpreter's start and its torch, diffusers and peft imports (most of a tiny run's time).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from insvie_cli import invoke_cli, run_cli

pytest.importorskip("peft")
# The in-process runs share this process: one torch thread, as a `run_cli` process gets.
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def stage1(tiny: Path) -> list[str]:
    """Stage 1 (the tiny config: 6 steps, checkpoints at 3 and 6) trained once; its log's lines."""
    first = invoke_cli("train", "-c", str(tiny / "train-tiny.yaml"))
    assert first.returncode == 0, first.stderr
    return (tiny / "runs" / "tiny" / "log.csv").read_text().splitlines()


# The tests that build on stage 1 run on one xdist worker, so that it is trained once.
@pytest.mark.xdist_group("train_cli_stage1")
def test_a_stage_logs_every_step_and_a_rerun_trains_nothing(tiny: Path, stage1: list[str]):
    assert stage1[0] == "step,loss,lr" and len(stage1) == 1 + 6
    again = invoke_cli("train", "-c", str(tiny / "train-tiny.yaml"))
    assert again.returncode == 0, again.stderr
    assert (tiny / "runs" / "tiny" / "log.csv").read_text().splitlines() == stage1  # nothing trained twice


@pytest.mark.xdist_group("train_cli_stage1")
def test_a_second_stage_chains_from_the_first_through_the_cache(tiny: Path, stage1: list[str]):
    # stage 2 starts from stage 1's weights and reads the latent cache built by `insvie train cache`
    stage2 = yaml.safe_load((tiny / "train-tiny.yaml").read_text())
    del stage2["model"]
    stage2.update(
        name="second", init_from=str(tiny / "runs" / "tiny"), output_dir=str(tiny / "runs" / "second")
    )
    stage2["steps"] = 2
    config = tiny / "stage2.yaml"
    config.write_text(yaml.safe_dump(stage2))
    cached = run_cli("train", "cache", "-c", str(config))  # the one fresh `insvie train cache` process
    assert cached.returncode == 0, cached.stderr
    assert "8 encoded, 0 already there" in cached.stderr
    again = invoke_cli("train", "cache", "-c", str(config))
    assert again.returncode == 0, again.stderr
    assert "0 encoded, 8 already there" in again.stderr
    second = invoke_cli("train", "-c", str(config))
    assert second.returncode == 0, second.stderr
    assert (tiny / "runs" / "second" / "final" / "model_index.json").is_file()

    edited = invoke_cli(
        "edit",
        "-m",
        str(tiny / "runs" / "second" / "final"),
        "-v",
        str(tiny / "synth" / "source" / "synth-00000.mp4"),
        "-p",
        "make it red",
        "-o",
        str(tiny / "out.mp4"),
        "--steps",
        "2",
        "--height",
        "32",
        "--width",
        "48",
        "--dtype",
        "float32",
    )
    assert edited.returncode == 0, edited.stderr
    assert (tiny / "out.mp4").is_file()


def test_bad_stage_config_names_the_key(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmodel: m\noutput_dir: o\nsteps: 1\nlora: {rank: 0}\n")
    result = run_cli("train", "-c", str(bad))
    assert result.returncode == 2 and "lora.rank" in result.stderr


def test_validation_edits_are_written_every_n_steps(tiny: Path):
    config = yaml.safe_load((tiny / "train-tiny.yaml").read_text())
    config.update(name="validated", output_dir=str(tiny / "runs" / "validated"), steps=3, checkpoint_every=0)
    config["validation"] = {
        "every": 3,
        "videos": [str(tiny / "synth" / "source" / "synth-00001.mp4")],
        "prompts": ["make it black and white"],
        "num_inference_steps": 2,
        "num_frames": 5,
        "height": 32,
        "width": 48,
    }
    (tiny / "validated.yaml").write_text(yaml.safe_dump(config))
    result = run_cli("train", "-c", str(tiny / "validated.yaml"))
    assert result.returncode == 0, result.stderr
    folder = tiny / "runs" / "validated" / "validation" / "step-00000003"
    assert (folder / "000.mp4").is_file() and (folder / "grid.png").is_file()
