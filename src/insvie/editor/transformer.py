"""The editor transformer: a CogVideoX text-to-video transformer that also reads the source video.

InsViE conditions on the clean source-video latents by concatenating them to the noisy latents on the
channel axis, so the transformer takes 16 noisy + 16 source = 32 input channels. Only the patch
embedding sees channels, so only it changes: its input grows from 16 to 32 channels, the first 16
keep the pretrained weights, the new 16 start at zero and the bias is kept (InstructPix2Pix-style).
With the new weights at zero the untrained editor computes exactly what the text-to-video model
computes on the noisy half, whatever the source latents hold, so fine-tuning starts from a working
video generator rather than from noise.

Both patch-embedding layouts diffusers has are handled:

- CogVideoX 1.0 (2B, 5B): a ``Conv2d`` over each latent frame, weight ``(D, C, p, p)``;
- CogVideoX 1.5: a ``Linear`` over ``p_t x p x p`` patches whose features are ordered channel-major,
  ``(C, p_t, p, p)`` flattened, so the channel axis is grown after a reshape.

Positional embeddings (sin-cos for 2B, rotary for 5B, learned for the 5B image-to-video model) do not
depend on the channel count and are left as they are.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from diffusers import CogVideoXTransformer3DModel

log = logging.getLogger(__name__)

LATENT_CHANNELS = 16
EDITOR_IN_CHANNELS = 2 * LATENT_CHANNELS
VAE_TEMPORAL_FACTOR = 4

# diffusers-format transformer configs of the public CogVideoX text-to-video checkpoints (1.0 family).
COGVIDEOX_2B_CONFIG: dict[str, Any] = {
    "activation_fn": "gelu-approximate",
    "attention_bias": True,
    "attention_head_dim": 64,
    "dropout": 0.0,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 16,
    "max_text_seq_length": 226,
    "norm_elementwise_affine": True,
    "norm_eps": 1e-5,
    "num_attention_heads": 30,
    "num_layers": 30,
    "out_channels": 16,
    "patch_size": 2,
    "sample_frames": 49,
    "sample_height": 60,
    "sample_width": 90,
    "spatial_interpolation_scale": 1.875,
    "temporal_compression_ratio": 4,
    "temporal_interpolation_scale": 1.0,
    "text_embed_dim": 4096,
    "time_embed_dim": 512,
    "timestep_activation_fn": "silu",
    "use_rotary_positional_embeddings": False,
    "use_learned_positional_embeddings": False,
}
COGVIDEOX_5B_CONFIG: dict[str, Any] = {
    **COGVIDEOX_2B_CONFIG,
    "num_attention_heads": 48,
    "num_layers": 42,
    "use_rotary_positional_embeddings": True,
}
# The CogVideoX 3D VAE shared by 2B and 5B; only the latent scaling factor differs (2B: 1.15258426, 5B: 0.7).
# CogVideoX's scheduler config (v-prediction, zero terminal SNR, SNR shift 3, trailing timesteps).
COGVIDEOX_SCHEDULER_CONFIG: dict[str, Any] = {
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "prediction_type": "v_prediction",
    "rescale_betas_zero_snr": True,
    "set_alpha_to_one": True,
    "snr_shift_scale": 3.0,
    "steps_offset": 0,
    "timestep_spacing": "trailing",
}

COGVIDEOX_VAE_CONFIG: dict[str, Any] = {
    "act_fn": "silu",
    "block_out_channels": [128, 256, 256, 512],
    "down_block_types": ["CogVideoXDownBlock3D"] * 4,
    "up_block_types": ["CogVideoXUpBlock3D"] * 4,
    "force_upcast": True,
    "in_channels": 3,
    "latent_channels": 16,
    "latents_mean": None,
    "latents_std": None,
    "layers_per_block": 3,
    "norm_eps": 1e-6,
    "norm_num_groups": 32,
    "out_channels": 3,
    "sample_height": 480,
    "sample_width": 720,
    "scaling_factor": 1.15258426,
    "shift_factor": None,
    "temporal_compression_ratio": 4,
    "use_post_quant_conv": False,
    "use_quant_conv": False,
}


def vae_spatial_factor(vae_config: Mapping[str, Any]) -> int:
    """How many pixels one latent spans along each side: the CogVideoX VAE halves the size between
    consecutive blocks, so it follows from the VAE's config rather than being a constant to keep in step."""
    return 2 ** (len(vae_config["block_out_channels"]) - 1)


VAE_SPATIAL_FACTOR = vae_spatial_factor(COGVIDEOX_VAE_CONFIG)  # 8


def latent_shape(num_frames: int, height: int, width: int) -> tuple[int, int, int, int]:
    """(latent frames, channels, height, width) of one half of the editor input for a 4k+1-frame clip.

    49 frames at 480x720 give (13, 16, 60, 90): the VAE keeps the first frame alone and packs the rest
    four to a latent frame, and shrinks each side eightfold.
    """
    if num_frames < 1 or (num_frames - 1) % VAE_TEMPORAL_FACTOR:
        raise ValueError(f"num_frames must be 4k+1, got {num_frames}")
    if height % VAE_SPATIAL_FACTOR or width % VAE_SPATIAL_FACTOR:
        raise ValueError(f"height and width must be multiples of {VAE_SPATIAL_FACTOR}, got {height}x{width}")
    return (
        (num_frames - 1) // VAE_TEMPORAL_FACTOR + 1,
        LATENT_CHANNELS,
        height // VAE_SPATIAL_FACTOR,
        width // VAE_SPATIAL_FACTOR,
    )


def _grown_weight(
    weight: torch.Tensor, old_channels: int, new_channels: int, patch_size_t: int | None
) -> Any:
    """The patch-embedding weight with ``new_channels - old_channels`` zero input channels appended."""
    import torch

    extra = new_channels - old_channels
    if patch_size_t is None:  # Conv2d: (D, C, p, p)
        return torch.cat([weight, weight.new_zeros(weight.shape[0], extra, *weight.shape[2:])], dim=1)
    # Linear over flattened (C, p_t, p, p) patches: (D, C * p_t * p * p).
    out_features = weight.shape[0]
    per_channel = weight.shape[1] // old_channels
    blocks = weight.reshape(out_features, old_channels, per_channel)
    grown = torch.cat([blocks, blocks.new_zeros(out_features, extra, per_channel)], dim=1)
    return grown.reshape(out_features, new_channels * per_channel)


def grow_patch_embedding(model: CogVideoXTransformer3DModel, in_channels: int = EDITOR_IN_CHANNELS) -> None:
    """Widen ``model.patch_embed.proj`` in place to ``in_channels`` inputs (new ones zero, bias kept).

    The config is updated too, so ``save_pretrained`` writes a folder that ``from_pretrained`` rebuilds
    with the wider layer. Works on the meta device (no memory is touched there).
    """
    import torch
    from torch import nn

    old_channels = model.config.in_channels
    if in_channels == old_channels:
        return
    if in_channels < old_channels:
        raise ValueError(f"cannot shrink the patch embedding from {old_channels} to {in_channels} channels")
    proj = model.patch_embed.proj
    patch_size_t = model.config.patch_size_t
    weight = _grown_weight(proj.weight.data, old_channels, in_channels, patch_size_t)
    bias = proj.bias
    if isinstance(proj, nn.Conv2d):
        new = nn.Conv2d(
            in_channels,
            proj.out_channels,
            kernel_size=proj.kernel_size,
            stride=proj.stride,
            bias=bias is not None,
            device=weight.device,
            dtype=weight.dtype,
        )
    elif isinstance(proj, nn.Linear):
        new = nn.Linear(
            weight.shape[1],
            proj.out_features,
            bias=bias is not None,
            device=weight.device,
            dtype=weight.dtype,
        )
    else:  # pragma: no cover - diffusers has only these two
        raise TypeError(f"unexpected patch embedding layer {type(proj).__name__}")
    with torch.no_grad():
        new.weight = nn.Parameter(weight, requires_grad=proj.weight.requires_grad)
        if bias is not None:
            new.bias = nn.Parameter(bias.data.clone(), requires_grad=bias.requires_grad)
    model.patch_embed.proj = new
    out_channels = model.config.out_channels or old_channels
    model.register_to_config(in_channels=in_channels, out_channels=out_channels)


def _looks_like_pipeline_folder(path: Path) -> bool:
    return not (path / "config.json").is_file() and (path / "transformer" / "config.json").is_file()


def load_t2v_transformer(
    source: str | Path, *, subfolder: str | None = None, **from_pretrained_kwargs: Any
) -> CogVideoXTransformer3DModel:
    """A CogVideoX transformer from a hub id or a folder: a transformer folder or a whole pipeline's.

    Without ``subfolder``, a local pipeline folder (``transformer/config.json`` and no top-level
    ``config.json``) is read from ``transformer/``; a hub id is tried as a pipeline repo first (every
    public CogVideoX repo is one) and as a bare transformer repo second.
    """
    from diffusers import CogVideoXTransformer3DModel

    path = Path(source)
    if subfolder is not None:
        return CogVideoXTransformer3DModel.from_pretrained(
            source, subfolder=subfolder, **from_pretrained_kwargs
        )
    if path.is_dir():
        sub = "transformer" if _looks_like_pipeline_folder(path) else None
        return CogVideoXTransformer3DModel.from_pretrained(path, subfolder=sub, **from_pretrained_kwargs)
    try:
        return CogVideoXTransformer3DModel.from_pretrained(
            str(source), subfolder="transformer", **from_pretrained_kwargs
        )
    except OSError:
        return CogVideoXTransformer3DModel.from_pretrained(str(source), **from_pretrained_kwargs)


def editor_from_t2v(
    t2v: str | Path | CogVideoXTransformer3DModel,
    *,
    subfolder: str | None = None,
    inplace: bool = False,
    **from_pretrained_kwargs: Any,
) -> CogVideoXTransformer3DModel:
    """The untrained InsViE editor transformer made from a CogVideoX text-to-video transformer.

    ``t2v`` is a hub id, a local folder (a transformer folder or a pipeline folder; see
    :func:`load_t2v_transformer`) or a loaded model. A loaded model is deep-copied unless ``inplace``
    (use that for 5B-sized models to avoid holding two copies). Extra keyword arguments go to
    ``from_pretrained`` (e.g. ``torch_dtype``). A model that already takes 32 channels is refused: it is
    an image-to-video or editor checkpoint, not a text-to-video one, and its extra channels mean
    something else.
    """
    if isinstance(t2v, str | Path):
        model = load_t2v_transformer(t2v, subfolder=subfolder, **from_pretrained_kwargs)
    else:
        model = t2v if inplace else copy.deepcopy(t2v)
    channels = model.config.in_channels
    if channels != LATENT_CHANNELS:
        raise ValueError(
            f"expected a text-to-video transformer with {LATENT_CHANNELS} input channels, got {channels}: "
            "image-to-video and editor checkpoints already use the extra channels for their own inputs"
        )
    grow_patch_embedding(model, EDITOR_IN_CHANNELS)
    log.info("editor transformer: patch embedding grown %d -> %d channels", channels, EDITOR_IN_CHANNELS)
    return model


def empty_transformer(config: dict[str, Any]) -> CogVideoXTransformer3DModel:
    """A transformer of ``config`` on the meta device: shapes and parameter counts, no memory.

    Buffers (the sin-cos position table) are on the meta device too, so a forward pass with meta
    inputs checks every shape without computing anything.
    """
    from accelerate import init_empty_weights
    from diffusers import CogVideoXTransformer3DModel

    with init_empty_weights(include_buffers=True):
        return CogVideoXTransformer3DModel.from_config(config)


def parameter_count(model: torch.nn.Module) -> int:
    """Number of parameters (works on meta-device models)."""
    return sum(p.numel() for p in model.parameters())
