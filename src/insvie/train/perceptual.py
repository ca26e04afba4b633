"""The optional perceptual term of the training loss (``perceptual:`` in a stage config; off by default).

LPIPS needs torchvision's VGG or AlexNet, which the core keeps out, so the features come from a vision
backbone that transformers loads (DINOv2, or the vision tower of a CLIP checkpoint). LPIPS's recipe is
kept: every token's feature vector is unit-normalised, squared differences are summed over channels and
averaged over tokens, then over the chosen layers.

What is compared: latent frame 0 of the model's clean-latent estimate ``x0_hat``, decoded alone by the
frozen VAE, against the target's latent frame 0 decoded the same way. CogVideoX's VAE is causal in time,
so latent frame 0 alone decodes to an image of video frame 0 (not bit for bit the first frame of a
whole-clip decode, whose normalisation also sees the next frames; both sides being decoded alike is
what a distance needs). One frame per sample keeps the decoder's memory and time small, and the first
frame is where the method anchors the edit. Each sample is weighted by alpha_bar at its timestep, since
an estimate made from almost pure noise has no detail to judge.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class PerceptualLoss(torch.nn.Module):
    """LPIPS-style distance between images in [-1, 1], on a frozen transformers vision backbone."""

    def __init__(
        self,
        backbone: torch.nn.Module,
        *,
        layers: Sequence[int] | None = None,
        size: int = 224,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
    ) -> None:
        super().__init__()
        self.backbone = backbone.eval().requires_grad_(False)
        self.layers = None if layers is None else [int(layer) for layer in layers]
        self.size = int(size)
        for name, values in (("mean", mean), ("std", std)):
            stats = torch.tensor(values, dtype=torch.float32).view(1, 3, 1, 1)
            self.register_buffer(name, stats, persistent=False)

    @classmethod
    def from_pretrained(
        cls, model: str, *, layers: Sequence[int] | None = None, size: int = 224
    ) -> PerceptualLoss:
        """A backbone from a hub id or a folder: a vision model, or a CLIP-style model's vision tower."""
        from transformers import AutoImageProcessor, AutoModel

        from insvie.backends.hub import load_pretrained

        loaded = load_pretrained("perceptual.model", model, AutoModel.from_pretrained, model)
        backbone = getattr(loaded, "vision_model", loaded)
        mean, std = IMAGENET_MEAN, IMAGENET_STD
        try:
            processor = AutoImageProcessor.from_pretrained(model)
            mean, std = tuple(processor.image_mean), tuple(processor.image_std)
        except (OSError, ValueError, KeyError, AttributeError, TypeError):
            pass  # no processor saved with the weights: ImageNet statistics, what DINOv2 uses
        return cls(backbone, layers=layers, size=size, mean=mean, std=std)

    def _features(self, images: Tensor) -> list[Tensor]:
        pixels = (images.float() + 1) / 2
        pixels = torch.nn.functional.interpolate(
            pixels, size=(self.size, self.size), mode="bilinear", align_corners=False
        )
        pixels = (pixels - self.mean) / self.std
        dtype = next(self.backbone.parameters()).dtype
        hidden = self.backbone(pixel_values=pixels.to(dtype), output_hidden_states=True).hidden_states
        chosen = hidden[1:] if self.layers is None else [hidden[layer] for layer in self.layers]
        return [torch.nn.functional.normalize(h.float(), dim=-1) for h in chosen]

    def forward(self, images: Tensor, targets: Tensor, weights: Tensor | None = None) -> Tensor:
        """Mean over the batch of ``weights`` (B,) times each pair's distance; images (B, 3, H, W)."""
        with torch.no_grad():
            target_features = self._features(targets)
        pairs = zip(self._features(images), target_features, strict=True)
        per_sample = torch.stack([((a - b) ** 2).sum(dim=-1).mean(dim=-1) for a, b in pairs]).mean(dim=0)
        if weights is not None:
            per_sample = per_sample * weights.to(per_sample)
        return per_sample.mean()


def first_frames(vae: Any, latents: Tensor, scaling: float) -> Tensor:
    """An image (B, 3, H, W) of video frame 0, in about [-1, 1], decoded from latent frame 0 alone."""
    first = latents[:, :1].permute(0, 2, 1, 3, 4) / scaling
    return vae.decode(first.to(vae.dtype)).sample[:, :, 0].float()


def perceptual_term(
    loss: PerceptualLoss, vae: Any, x0_hat: Tensor, target: Tensor, alpha_bar: Tensor, scaling: float
) -> Tensor:
    """The perceptual distance of the estimate's first frame to the target's, weighted by ``alpha_bar``."""
    with torch.no_grad():
        wanted = first_frames(vae, target, scaling)
    return loss(first_frames(vae, x0_hat, scaling), wanted, alpha_bar)
