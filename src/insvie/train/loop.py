"""The training loop of the InsViE editor (one stage), on HF accelerate.

    train(config, dataset, *, accelerator=None, stop_after=None) -> Path   # the final pipeline folder

``dataset`` is a torch ``Dataset`` of dicts in one of two modes (decided per batch):

- pixels: ``{"source": (T, 3, H, W) in [-1, 1], "target": same, "prompt": str, "id": str}``; the
  pipeline's VAE (source: distribution mode, target: a sample) and T5 encode them under ``no_grad``;
- cached: ``{"source_latents": (F, 16, h, w), "target_latents": same, "prompt_embeds": (L, D), "id"}``
  (latents already scaled by the VAE scaling factor).

Either may carry ``drop_source`` (source latents zeroed: "no video") and ``drop_text`` (all-zero
prompt embeddings: "no text"), both optional booleans set by the data side's augmentation.

Each micro-batch: t ~ U{0..999}, eps ~ N(0, 1) from the trainer's own generator (one per process,
checkpointed), ``x_t = add_noise(x0, eps, t)`` with CogVideoX's DDIM training schedule, the model
input is ``[x_t, source]`` on the channel axis (dim 2 of (B, F, C, h, w)), the transformer predicts v
and :func:`insvie.train.loss.editor_loss` scores it. LoRA (peft) on the attention projections plus
the (grown) patch embedding are trained, or everything (``finetune: full``). AdamW, linear warmup
then constant / linear / cosine decay, gradient accumulation and mixed precision by accelerate.

Data order (:mod:`insvie.train.order`): a permutation per epoch cut into global batches of
``batch_size x processes`` items of one shape, each process taking its slice; the position is the
micro-batch count, so resume continues with exactly the batches an uninterrupted run would have seen.

Several processes: ``accelerate launch`` with ``configs/accelerate/ddp.yaml`` or ``fsdp2.yaml``. With
FSDP (or DeepSpeed ZeRO) each process holds a shard of the weights, so validation runs on every process
and the final weights are gathered before they are saved.

Outputs in ``output_dir``: ``log.csv`` (step, loss, lr; always), ``tensorboard/`` and a W&B run when
asked for and installed (:mod:`insvie.train.tracking`), ``checkpoints/step-N/``,
``validation/step-N/`` and ``final/`` (an ``InsViEEditPipeline`` folder with the LoRA fused into the
transformer), plus ``weights_rank<r>.sha256`` (digest of each
process's trained weights, to check that ranks agree).

This module runs the loop: it resumes, feeds the batches, steps, logs, checkpoints and validates on
schedule. Its parts: :mod:`insvie.train.prepare` (accelerator, pipeline, trained model, optimizer and
schedule), :mod:`insvie.train.objective` (one micro-batch's loss), :mod:`insvie.train.validation`,
:mod:`insvie.train.checkpoint` (save and resume) and :mod:`insvie.train.final` (the final pipeline).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from insvie.train.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from insvie.train.config import TrainStageConfig
from insvie.train.final import finish
from insvie.train.objective import StepContext, batch_loss, step_context
from insvie.train.order import EpochItems, RankSampler, batch_keys
from insvie.train.prepare import Prepared, is_sharded, make_accelerator, prepare
from insvie.train.tracking import TrainLog
from insvie.train.validation import validate

log = logging.getLogger(__name__)

_TENSOR_KEYS = ("source", "target", "source_latents", "target_latents", "prompt_embeds")


def train(
    config: TrainStageConfig,
    dataset: Dataset,
    *,
    accelerator: Any = None,
    stop_after: int | None = None,
) -> Path:
    """Train one stage; returns ``output_dir/final`` (see the module docstring).

    ``stop_after`` ends the run after that many optimizer steps in total (with a checkpoint), as if it
    had been interrupted; a later call resumes it (``resume: auto``).
    """
    from accelerate.utils import set_seed

    acc = make_accelerator(config, accelerator)
    config.output_dir.mkdir(parents=True, exist_ok=True)
    set_seed(config.seed)  # identical initialisation (LoRA A matrices) on every process
    run = prepare(config, acc)
    generator = torch.Generator().manual_seed(config.seed * 1_000_003 + acc.process_index + 1)
    progress = _resume(config, acc, generator)
    ctx = step_context(config, run.pipe, acc.device, generator)
    logger = TrainLog(
        config.output_dir,
        progress.step,
        enabled=acc.is_main_process,
        trackers=config.trackers,
        run_name=config.name,
        run_config=config.model_dump(mode="json"),
    )
    loader = _loader(config, dataset, acc, start=progress.micro)
    last_step = config.steps if stop_after is None else min(config.steps, stop_after)
    if progress.step < last_step:
        _run_steps(acc, config, run, ctx, loader, progress, logger, last_step=last_step)
    logger.close()
    return finish(acc, run, config, complete=progress.step >= config.steps)


# -- where the run is -------------------------------------------------------------------------------


@dataclass
class _Progress:
    """How far the run is: what a checkpoint holds besides accelerate's state, so resume is exact."""

    generator: torch.Generator  # the trainer's timestep and noise draws
    step: int = 0  # optimizer steps taken
    micro: int = 0  # micro-batches consumed: the position in the data order

    def state(self) -> dict[str, Any]:
        return {"step": self.step, "micro": self.micro, "generator": self.generator.get_state()}


def _resume_point(config: TrainStageConfig) -> Path | None:
    if config.resume == "never":
        return None
    if config.resume == "auto":
        return latest_checkpoint(config.output_dir)
    return Path(config.resume)


def _resume(config: TrainStageConfig, acc: Any, generator: torch.Generator) -> _Progress:
    """The run's progress, restored (with accelerate's state and ``generator``) from the checkpoint
    ``resume`` names, or a fresh start."""
    progress = _Progress(generator)
    resume_from = _resume_point(config)
    if resume_from is not None:
        state = load_checkpoint(acc, resume_from)
        progress.step, progress.micro = int(state["step"]), int(state["micro"])
        generator.set_state(state["generator"])
        log.info("resumed from %s at step %d", resume_from, progress.step)
    return progress


# -- batches ------------------------------------------------------------------------------------


def collate_examples(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack tensors, list strings, and turn optional drop flags into bool tensors."""
    batch: dict[str, Any] = {}
    for key in _TENSOR_KEYS:
        if key in items[0]:
            batch[key] = torch.stack([torch.as_tensor(item[key]) for item in items])
    for key in ("prompt", "id"):
        if key in items[0]:
            batch[key] = [item[key] for item in items]
    for key in ("drop_source", "drop_text"):
        batch[key] = torch.tensor([bool(item.get(key, False)) for item in items])
    return batch


def _loader(config: TrainStageConfig, dataset: Dataset, acc: Any, *, start: int) -> DataLoader:
    """This process's slice of every global batch, from micro-batch ``start`` of the data order on."""
    sampler = RankSampler(
        len(dataset),  # type: ignore[arg-type]
        batch_size=config.batch_size,
        rank=acc.process_index,
        world=acc.num_processes,
        seed=config.seed,
        start=start,
        keys=batch_keys(dataset, config.batch_size * acc.num_processes),
    )
    return DataLoader(
        EpochItems(dataset),
        batch_size=config.batch_size,
        sampler=sampler,
        num_workers=config.num_workers,
        collate_fn=collate_examples,
    )


# -- the loop ------------------------------------------------------------------------------------


def _run_steps(
    acc: Any,
    config: TrainStageConfig,
    run: Prepared,
    ctx: StepContext,
    loader: DataLoader,
    progress: _Progress,
    logger: TrainLog,
    *,
    last_step: int,
) -> None:
    """Micro-batches until optimizer step ``last_step``; each optimizer step logs the loss averaged
    over its micro-batches and processes, then checkpoints and validates when they are due."""
    losses: list[torch.Tensor] = []
    for batch in loader:
        losses.append(_micro_batch(acc, config, run, ctx, batch))
        progress.micro += 1
        if not acc.sync_gradients:
            continue
        lr = run.lr_scheduler.get_last_lr()[0]
        run.lr_scheduler.step()
        progress.step += 1
        mean_loss = acc.gather(torch.stack(losses).mean().reshape(1)).mean().item()
        losses.clear()
        if progress.step % config.log_every == 0 or progress.step == last_step:
            logger.write(progress.step, mean_loss, lr)
        done = progress.step >= last_step
        _checkpoint_and_validate(acc, config, run, progress, last=done)
        if done:
            break


def _micro_batch(
    acc: Any, config: TrainStageConfig, run: Prepared, ctx: StepContext, batch: dict[str, Any]
) -> torch.Tensor:
    """Forward and backward one micro-batch; the optimizer only steps when accumulation syncs
    (accelerate skips the step in between). Returns the detached loss."""
    with acc.accumulate(run.model):
        loss = batch_loss(batch, ctx, run.model, acc, config)
        acc.backward(loss)
        if acc.sync_gradients and config.max_grad_norm is not None:
            # the prepared model's parameters: FSDP replaces them with sharded ones
            acc.clip_grad_norm_(run.model.parameters(), config.max_grad_norm)
        run.optimizer.step()
        run.optimizer.zero_grad(set_to_none=True)
    return loss.detach()


def _checkpoint_and_validate(
    acc: Any, config: TrainStageConfig, run: Prepared, progress: _Progress, *, last: bool
) -> None:
    """After an optimizer step: checkpoint on schedule and at the ``last`` step, validate on schedule.
    Both are collectives: every process calls this, and validation ends at a barrier."""
    step = progress.step
    if last or (config.checkpoint_every and step % config.checkpoint_every == 0):
        save_checkpoint(acc, config.output_dir, step, progress.state(), keep=config.checkpoints_total_limit)
    if config.validation.every and step % config.validation.every == 0 and config.validation.videos:
        if is_sharded(acc) or acc.is_main_process:
            validate(run.pipe, acc.unwrap_model(run.model), config, step, write=acc.is_main_process)
        acc.wait_for_everyone()
