"""``insvie train`` and ``insvie train cache`` as a user runs them, on the tiny editor and SynthEdit."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from insvie_cli import run_cli

pytest.importorskip("peft")


def test_train_then_rerun_resumes_and_a_second_stage_chains(tiny: Path):
    config = tiny / "train-tiny.yaml"
    first = run_cli("train", "-c", str(config))
    assert first.returncode == 0, first.stderr
    log = tiny / "runs" / "tiny" / "log.csv"
    rows = log.read_text().splitlines()
    assert rows[0] == "step,loss,lr" and len(rows) == 1 + 6
    again = run_cli("train", "-c", str(config))
    assert again.returncode == 0, again.stderr
    assert log.read_text().splitlines() == rows  # finished: nothing trained twice

    # stage 2 starts from stage 1's weights and reads the latent cache built by `insvie train cache`
    stage2 = yaml.safe_load(config.read_text())
    del stage2["model"]
    stage2.update(
        name="second", init_from=str(tiny / "runs" / "tiny"), output_dir=str(tiny / "runs" / "second")
    )
    stage2["steps"] = 2
    (tiny / "stage2.yaml").write_text(yaml.safe_dump(stage2))
    cached = run_cli("train", "cache", "-c", str(tiny / "stage2.yaml"))
    assert cached.returncode == 0, cached.stderr
    assert "8 encoded, 0 already there" in cached.stderr
    again = run_cli("train", "cache", "-c", str(tiny / "stage2.yaml"))
    assert "0 encoded, 8 already there" in again.stderr
    second = run_cli("train", "-c", str(tiny / "stage2.yaml"))
    assert second.returncode == 0, second.stderr
    assert (tiny / "runs" / "second" / "final" / "model_index.json").is_file()

    edited = run_cli(
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
