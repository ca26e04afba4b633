"""The end of a run: the trained editor saved as an ``InsViEEditPipeline`` folder (``final/``, LoRA
fused into the transformer, so it loads like any other editor), and ``weights_rank<r>.sha256`` per
process (a digest of its trained weights, to check that the ranks agree).

With FSDP (or DeepSpeed ZeRO) each process holds a shard of every weight, so the weights are gathered
before they are saved, and every process takes part.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from insvie.train.checkpoint import weights_digest
from insvie.train.config import FINAL_DIRNAME, TrainStageConfig
from insvie.train.prepare import Prepared, is_sharded, trainable_model


def finish(acc: Any, run: Prepared, config: TrainStageConfig, *, complete: bool) -> Path:
    """Write this process's weights digest and, when the run reached its last step, the final pipeline
    (a run stopped early on purpose has no final weights yet); returns ``output_dir/final``."""
    digest = weights_digest(acc.unwrap_model(run.model))
    (config.output_dir / f"weights_rank{acc.process_index}.sha256").write_text(digest + "\n")
    final = config.output_dir / FINAL_DIRNAME
    if complete:
        save_final(acc, run, config, final)
    return final


def save_final(acc: Any, run: Prepared, config: TrainStageConfig, final: Path) -> None:
    """Write the trained editor (LoRA merged) as a pipeline folder; a collective under FSDP."""
    acc.wait_for_everyone()
    if is_sharded(acc):
        merged = gathered_transformer(acc, run.model, run.transformer_cls, config)
    else:
        merged = merged_transformer(acc.unwrap_model(run.model)) if acc.is_main_process else None
    if merged is not None:
        merged.requires_grad_(False)
        run.pipe.register_modules(transformer=merged)
        run.pipe.save_pretrained(final)
    acc.wait_for_everyone()


def merged_transformer(model: torch.nn.Module) -> torch.nn.Module:
    """The plain transformer: LoRA fused into its weights when ``model`` is a peft model."""
    from peft import PeftModel

    if isinstance(model, PeftModel):
        return model.merge_and_unload()
    return model


def gathered_transformer(
    acc: Any, model: torch.nn.Module, transformer_cls: type, config: TrainStageConfig
) -> torch.nn.Module | None:
    """The trained transformer as one plain module on the main process (``None`` on the others).

    Sharded processes each hold part of every weight, so the full state dict is gathered (a collective:
    every process calls this) and loaded into a fresh copy of the start weights' architecture, wrapped
    for LoRA the same way, so LoRA can be merged as in the unsharded case."""
    state = acc.get_state_dict(model)
    if not acc.is_main_process:
        return None
    fresh = trainable_model(
        transformer_cls.from_pretrained(config.start_weights(), subfolder="transformer"), config
    )
    fresh.load_state_dict(state)
    return merged_transformer(fresh)
