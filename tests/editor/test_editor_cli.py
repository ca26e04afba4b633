"""``insvie edit`` and ``insvie tiny-models`` as a user runs them: a real subprocess on a real clip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from insvie_cli import run_cli

pytest.importorskip("diffusers")


def test_tiny_models_writes_every_backend_and_a_config(tiny: Path):
    for name in ("instruct_pix2pix", "flux_kontext", "qwen_image_edit", "clip", "vlm", "editor"):
        assert (tiny / name).is_dir(), name
    assert (tiny / "editor" / "model_index.json").is_file()
    assert "InsViEEditPipeline" in (tiny / "editor" / "model_index.json").read_text()
    assert "instruct_pix2pix" in (tiny / "tiny.yaml").read_text()


def test_edit_writes_a_reproducible_edited_video(tiny: Path, shared_media: Path, tmp_path: Path):
    args = [
        "edit",
        "-m",
        str(tiny / "editor"),
        "-v",
        str(shared_media / "horse_gallop.mp4"),
        "-p",
        "make the horse golden",
        "--steps",
        "2",
        "--frames",
        "10",
        "--height",
        "32",
        "--width",
        "48",
        "--seed",
        "3",
    ]
    first = run_cli(*args, "-o", str(tmp_path / "a.mp4"))
    assert first.returncode == 0, first.stderr
    second = run_cli(*args, "-o", str(tmp_path / "b.mp4"))
    assert second.returncode == 0, second.stderr
    info = json.loads(run_cli("probe", "--json", str(tmp_path / "a.mp4")).stdout)
    # 10 frames cut to 4k+1, written at the source's own 8 fps.
    assert (info["width"], info["height"], info["num_frames"], info["fps"]) == (48, 32, 9, 8.0)
    assert (tmp_path / "a.mp4").read_bytes() == (tmp_path / "b.mp4").read_bytes()
    # Where each setting came from: given, or the model folder's recipe.
    recipe = str(tiny / "editor" / "guider" / "guider_config.json")
    assert "steps 2 (given)" in first.stderr
    assert f"text guidance 7.5 ({recipe})" in first.stderr
    assert f"schedule cosine ({recipe})" in first.stderr
    assert "sampler InsViEDPMScheduler; weights float32" in first.stderr  # auto dtype on the CPU


def test_edit_help_says_where_defaults_come_from():
    result = run_cli("edit", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "[default: (the model's recipe in MODEL/guider/guider_config.json, else the paper's 50)]" in text
    assert "the video's own frames and rate" in text


def test_edit_explains_a_missing_model(tmp_path: Path, shared_media: Path):
    result = run_cli(
        "edit",
        "-m",
        str(tmp_path / "nowhere"),
        "-v",
        str(shared_media / "horse_gallop.mp4"),
        "-p",
        "x",
        "-o",
        str(tmp_path / "o.mp4"),
    )
    assert result.returncode == 2
    assert "cannot load the editor" in result.stderr and "insvie tiny-models" in result.stderr
    assert "Traceback" not in result.stderr
