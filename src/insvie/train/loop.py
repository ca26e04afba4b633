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
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from insvie.editor.vae_codec import whole_clip
from insvie.errors import ConfigError
from insvie.train.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
    weights_digest,
)
from insvie.train.config import FINAL_DIRNAME, TrainStageConfig
from insvie.train.loss import editor_loss, x0_estimate
from insvie.train.order import EpochItems, RankSampler, batch_keys
from insvie.train.tracking import TrainLog

log = logging.getLogger(__name__)

_TENSOR_KEYS = ("source", "target", "source_latents", "target_latents", "prompt_embeds")


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


# -- schedule -----------------------------------------------------------------------------------


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


# -- model ----------------------------------------------------------------------------------------


def _trainable_model(transformer: torch.nn.Module, config: TrainStageConfig) -> torch.nn.Module:
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


def _merged_transformer(model: torch.nn.Module) -> torch.nn.Module:
    from peft import PeftModel

    if isinstance(model, PeftModel):
        return model.merge_and_unload()
    return model


def _is_sharded(acc: Any) -> bool:
    """Whether each process holds only a shard of the weights (FSDP, DeepSpeed)."""
    from accelerate.utils import DistributedType

    return acc.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED)


def _gathered_transformer(
    acc: Any, model: torch.nn.Module, transformer_cls: type, config: TrainStageConfig
) -> torch.nn.Module | None:
    """The trained transformer as one plain module on the main process (``None`` on the others).

    Sharded processes each hold part of every weight, so the full state dict is gathered (a collective:
    every process calls this) and loaded into a fresh copy of the start weights' architecture, wrapped
    for LoRA the same way, so LoRA can be merged as in the unsharded case."""
    state = acc.get_state_dict(model)
    if not acc.is_main_process:
        return None
    fresh = _trainable_model(
        transformer_cls.from_pretrained(config.start_weights(), subfolder="transformer"), config
    )
    fresh.load_state_dict(state)
    return _merged_transformer(fresh)


@dataclass
class _Ctx:
    """What every training step uses: the pipeline's frozen parts, the noise table and the RNG."""

    pipe: Any
    device: torch.device
    generator: torch.Generator
    scaling: float
    text_length: int
    noise_scheduler: Any = None
    perceptual: Any = None


def _encode(batch: dict[str, Any], ctx: _Ctx) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(source latents, target latents, prompt embeddings) on the device, float32."""
    device = ctx.device
    if "target_latents" in batch:
        source = batch["source_latents"].to(device, torch.float32)
        target = batch["target_latents"].to(device, torch.float32)
        embeds = batch["prompt_embeds"].to(device, torch.float32)
        return source, target, embeds
    pipe = ctx.pipe
    vae_dtype = pipe.vae.dtype
    with torch.no_grad():
        # (B, T, 3, H, W) -> (B, 3, T, H, W) for the VAE, back to (B, F, C, h, w)
        src = batch["source"].to(device, vae_dtype).permute(0, 2, 1, 3, 4)
        tgt = batch["target"].to(device, vae_dtype).permute(0, 2, 1, 3, 4)
        with whole_clip(pipe.vae, src.shape[2]):  # one pass per clip, as the editor encodes its source
            source = pipe.vae.encode(src).latent_dist.mode()
            target = pipe.vae.encode(tgt).latent_dist.sample(generator=ctx.generator)
        source = (source * ctx.scaling).permute(0, 2, 1, 3, 4).float()
        target = (target * ctx.scaling).permute(0, 2, 1, 3, 4).float()
        embeds, _ = pipe.encode_prompt(
            list(batch["prompt"]), max_sequence_length=ctx.text_length, device=device, dtype=torch.float32
        )
    return source, target, embeds


def _perceptual(
    loss: Any,
    ctx: _Ctx,
    pred: torch.Tensor,
    target: torch.Tensor,
    noise: torch.Tensor,
    timesteps: torch.Tensor,
    alphas_cumprod: torch.Tensor,
) -> torch.Tensor:
    from insvie.train.perceptual import perceptual_term

    x0_hat = x0_estimate(pred, target, noise, timesteps, alphas_cumprod)
    alpha_bar = alphas_cumprod.to(ctx.device, torch.float32)[timesteps.to(ctx.device)]
    return perceptual_term(loss, ctx.pipe.vae, x0_hat, target, alpha_bar, ctx.scaling)


# -- validation ----------------------------------------------------------------------------------


def _validate(
    pipe: Any, model: torch.nn.Module, config: TrainStageConfig, step: int, *, write: bool = True
) -> None:
    """Edit the validation videos with the current weights; write mp4s and a first/mid/last frame grid.

    With sharded weights (FSDP, ZeRO-3) every process must run the forward passes together, so every
    process calls this and only the one with ``write`` saves the results."""
    import numpy as np
    from PIL import Image

    from insvie.editor.output import write_edit_video
    from insvie.editor.runner import EditorRunner, EditSettings

    val = config.validation
    folder = config.output_dir / "validation" / f"step-{step:08d}"
    if write:
        folder.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    rows = []
    try:
        runner = EditorRunner.from_pipeline(pipe)
        settings = EditSettings(
            steps=val.num_inference_steps,
            frames=val.num_frames,
            height=val.height,
            width=val.width,
            seed=config.seed,
        )
        for i, (video, prompt) in enumerate(zip(val.videos, val.prompts, strict=True)):
            result = runner.edit(video, prompt, settings)
            frames = result.frames
            if not write:
                continue
            write_edit_video(frames, folder / f"{i:03d}.mp4", fps=result.fps)
            picks = [frames[0], frames[len(frames) // 2], frames[-1]]
            rows.append(np.concatenate(picks, axis=1))
        if rows and write:
            Image.fromarray(np.concatenate(rows, axis=0)).save(folder / "grid.png")
    except Exception as error:  # validation must not kill a long run
        log.warning("validation at step %d failed: %s", step, error)
    finally:
        model.train(was_training)


# -- the loop ------------------------------------------------------------------------------------


def _resume_point(config: TrainStageConfig) -> Path | None:
    if config.resume == "never":
        return None
    if config.resume == "auto":
        return latest_checkpoint(config.output_dir)
    return Path(config.resume)


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
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    acc = accelerator or Accelerator(
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        mixed_precision=config.mixed_precision,
    )
    if acc.gradient_accumulation_steps != config.gradient_accumulation_steps:
        raise ConfigError(
            f"gradient_accumulation_steps: the accelerator has {acc.gradient_accumulation_steps}, "
            f"the config {config.gradient_accumulation_steps}"
        )
    output_dir = config.output_dir
    output_dir.mkdir(parents=True, exist_ok=True)
    set_seed(config.seed)  # identical initialisation (LoRA A matrices) on every process

    pipe, transformer_cls, model, optimizer, lr_scheduler = _prepare(config, acc)
    sharded = _is_sharded(acc)
    device = acc.device
    # The model's own noise table (the 1000-entry zero-SNR one for the official sampler), in a copy that
    # validation's set_timesteps cannot touch.
    noise_scheduler = type(pipe.scheduler).from_config(pipe.scheduler.config)
    generator = torch.Generator().manual_seed(config.seed * 1_000_003 + acc.process_index + 1)

    step, micro = 0, 0
    resume_from = _resume_point(config)
    if resume_from is not None:
        state = load_checkpoint(acc, resume_from)
        step, micro = int(state["step"]), int(state["micro"])
        generator.set_state(state["generator"])
        log.info("resumed from %s at step %d", resume_from, step)

    ctx = _Ctx(
        pipe=pipe,
        device=device,
        generator=generator,
        scaling=float(pipe.vae.config.scaling_factor),
        text_length=int(pipe.transformer.config.max_text_seq_length),
        noise_scheduler=noise_scheduler,
        perceptual=_perceptual_loss(config, device),
    )
    logger = TrainLog(
        output_dir,
        step,
        enabled=acc.is_main_process,
        trackers=config.trackers,
        run_name=config.name,
        run_config=config.model_dump(mode="json"),
    )
    sampler = RankSampler(
        len(dataset),  # type: ignore[arg-type]
        batch_size=config.batch_size,
        rank=acc.process_index,
        world=acc.num_processes,
        seed=config.seed,
        start=micro,
        keys=batch_keys(dataset, config.batch_size * acc.num_processes),
    )
    loader = DataLoader(
        EpochItems(dataset),
        batch_size=config.batch_size,
        sampler=sampler,
        num_workers=config.num_workers,
        collate_fn=collate_examples,
    )
    last_step = config.steps if stop_after is None else min(config.steps, stop_after)

    def train_state() -> dict[str, Any]:
        return {"step": step, "micro": micro, "generator": generator.get_state()}

    losses: list[torch.Tensor] = []
    batches = iter(loader) if step < last_step else iter(())
    for batch in batches:
        with acc.accumulate(model):
            loss = _batch_loss(batch, ctx, model, acc, config)
            acc.backward(loss)
            if acc.sync_gradients and config.max_grad_norm is not None:
                # the prepared model's parameters: FSDP replaces them with sharded ones
                acc.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        micro += 1
        losses.append(loss.detach())
        if not acc.sync_gradients:
            continue
        lr = lr_scheduler.get_last_lr()[0]
        lr_scheduler.step()
        step += 1
        mean_loss = acc.gather(torch.stack(losses).mean().reshape(1)).mean().item()
        losses.clear()
        if step % config.log_every == 0 or step == last_step:
            logger.write(step, mean_loss, lr)
        done = step >= last_step
        if done or (config.checkpoint_every and step % config.checkpoint_every == 0):
            save_checkpoint(acc, output_dir, step, train_state(), keep=config.checkpoints_total_limit)
        if config.validation.every and step % config.validation.every == 0 and config.validation.videos:
            if sharded or acc.is_main_process:
                _validate(pipe, acc.unwrap_model(model), config, step, write=acc.is_main_process)
            acc.wait_for_everyone()
        if done:
            break
    logger.close()

    unwrapped = acc.unwrap_model(model)
    (output_dir / f"weights_rank{acc.process_index}.sha256").write_text(weights_digest(unwrapped) + "\n")
    final = output_dir / FINAL_DIRNAME
    if step < config.steps:
        return final  # interrupted on purpose (stop_after): no final weights yet
    _save_final(acc, model, pipe, transformer_cls, config, final, sharded=sharded)
    return final


def _prepare(config: TrainStageConfig, acc: Any) -> tuple[Any, type, Any, Any, Any]:
    """The start pipeline with its frozen parts on the device, and the prepared trainable model,
    optimizer and learning-rate schedule: (pipe, transformer class, model, optimizer, lr scheduler)."""
    from insvie.editor.pipeline import InsViEEditPipeline

    start = config.start_weights()
    if not start.is_dir():
        raise ConfigError(f"model: {start} is not a pipeline folder")
    pipe = InsViEEditPipeline.from_pretrained(start)
    pipe.set_progress_bar_config(disable=True)
    device = acc.device
    for frozen in (pipe.vae, pipe.text_encoder):
        frozen.requires_grad_(False)
        frozen.eval()
        frozen.to(device)
    transformer = pipe.transformer
    transformer_cls = type(transformer)  # FSDP2 swaps the class of the module it shards
    if config.gradient_checkpointing:
        transformer.enable_gradient_checkpointing()
    model = _trainable_model(transformer, config)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        params,
        lr=config.learning_rate,
        betas=(config.adam_beta1, config.adam_beta2),
        eps=config.adam_epsilon,
        weight_decay=config.weight_decay,
    )
    lr_scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, config))
    model, optimizer = acc.prepare(model, optimizer)
    acc.register_for_checkpointing(lr_scheduler)  # stepped by hand: once per optimizer step
    return pipe, transformer_cls, model, optimizer, lr_scheduler


def _perceptual_loss(config: TrainStageConfig, device: torch.device) -> Any:
    """The optional perceptual term's network on the device, or None."""
    if config.perceptual is None:
        return None
    from insvie.train.perceptual import PerceptualLoss

    wanted = config.perceptual
    perceptual = PerceptualLoss.from_pretrained(wanted.model, layers=wanted.layers, size=wanted.size)
    return perceptual.to(device)


def _batch_loss(
    batch: dict[str, Any], ctx: _Ctx, model: Any, acc: Any, config: TrainStageConfig
) -> torch.Tensor:
    """One micro-batch's loss: encode, draw timesteps and noise (from the run's generator, so a resumed
    run draws the same), predict with the source and text dropped where the batch says, score."""
    pipe, device, generator = ctx.pipe, ctx.device, ctx.generator
    alphas_cumprod = ctx.noise_scheduler.alphas_cumprod
    source, target, embeds = _encode(batch, ctx)
    count = target.shape[0]
    timesteps = torch.randint(
        0, int(ctx.noise_scheduler.config.num_train_timesteps), (count,), generator=generator
    )
    noise = torch.randn(target.shape, generator=generator).to(device)
    noisy = ctx.noise_scheduler.add_noise(target, noise, timesteps.to(device))
    keep_source = (~batch["drop_source"]).to(device, torch.float32).view(-1, 1, 1, 1, 1)
    keep_text = (~batch["drop_text"]).to(device, torch.float32).view(-1, 1, 1)
    model_input = torch.cat([noisy, source * keep_source], dim=2)
    spatial = pipe.vae_scale_factor_spatial
    rotary = pipe._rotary_embeddings(
        target.shape[-2] * spatial, target.shape[-1] * spatial, target.shape[1], device
    )
    with acc.autocast():
        pred = model(
            hidden_states=model_input,
            encoder_hidden_states=embeds * keep_text,
            timestep=timesteps.to(device),
            image_rotary_emb=rotary,
            return_dict=False,
        )[0]
    loss = editor_loss(
        pred.float(), target, noise, timesteps, alphas_cumprod, frame_weighting=config.frame_weighting
    )
    if ctx.perceptual is not None:
        loss = loss + config.perceptual.weight * _perceptual(
            ctx.perceptual, ctx, pred, target, noise, timesteps, alphas_cumprod
        )
    return loss


def _save_final(
    acc: Any,
    model: Any,
    pipe: Any,
    transformer_cls: type,
    config: TrainStageConfig,
    final: Path,
    *,
    sharded: bool,
) -> None:
    """Write the trained editor (LoRA merged) as a pipeline folder; a collective under FSDP."""
    acc.wait_for_everyone()
    if sharded:
        merged = _gathered_transformer(acc, model, transformer_cls, config)
    else:
        merged = _merged_transformer(acc.unwrap_model(model)) if acc.is_main_process else None
    if merged is not None:
        merged.requires_grad_(False)
        pipe.register_modules(transformer=merged)
        pipe.save_pretrained(final)
    acc.wait_for_everyone()
