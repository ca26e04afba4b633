"""What one micro-batch is scored by: encode it to latents, add noise, predict v, take the editor loss.

t ~ U{0..999} and eps ~ N(0, 1) come from the trainer's own generator (one per process, checkpointed),
so a resumed run draws exactly what an uninterrupted one would. ``x_t = add_noise(x0, eps, t)`` uses
the model's own DDIM training schedule; the model input is ``[x_t, source]`` on the channel axis
(dim 2 of (B, F, C, h, w)) and :func:`insvie.train.loss.editor_loss` scores the prediction, plus the
optional perceptual term (:mod:`insvie.train.perceptual`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from insvie.editor.vae_codec import whole_clip
from insvie.train.config import TrainStageConfig
from insvie.train.loss import editor_loss, x0_estimate


@dataclass(frozen=True)
class StepContext:
    """What every training step uses: the pipeline's frozen parts, the noise table and the RNG."""

    pipe: Any
    device: torch.device
    generator: torch.Generator
    scaling: float
    text_length: int
    noise_scheduler: Any
    perceptual: Any = None  # the perceptual term's network, when the config asks for one


def step_context(
    config: TrainStageConfig, pipe: Any, device: torch.device, generator: torch.Generator
) -> StepContext:
    """The context for ``pipe``; its noise table is the model's own (the 1000-entry zero-SNR one for
    the official sampler), in a copy that validation's ``set_timesteps`` cannot touch."""
    return StepContext(
        pipe=pipe,
        device=device,
        generator=generator,
        scaling=float(pipe.vae.config.scaling_factor),
        text_length=int(pipe.transformer.config.max_text_seq_length),
        noise_scheduler=type(pipe.scheduler).from_config(pipe.scheduler.config),
        perceptual=_perceptual_network(config, device),
    )


def batch_loss(
    batch: dict[str, Any], ctx: StepContext, model: Any, acc: Any, config: TrainStageConfig
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


def _encode(batch: dict[str, Any], ctx: StepContext) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
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


def _perceptual_network(config: TrainStageConfig, device: torch.device) -> Any:
    """The optional perceptual term's network on the device, or None."""
    if config.perceptual is None:
        return None
    from insvie.train.perceptual import PerceptualLoss

    wanted = config.perceptual
    perceptual = PerceptualLoss.from_pretrained(wanted.model, layers=wanted.layers, size=wanted.size)
    return perceptual.to(device)


def _perceptual(
    loss: Any,
    ctx: StepContext,
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
