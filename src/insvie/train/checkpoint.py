"""Training checkpoints with exact resume (the final pipeline folder is written by ``train/final.py``).

A checkpoint ``<output_dir>/checkpoints/step-NNNNNNNN/`` holds ``accelerator.save_state`` (model,
optimizer, registered LR scheduler, accelerate's RNG states) plus one ``train_state_<rank>.pt`` per
process (optimizer step, micro-batch position in the data order, and the trainer's own noise/timestep
generator state) and a ``COMPLETE`` marker written last, so a run killed mid-save never resumes from a
half-written folder.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path
from typing import Any

import torch

CHECKPOINTS_DIRNAME = "checkpoints"
COMPLETE_MARKER = "COMPLETE"
_STEP_DIR = re.compile(r"^step-(\d+)$")


def checkpoint_dir(output_dir: Path, step: int) -> Path:
    return Path(output_dir) / CHECKPOINTS_DIRNAME / f"step-{step:08d}"


def list_checkpoints(output_dir: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints as (step, folder), oldest first."""
    root = Path(output_dir) / CHECKPOINTS_DIRNAME
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        match = _STEP_DIR.match(child.name)
        if match and (child / COMPLETE_MARKER).is_file():
            found.append((int(match.group(1)), child))
    return sorted(found)


def latest_checkpoint(output_dir: Path) -> Path | None:
    found = list_checkpoints(output_dir)
    return found[-1][1] if found else None


def save_checkpoint(
    accelerator: Any, output_dir: Path, step: int, train_state: dict[str, Any], *, keep: int | None = None
) -> Path:
    """Save everything needed to continue exactly after optimizer step ``step``; returns the folder."""
    folder = checkpoint_dir(output_dir, step)
    if accelerator.is_main_process:
        folder.mkdir(parents=True, exist_ok=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(folder))
    torch.save(train_state, folder / f"train_state_{accelerator.process_index}.pt")
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (folder / COMPLETE_MARKER).write_text(f"{step}\n")
        if keep is not None:
            for _, old in list_checkpoints(output_dir)[:-keep]:
                shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return folder


def load_checkpoint(accelerator: Any, folder: Path) -> dict[str, Any]:
    """Restore accelerate's state from ``folder``; returns this process's train state."""
    folder = Path(folder)
    if not (folder / COMPLETE_MARKER).is_file():
        raise FileNotFoundError(f"{folder}: not a complete checkpoint (no {COMPLETE_MARKER} marker)")
    accelerator.load_state(str(folder))
    state_file = folder / f"train_state_{accelerator.process_index}.pt"
    if not state_file.is_file():
        raise FileNotFoundError(
            f"{state_file}: missing; was the checkpoint written with a different number of processes?"
        )
    return torch.load(state_file, weights_only=True)


def weights_digest(module: torch.nn.Module, *, trainable_only: bool = True) -> str:
    """sha256 over the (trainable) parameters' names and bytes, to compare weights across ranks.

    With FSDP2 every process must call it (each sharded parameter is gathered)."""
    digest = hashlib.sha256()
    for name, param in module.named_parameters():
        if trainable_only and not param.requires_grad:
            continue
        value = param.detach()
        if hasattr(value, "full_tensor"):  # an FSDP2 shard: gathered, so every process digests the whole
            value = value.full_tensor()
        digest.update(name.encode())
        digest.update(value.float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()
