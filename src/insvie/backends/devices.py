"""Where a model-backed backend runs: one rule for every backend that loads torch weights."""

from __future__ import annotations

from typing import Any

from insvie.errors import ConfigError


def resolve_device(device: str) -> str:
    """``auto`` is CUDA when torch sees a GPU, else Apple's MPS, else the CPU; anything else is kept.

    Asking for CUDA where torch sees none is a configuration error named now, not a failure deep in
    the first forward pass.
    """
    import torch

    if device != "auto":
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(f"device {device!r}: torch sees no CUDA device here")
        return device
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def place_pipeline(pipe: Any, device: str, cpu_offload: bool) -> Any:
    """Quiet a diffusers ``pipe`` and put it on ``device``, or offload it there (CUDA only: on the CPU the
    weights already live in CPU memory, so offloading would only add hooks)."""
    pipe.set_progress_bar_config(disable=True)
    if cpu_offload and device.startswith("cuda"):
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.to(device)
    return pipe
