"""What a training run starts from: the accelerator, the start pipeline with its frozen parts on the
device, and the trained part (LoRA adapters plus the grown patch embedding, or the whole transformer
with ``finetune: full``) with its AdamW optimizer and learning-rate schedule.

The schedule is a linear warmup, then constant, linear or cosine decay; it is stepped by hand once
per optimizer step (not per micro-batch), so it is registered for checkpointing rather than prepared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from insvie.errors import ConfigError
from insvie.train.config import TrainStageConfig


@dataclass(frozen=True)
class Prepared:
    """The start pipeline and what is trained (model and optimizer as ``accelerator.prepare`` gave them)."""

    pipe: Any
    transformer_cls: type  # taken before preparing: FSDP2 swaps the class of the module it shards
    model: Any
    optimizer: Any
    lr_scheduler: Any


def make_accelerator(config: TrainStageConfig, accelerator: Any = None) -> Any:
    """``accelerator``, or one built from the config; a given one must accumulate as the config says,
    since the step count, the schedule and the checkpoints all count optimizer steps."""
    from accelerate import Accelerator

    acc = accelerator or Accelerator(
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        mixed_precision=config.mixed_precision,
    )
    if acc.gradient_accumulation_steps != config.gradient_accumulation_steps:
        raise ConfigError(
            f"gradient_accumulation_steps: the accelerator has {acc.gradient_accumulation_steps}, "
            f"the config {config.gradient_accumulation_steps}"
        )
    return acc


def is_sharded(acc: Any) -> bool:
    """Whether each process holds only a shard of the weights (FSDP, DeepSpeed)."""
    from accelerate.utils import DistributedType

    return acc.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED)


def lr_factor(step: int, config: TrainStageConfig) -> float:
    """The learning-rate multiplier for optimizer step ``step`` (0-based)."""
    if config.warmup_steps and step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    if config.lr_schedule == "constant":
        return 1.0
    span = max(1, config.steps - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / span)
    if config.lr_schedule == "linear":
        return 1.0 - progress
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def trainable_model(transformer: torch.nn.Module, config: TrainStageConfig) -> torch.nn.Module:
    """The transformer with only the trained parameters requiring grad: wrapped for LoRA (peft) unless
    ``finetune: full``."""
    if config.finetune == "full":
        transformer.requires_grad_(True)
        return transformer
    from peft import LoraConfig, get_peft_model

    lora = config.lora
    transformer.requires_grad_(False)
    peft_config = LoraConfig(
        r=lora.rank,
        lora_alpha=lora.alpha if lora.alpha is not None else lora.rank,
        lora_dropout=lora.dropout,
        target_modules=list(lora.target_modules),
        init_lora_weights=True,
    )
    model = get_peft_model(transformer, peft_config)
    if lora.train_patch_embedding:
        transformer.patch_embed.proj.requires_grad_(True)
    return model


def prepare(config: TrainStageConfig, acc: Any) -> Prepared:
    """Load the start pipeline, move its frozen VAE and text encoder to the device, and prepare the
    trainable model with its optimizer and schedule."""
    from insvie.editor.pipeline import InsViEEditPipeline

    start = config.start_weights()
    if not start.is_dir():
        raise ConfigError(f"model: {start} is not a pipeline folder")
    pipe = InsViEEditPipeline.from_pretrained(start)
    pipe.set_progress_bar_config(disable=True)
    for frozen in (pipe.vae, pipe.text_encoder):
        frozen.requires_grad_(False)
        frozen.eval()
        frozen.to(acc.device)
    transformer = pipe.transformer
    transformer_cls = type(transformer)
    if config.gradient_checkpointing:
        transformer.enable_gradient_checkpointing()
    model = trainable_model(transformer, config)
    model.train()
    optimizer = _optimizer(model, config)
    lr_scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, config))
    model, optimizer = acc.prepare(model, optimizer)
    acc.register_for_checkpointing(lr_scheduler)  # stepped by hand: once per optimizer step
    return Prepared(pipe, transformer_cls, model, optimizer, lr_scheduler)


def _optimizer(model: torch.nn.Module, config: TrainStageConfig) -> torch.optim.Optimizer:
    """AdamW over the parameters that require grad (the frozen base weights stay out of its state)."""
    return torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],
        lr=config.learning_rate,
        betas=(config.adam_beta1, config.adam_beta2),
        eps=config.adam_epsilon,
        weight_decay=config.weight_decay,
    )
