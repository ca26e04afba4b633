"""What the steps of an edit (prompts, conditioning, prediction, denoising, checks) use of the pipeline.

The pipeline imports those step modules; they name this protocol instead of the pipeline class, so the
imports run one way and each step can be driven by anything that has these parts.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch


class EditPipelineParts(Protocol):
    transformer: Any
    scheduler: Any
    _callback_tensor_inputs: list[str]
    _num_timesteps: int

    @property
    def _execution_device(self) -> torch.device: ...

    @property
    def vae_scale_factor_spatial(self) -> int: ...

    @property
    def default_size(self) -> tuple[int, int]: ...

    @property
    def max_num_frames(self) -> int: ...

    def encode_prompt(self, prompt: Any, negative_prompt: Any = None, **kwargs: Any) -> Any: ...

    def encode_video(self, frames: np.ndarray, **kwargs: Any) -> torch.Tensor: ...

    def guided_prediction(self, *args: Any, **kwargs: Any) -> Any: ...

    def progress_bar(self, *args: Any, **kwargs: Any) -> Any: ...

    def _rotary_embeddings(
        self, height: int, width: int, latent_frames: int, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor] | None: ...
