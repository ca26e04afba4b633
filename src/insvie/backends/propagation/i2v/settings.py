"""Settings of the image-to-video propagators, every default in one place.

The defaults are the paper's: 25-frame windows at 1024x576 with 25 Euler steps (SVD-XT's native
setting). Injection follows AnyV2V: source features for the first 20% of the steps, in the decoder
(``up``) blocks only, so the edited first frame still steers appearance while the source keeps layout
and motion. ``cpu_offload``, ``decode_chunk_size`` and ``dtype`` are the memory knobs, meant to bring SVD-XT
(float16, model offload, 4-frame decode chunks) within a 24 GB GPU; that is not measured yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from insvie.backends.image_edit.loading import DTYPES


@dataclass(frozen=True)
class I2VSettings:
    """Knobs of :class:`~insvie.backends.propagation.i2v.propagator.I2VPropagator`."""

    model: str  # hub id or local folder in the backend's diffusers pipeline layout
    revision: str | None = None
    num_frames: int = 25  # frames per window; longer videos are chained windows sharing one frame
    height: int = 576  # working size; frames are resized to it and back
    width: int = 1024
    steps: int = 25
    feature_injection: float = 0.2  # share of the first steps getting source resnet/block outputs
    attention_injection: float = 0.2  # share of the first steps getting source self-attention q/k
    inject_blocks: Literal["up", "all"] = "up"  # up: decoder half only (AnyV2V); all: every block
    inversion_correction: bool = True  # add the source's one-step inversion error at every step
    guidance: float | None = None  # classifier-free scale; None: the backend's (SVD 3.0, Wan 5.0)
    min_guidance: float = 1.0  # SVD: guidance ramps from this at frame 0 to ``guidance`` at the end
    fps: int = 7  # SVD micro-conditioning (the model sees fps - 1, as in diffusers' pipeline)
    motion_bucket_id: int = 127  # SVD: more motion above, less below
    noise_aug_strength: float = 0.02  # SVD: noise added to the conditioning frame
    prompt: str = ""  # Wan: text prompt (a caption of the video helps; empty works)
    negative_prompt: str = ""  # Wan: the unconditional branch's prompt
    seed: int = 0  # conditioning noise (SVD) and the noise of plain sampling (animate)
    dtype: str | None = None  # float16 / bfloat16 / float32; None: bfloat16 on CUDA, float32 elsewhere
    device: str = "auto"
    cpu_offload: bool = False  # diffusers model CPU offload (CUDA only; ignored on CPU)
    decode_chunk_size: int | None = None  # frames per VAE decode (SVD); None: the whole window at once

    def __post_init__(self) -> None:
        if self.num_frames < 2:
            raise ValueError(
                f"num_frames must be at least 2 (a window shares a frame), got {self.num_frames}"
            )
        if self.steps < 1 or self.height < 8 or self.width < 8:
            raise ValueError(
                f"need steps >= 1 and a size of at least 8x8, got {self.steps}, {self.height}x{self.width}"
            )
        for name in ("feature_injection", "attention_injection"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.inject_blocks not in ("up", "all"):
            raise ValueError(f"inject_blocks must be 'up' or 'all', got {self.inject_blocks!r}")
        if self.dtype is not None and self.dtype not in DTYPES:
            raise ValueError(f"dtype {self.dtype!r}: must be one of {list(DTYPES)}")
        if self.decode_chunk_size is not None and self.decode_chunk_size < 1:
            raise ValueError(f"decode_chunk_size must be positive, got {self.decode_chunk_size}")
