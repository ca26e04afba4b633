"""The converted editor as a diffusers pipeline folder, written whole or not at all.

The folder reuses the base CogVideoX text-to-video folder's VAE, text encoder and tokenizer (hard links
by default) and carries the released sampling recipe (the official sampler in ``scheduler/``, the
paper's guidance in ``guider/``); ``conversion.json`` records the source's sha256, the LoRA merge, the
key counts, the dtype and the recipe.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from insvie.editor.sat.convert import TRANSFORMER_CLASS, convert_sat, target_model
from insvie.editor.sat.errors import CheckpointError
from insvie.editor.sat.load import load_sat_checkpoint, stored_dtype
from insvie.errors import ConfigError

PIPELINE_CLASS = "InsViEEditPipeline"
WEIGHTS_NAME = "diffusion_pytorch_model.safetensors"
CHECKPOINT_DTYPE = "checkpoint"  # keep the dtype the checkpoint's transformer weights are stored in
DTYPES = (CHECKPOINT_DTYPE, "bfloat16", "float16", "float32")
COMPONENT_MODES = ("hardlink", "copy", "symlink")

ProgressFn = Callable[[str, "int | None", "int | None"], None]


def editor_transformer_config(base_config: Mapping[str, Any]) -> dict[str, Any]:
    """The editor's transformer config: the base's, reading [noisy, source] latents (2 x out channels)."""
    config = {key: value for key, value in base_config.items() if not key.startswith("_")}
    config["_class_name"] = base_config.get("_class_name", TRANSFORMER_CLASS)
    out_channels = config.get("out_channels") or config.get("in_channels") or 16
    config["in_channels"] = 2 * int(out_channels)
    return config


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: missing; {what}") from exc
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: unreadable JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    return data


def _components(base: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The base folder's model_index.json and transformer config, checked to be CogVideoX."""
    hint = "--base must be a diffusers CogVideoX text-to-video folder (e.g. a local THUDM/CogVideoX-2b)"
    if not base.is_dir():
        raise ConfigError(f"{base}: not a folder; {hint}")
    index = _read_json(base / "model_index.json", hint)
    transformer = _read_json(base / "transformer" / "config.json", hint)
    if transformer.get("_class_name") != TRANSFORMER_CLASS:
        raise ConfigError(
            f"{base}/transformer is a {transformer.get('_class_name')}, not a {TRANSFORMER_CLASS}; {hint}"
        )
    for name, spec in index.items():
        if name.startswith("_") or name == "transformer" or not isinstance(spec, list):
            continue
        if spec[0] is not None and not (base / name).is_dir():
            raise ConfigError(f"{base}: model_index.json names {name}, but there is no {name}/ folder")
    return index, transformer


def _files(folder: Path) -> Iterator[Path]:
    for root, _dirs, names in os.walk(folder, followlinks=True):
        for name in sorted(names):
            yield Path(root) / name


def _place_component(source: Path, dest: Path, mode: str) -> int:
    """Reuse one component folder of the base: hard links (copy across filesystems), copy or symlink."""
    if mode == "symlink":
        dest.symlink_to(source.resolve(), target_is_directory=True)
        return 1
    count = 0
    for path in _files(source):
        target = dest / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        if mode == "hardlink":
            try:
                # follow_symlinks: hub snapshots are symlinks into blobs/, link the blob itself.
                os.link(path, target, follow_symlinks=True)
                count += 1
                continue
            except OSError:
                pass
        shutil.copyfile(path, target)
        count += 1
    return count


def _sha256(path: Path, progress: ProgressFn) -> str:
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with path.open("rb") as handle:
        while chunk := handle.read(8 << 20):
            digest.update(chunk)
            done += len(chunk)
            progress("hash", done, total)
    return digest.hexdigest()


def _no_progress(stage: str, done: int | None, total: int | None) -> None:
    return None


def _plain(config: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in config.items() if not key.startswith("_")}


def _check_dtype(name: str) -> None:
    if name not in DTYPES:
        raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {name!r}")


def _recipe() -> tuple[Any, Any]:
    """The released sampling recipe: the official sampler and guidance of inference_2b_edit.yaml."""
    from insvie.editor.guider import InsViEGuider
    from insvie.editor.scheduler import InsViEDPMScheduler

    return InsViEDPMScheduler(), InsViEGuider()


@contextlib.contextmanager
def _staging(out: Path, overwrite: bool) -> Iterator[Path]:
    """A fresh folder beside ``out`` that replaces it only once everything was written."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ConfigError(f"{out}: folder exists and is not empty (--overwrite / overwrite=True replaces it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.partial-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        out.rename(old)
        staging.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(out)


def convert_sat_checkpoint(
    ckpt: str | Path,
    *,
    base: str | Path,
    out: str | Path,
    dtype: str = CHECKPOINT_DTYPE,
    lora_alpha: float = 1.0,
    lora_rank: int | None = None,
    components: str = "hardlink",
    overwrite: bool = False,
    progress: ProgressFn | None = None,
) -> Path:
    """Convert the released InsViE checkpoint into a diffusers editor pipeline folder at ``out``.

    ``base`` is a diffusers CogVideoX text-to-video folder: its transformer config (grown to 32 input
    channels) describes the editor, and its vae, text_encoder and tokenizer are reused (hard-linked by
    default, falling back to copies across filesystems; or ``copy``/``symlink``). ``out`` gets the
    converted transformer (safetensors, in the checkpoint's own dtype or ``dtype``), the reused
    components, the official sampler (``scheduler/``) and the paper's guidance recipe (``guider/``), a
    model_index.json naming :data:`PIPELINE_CLASS`, and conversion.json recording the source file's
    sha256, the LoRA merge, the key counts and the recipe. The folder appears only when complete.
    """
    import diffusers
    import safetensors.torch
    import torch

    import insvie

    report = progress or _no_progress
    ckpt, base, out = Path(ckpt), Path(base), Path(out)
    _check_dtype(dtype)
    if not math.isfinite(lora_alpha):
        raise ConfigError(f"lora_alpha must be a finite number, got {lora_alpha}")
    if components not in COMPONENT_MODES:
        raise ConfigError(f"components must be one of {', '.join(COMPONENT_MODES)}, got {components!r}")
    if not ckpt.is_file():
        raise CheckpointError("no such file", path=ckpt)
    index, base_transformer = _components(base)
    config = editor_transformer_config(base_transformer)

    sha256 = _sha256(ckpt, report)
    report("load", None, None)
    sat = load_sat_checkpoint(ckpt)
    torch_dtype = stored_dtype(sat) if dtype == CHECKPOINT_DTYPE else getattr(torch, dtype)
    report("convert", None, None)
    try:
        conversion = convert_sat(sat, config=config, lora_alpha=lora_alpha, lora_rank=lora_rank)
    except CheckpointError as exc:
        raise exc.at(ckpt) from None
    summary = conversion.summary()
    # Copies, because qkv/adaLN chunks are views sharing storage, which safetensors refuses to write;
    # popped one by one so the float32 LoRA merges are freed as their copies are made.
    converted = conversion.state_dict
    state = {
        key: converted.pop(key).to(dtype=torch_dtype, copy=True).contiguous() for key in sorted(converted)
    }
    del sat, conversion, converted

    names = [name for name, spec in index.items() if not name.startswith("_") and isinstance(spec, list)]
    with _staging(out, overwrite) as staging:
        report("write", None, None)
        folder = staging / "transformer"
        folder.mkdir()
        target_model(config).save_config(folder)
        safetensors.torch.save_file(state, str(folder / WEIGHTS_NAME), metadata={"format": "pt"})
        del state
        placed = 0
        reused = [
            name for name in names if name not in ("transformer", "scheduler") and index[name][0] is not None
        ]
        for i, name in enumerate(reused):
            report("components", i, len(reused))
            placed += _place_component(base / name, staging / name, components)
        report("components", len(reused), len(reused))
        for license_file in sorted(base.glob("LICENSE*")):
            if license_file.is_file():
                shutil.copyfile(license_file, staging / license_file.name)
        scheduler, guider = _recipe()
        scheduler.save_pretrained(staging / "scheduler")
        guider.save_pretrained(staging / "guider")
        model_index = {
            "_class_name": PIPELINE_CLASS,
            "_diffusers_version": diffusers.__version__,
            **{name: index[name] for name in names},
            "transformer": ["diffusers", TRANSFORMER_CLASS],
            "scheduler": [type(scheduler).__module__, type(scheduler).__name__],
        }
        (staging / "model_index.json").write_text(json.dumps(model_index, indent=2) + "\n", encoding="utf-8")
        record = {
            "converted_by": f"insvie {insvie.__version__}",
            "pipeline": {"class": PIPELINE_CLASS, "library": "insvie"},
            "source": {"file": ckpt.name, "sha256": sha256, "bytes": ckpt.stat().st_size},
            "base": {"path": str(base.resolve()), "reused": reused, "mode": components, "files": placed},
            "dtype": str(torch_dtype).removeprefix("torch."),
            "dtype_source": "the checkpoint's" if dtype == CHECKPOINT_DTYPE else "--dtype",
            "recipe": {
                "from": "configs/inference_2b_edit.yaml of the official code",
                "scheduler": {"class": type(scheduler).__name__, **_plain(scheduler.config)},
                "guider": _plain(guider.config),
            },
            "transformer_config": {key: value for key, value in config.items() if not key.startswith("_")},
            **summary,
            "versions": {"torch": torch.__version__, "diffusers": diffusers.__version__},
        }
        (staging / "conversion.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        report("done", None, None)
    return out
