"""Training augmentations of the InsViE method, drawn reproducibly per (seed, epoch, item).

From the method: the instruction is dropped 10% of the time, the source video 5% (the loop zeroes its
latents; the item only carries ``drop_source``), Gaussian noise is added to the source pixels with
sigma = exp(N(-3, 0.5)) on [-1, 1], and 5% of pairs are identity pairs (target = source, empty
instruction). Every draw is made, in a fixed order, whether or not it is used, so switching one
augmentation off does not shift the others.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported on use: stage configs (which hold an AugmentConfig) stay torch-free
    import torch


@dataclass(frozen=True)
class AugmentConfig:
    """Rates and noise parameters; :meth:`off` gives the identity augmentation (for caching, eval)."""

    text_drop: float = 0.10
    source_drop: float = 0.05
    identity: float = 0.05
    noise: bool = True
    noise_log_mean: float = -3.0
    noise_log_std: float = 0.5

    def __post_init__(self) -> None:
        for name in ("text_drop", "source_drop", "identity"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value}")
        if self.noise_log_std < 0:
            raise ValueError(f"noise_log_std must be non-negative, got {self.noise_log_std}")

    @classmethod
    def off(cls) -> AugmentConfig:
        return cls(text_drop=0.0, source_drop=0.0, identity=0.0, noise=False)

    def to_dict(self) -> dict[str, float | bool]:
        return asdict(self)


@dataclass(frozen=True)
class AugmentDraw:
    """What one item gets: which drops apply, the noise sigma (0 for none) and a seed for the noise."""

    drop_text: bool
    drop_source: bool
    identity: bool
    noise_sigma: float
    noise_seed: int


def item_rng(seed: int, epoch: int, index: int, stream: int = 0) -> np.random.Generator:
    """The generator of one item in one epoch; ``stream`` separates independent uses (crop, augment)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(epoch), int(index), int(stream)]))


def draw_augment(config: AugmentConfig, rng: np.random.Generator) -> AugmentDraw:
    uniforms = rng.random(3)
    log_sigma = rng.normal(config.noise_log_mean, config.noise_log_std)
    noise_seed = int(rng.integers(0, 2**63 - 1))
    return AugmentDraw(
        drop_text=bool(uniforms[0] < config.text_drop),
        drop_source=bool(uniforms[1] < config.source_drop),
        identity=bool(uniforms[2] < config.identity),
        noise_sigma=float(np.exp(log_sigma)) if config.noise else 0.0,
        noise_seed=noise_seed,
    )


def apply_pixel_augment(
    source: torch.Tensor, target: torch.Tensor, prompt: str, draw: AugmentDraw
) -> tuple[torch.Tensor, torch.Tensor, str]:
    """(source, target, prompt) after ``draw``: identity pairs copy the clean source; noise is clamped."""
    if draw.identity:
        target = source.clone()
        prompt = ""
    if draw.drop_text:
        prompt = ""
    if draw.noise_sigma > 0:
        import torch

        generator = torch.Generator().manual_seed(draw.noise_seed)
        noise = torch.randn(source.shape, generator=generator, dtype=source.dtype)
        source = (source + draw.noise_sigma * noise).clamp_(-1.0, 1.0)
    return source, target, prompt


def apply_latent_augment(
    source_latents: torch.Tensor, target_latents: torch.Tensor, prompt_embeds: torch.Tensor, draw: AugmentDraw
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The cached-latent version: identity and text drops only (pixel noise needs pixels).

    A dropped instruction becomes all-zero embeddings, the "no text" of the sampler.
    """
    if draw.identity:
        target_latents = source_latents.clone()
    if draw.identity or draw.drop_text:
        prompt_embeds = prompt_embeds.new_zeros(prompt_embeds.shape)
    return source_latents, target_latents, prompt_embeds
