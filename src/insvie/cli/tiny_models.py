"""``insvie tiny-models``: tiny random checkpoints of every backend, and a config that uses them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml

from insvie.cli.console import console as make_console

REPO_CONFIGS = Path(__file__).resolve().parents[3] / "configs"


def tiny_config(paper: dict, dest: Path, base_url: str | None = None) -> dict:
    """The paper recipe pointed at the tiny checkpoints in ``dest`` and the endpoint at ``base_url``.

    Models, endpoints, sizes and the executor change, and the quality gates are opened (tiny random
    models make noise, which every gate would rightly reject): every step of the recipe still runs.
    Without ``base_url`` no endpoint is written, so the chat steps follow ``$OPENAI_BASE_URL`` like
    any config that names none; a written one would silently override the environment.
    """
    from insvie.backends.propagation import is_image_to_video

    chat: dict = {"backend": "openai", "model": "tiny-smoke", "max_retries": 1}
    if base_url:
        chat["base_url"] = base_url
    config = {key: dict(value) if isinstance(value, dict) else value for key, value in paper.items()}
    config["run"] = {**config.get("run", {}), "executor": "local"}
    config["split"] = {
        **config.get("split", {}),
        "clip_frames": 9,
        "max_side": 256,
        "clips_per_shot": 1,
        "shot_detector": "content",
    }
    config["clip_filter"] = {**config.get("clip_filter", {}), "max_text_ratio": None}
    config["instruct"] = {**config.get("instruct", {}), "per_item": 1, "chat": dict(chat)}
    config["edit"] = {
        **config.get("edit", {}),
        "model": str(dest / "instruct_pix2pix"),
        "dtype": "float32",
        "gpus": 0,
        "steps": 2,
        "min_change": 0.0,
        "min_structure": -1.0,
    }
    config["prefilter"] = {
        **config.get("prefilter", {}),
        "model": str(dest / "clip"),
        "min_image_similarity": -1.0,
        "min_directional": -1.0,
        "min_caption_similarity": -1.0,
    }
    config["judge"] = {**config.get("judge", {}), "chat": dict(chat)}
    config["refilter"] = dict.fromkeys(
        (
            "max_relative_epe",
            "max_flicker_ratio",
            "min_persistence",
            "min_detail_ratio",
            "max_blockiness_delta",
        )
    )
    config["animate"] = {**config.get("animate", {}), "num_frames": 9, "max_side": 256}
    propagate = config.get("propagate", {})
    if is_image_to_video(propagate.get("backend", "flow_warp")):
        backend = propagate["backend"]
        config["propagate"] = {
            **propagate,
            "i2v": {
                **propagate.get("i2v", {}),
                "model": str(dest / backend),
                "num_frames": 5,
                "height": 32,
                "width": 32,
                "steps": 2,
                "dtype": "float32",
                "cpu_offload": False,
                "decode_chunk_size": None,
                "gpus": 0,
            },
        }
    return config


def write_tiny_training(dest: Path) -> Path:
    """A small SynthEdit set and a stage config that trains the tiny editor on it for a few steps.

    Minutes on a CPU, for smoke-testing `insvie train` (and `insvie train cache`) end to end.
    """
    from insvie.synth import write_synth_dataset

    write_synth_dataset(dest / "synth", 8, 0, size=(32, 48), num_frames=9, lossless=True)
    config = {
        "name": "tiny",
        "model": str(dest / "editor"),
        "output_dir": str(dest / "runs" / "tiny"),
        "data": {
            "manifest": str(dest / "synth"),
            "options": {"num_frames": 9, "size": [32, 48]},
            "cache_dir": str(dest / "cache" / "tiny"),
        },
        "finetune": "lora",
        "lora": {"rank": 4, "alpha": 4},
        "learning_rate": 1.0e-3,
        "steps": 6,
        "batch_size": 2,
        "checkpoint_every": 3,
    }
    path = dest / "train-tiny.yaml"
    path.write_text(
        "# Trains the tiny editor on a tiny SynthEdit set (`insvie tiny-models`).\n" + yaml.safe_dump(config)
    )
    return path


def tiny_models(
    dest: Annotated[Path, typer.Argument(help="Folder to write the checkpoints and tiny.yaml into.")],
    base_url: Annotated[
        str | None,
        typer.Option(
            help="The OpenAI-compatible endpoint to write into tiny.yaml (a local server); "
            "without it tiny.yaml names none and $OPENAI_BASE_URL decides at build time.",
            show_default=False,
        ),
    ] = None,
    paper: Annotated[Path, typer.Option(help="The recipe to shrink.")] = REPO_CONFIGS / "paper.yaml",
) -> None:
    """Write tiny, randomly initialised checkpoints of every model backend plus DEST/tiny.yaml.

    The checkpoints (InstructPix2Pix, FLUX.1 Kontext and Qwen-Image-Edit editors, CLIP, a LLaVA-style
    VLM, the SVD and Wan image-to-video propagators, and the InsViE video editor for `insvie edit`)
    use the real diffusers/transformers classes in their normal on-disk format, so the pipeline loads
    them exactly as it loads real weights; they
    produce noise, in seconds, offline. tiny.yaml is the paper recipe pointed at them and at an
    OpenAI-compatible endpoint, for smoke-testing a full `insvie build`: --base-url if given, else
    whatever $OPENAI_BASE_URL names when the build runs. Any such server works (vLLM, Ollama), or
    the scripted one in the test suite.
    """
    from insvie.tiny import (
        build_tiny_clip,
        build_tiny_editor_pipeline,
        build_tiny_image_editors,
        build_tiny_svd,
        build_tiny_vlm,
        build_tiny_wan_i2v,
    )

    console = make_console(stderr=True)
    dest.mkdir(parents=True, exist_ok=True)
    written = build_tiny_image_editors(dest)
    written["clip"] = build_tiny_clip(dest / "clip")
    written["vlm"] = build_tiny_vlm(dest / "vlm")
    written["editor"] = build_tiny_editor_pipeline(dest / "editor")
    written["svd"] = build_tiny_svd(dest / "svd")
    written["wan"] = build_tiny_wan_i2v(dest / "wan")
    recipe = yaml.safe_load(paper.read_text(encoding="utf-8"))
    config_path = dest / "tiny.yaml"
    header = "# The paper recipe on tiny random checkpoints (written by `insvie tiny-models`).\n"
    if not base_url:
        header += "# The chat steps name no endpoint: $OPENAI_BASE_URL decides (e.g. a local vLLM/Ollama).\n"
    config_path.write_text(
        header + yaml.safe_dump(tiny_config(recipe, dest.resolve(), base_url), sort_keys=False)
    )
    train_path = write_tiny_training(dest.resolve())
    for name, folder in sorted(written.items()):
        console.print(f"{name:>18}  {folder}")
    console.print(f"config: {config_path}  (insvie build OUT -c {config_path} -i VIDEOS)")
    console.print(f"training: {train_path}  (insvie train -c {train_path})")
