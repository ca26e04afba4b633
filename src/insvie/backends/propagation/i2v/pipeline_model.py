"""What the SVD and Wan models share: a diffusers pipeline loaded and placed by one rule, the settings it
runs with, the guidance in force, where it computes and in which dtype.

Each model is its pipeline's components behind the sampler's :class:`~.sampler.Denoiser` protocol; what
differs (the pipeline class, the denoising network, the noise levels, conditioning, hooks) stays in
:mod:`.svd` and :mod:`.wan`. Nothing here imports torch or diffusers until a pipeline loads.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from insvie.backends.devices import place_pipeline, resolve_device
from insvie.backends.image_edit.loading import resolve_dtype, torch_dtype
from insvie.backends.propagation.i2v.settings import I2VSettings


class PipelineModel(ABC):
    """A loaded image-to-video pipeline and its settings; ``guidance`` is the settings' or the model's."""

    name: ClassVar[str]
    default_guidance: ClassVar[float]
    multiple: int  # frame sides are multiples of this many pixels (set from the loaded pipeline)
    frame_multiple: int = 1  # a window holds frame_multiple * k + 1 frames (Wan's VAE packs 4 per latent)

    def __init__(self, pipe: Any, settings: I2VSettings) -> None:
        self.pipe = pipe
        self.settings = settings
        self.guidance = settings.guidance if settings.guidance is not None else self.default_guidance

    @classmethod
    def load_pipe(cls, settings: I2VSettings) -> Any:
        """The pipeline of ``settings.model`` in the settings' dtype (by device when unset), on its device
        or offloaded there."""
        device = resolve_device(settings.device)
        pipe = cls.from_pretrained(settings, torch_dtype(resolve_dtype(settings.dtype, device)))
        return place_pipeline(pipe, device, settings.cpu_offload)

    @staticmethod
    @abstractmethod
    def from_pretrained(settings: I2VSettings, dtype: Any) -> Any:
        """The backend's pipeline of ``settings.model``, its network in ``dtype``, not yet placed."""

    @property
    @abstractmethod
    def network(self) -> Any:
        """The denoising network (SVD's UNet, Wan's transformer), whose dtype the model computes in."""

    @functools.cached_property
    def device(self) -> Any:
        """Where the pipeline computes (the GPU also when its modules are offloaded to the CPU).

        Asked once: diffusers finds it by walking every module's hooks (~30 ms on the tiny SVD, a fifth
        of a window's time when asked per call), and a placed pipeline does not move."""
        return self.pipe._execution_device

    @property
    def dtype(self) -> Any:
        return self.network.dtype


def noise_levels(scheduler: Any, steps: int) -> list[float]:
    """``scheduler``'s noise levels (sigmas) for ``steps`` steps, set on the CPU: the sampler moves what
    it uses to the model's device."""
    scheduler.set_timesteps(steps, device="cpu")
    return [float(s) for s in scheduler.sigmas]
