"""Settings of the image-to-video propagators, declared once, every default in one place.

The defaults are the paper's: 25-frame windows at 1024x576 with 25 Euler steps (SVD-XT's native
setting). Injection follows AnyV2V: source features for the first 20% of the steps, in the decoder
(``up``) blocks only, so the edited first frame still steers appearance while the source keeps layout
and motion. ``cpu_offload``, ``decode_chunk_size`` and ``dtype`` are the memory knobs, meant to bring SVD-XT
(float16, model offload, 4-frame decode chunks) within a 24 GB GPU; that is not measured yet.
``max_batch`` bounds how many windows (of several clips) share one denoising loop, by the rule every
batched backend follows (:mod:`insvie.backends.batching`; :data:`AUTO_WINDOWS` off CUDA).

:class:`I2VSettings` is a :class:`~insvie.engine.StageConfig` so that the build config embeds it as is
(the ``i2v`` sections of the propagate and animate steps): it is validated where a config names it,
and only what decides results enters the config hash (``device``, ``cpu_offload`` and ``max_batch`` do
not).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PrivateAttr, field_validator

from insvie.backends.batching import MaxBatchSetting
from insvie.backends.image_edit.loading import DTYPES
from insvie.settings import OPERATIONAL, StageConfig

AUTO_WINDOWS = 4  # max_batch "auto" off CUDA: one batch of the i2v steps' default batch_size per loop


class I2VSettings(StageConfig):
    """Knobs of :class:`~insvie.backends.propagation.i2v.propagator.I2VPropagator` (``model`` is needed to
    load one).

    The seed is not among them: it is drawn per item, so a config could only set it to be overridden.
    Callers hand the backend :meth:`seeded` settings; :attr:`seed` is 0 otherwise.
    """

    model: Annotated[str | None, Field(description="Hub id or local folder of the diffusers pipeline.")] = (
        None
    )
    revision: str | None = None
    num_frames: Annotated[
        int, Field(ge=2, description="Frames per window; longer videos are windows sharing one frame.")
    ] = 25
    height: Annotated[int, Field(ge=8, description="Working height (rounded to the model's grid).")] = 576
    width: Annotated[int, Field(ge=8, description="Working width.")] = 1024
    steps: Annotated[int, Field(ge=1)] = 25
    feature_injection: Annotated[
        float, Field(ge=0, le=1, description="Share of steps with source features.")
    ] = 0.2
    attention_injection: Annotated[
        float, Field(ge=0, le=1, description="Share with source attention q/k.")
    ] = 0.2
    inject_blocks: Annotated[
        Literal["up", "all"], Field(description="up: the decoder half only (AnyV2V); all: every block.")
    ] = "up"
    inversion_correction: Annotated[
        bool, Field(description="Add the source's one-step inversion error at every step.")
    ] = True
    guidance: Annotated[float | None, Field(ge=1, description="None: the backend's (SVD 3.0, Wan 5.0).")] = (
        None
    )
    min_guidance: Annotated[float, Field(ge=1, description="SVD: guidance at the first frame.")] = 1.0
    fps: Annotated[int, Field(ge=1, description="SVD micro-conditioning.")] = 7
    motion_bucket_id: Annotated[int, Field(ge=0)] = 127
    noise_aug_strength: Annotated[float, Field(ge=0)] = 0.02
    prompt: Annotated[str, Field(description="Wan: text prompt; empty by default.")] = ""
    negative_prompt: str = ""
    dtype: Annotated[str | None, Field(description="float16, bfloat16 or float32 (default: by device).")] = (
        None
    )
    decode_chunk_size: Annotated[int | None, Field(ge=1, description="Frames per VAE decode (memory).")] = (
        None
    )
    device: Annotated[str, Field(description="auto, cpu or cuda[:N].", json_schema_extra=OPERATIONAL)] = (
        "auto"
    )
    cpu_offload: Annotated[
        bool, Field(description="Model CPU offload (CUDA).", json_schema_extra=OPERATIONAL)
    ] = False
    max_batch: MaxBatchSetting = "auto"

    _seed: int = PrivateAttr(default=0)

    @field_validator("dtype")
    @classmethod
    def _known_dtype(cls, value: str | None) -> str | None:
        if value is not None and value not in DTYPES:
            raise ValueError(f"dtype {value!r}: must be one of {list(DTYPES)}")
        return value

    @property
    def seed(self) -> int:
        """The conditioning noise (SVD) and the noise of plain sampling (animate)."""
        return self._seed

    def seeded(self, seed: int) -> I2VSettings:
        """These settings with ``seed``."""
        copy = self.model_copy()
        copy._seed = seed
        return copy

    def replaced(self, **changes: object) -> I2VSettings:
        """These settings with ``changes``, validated again; the seed is kept."""
        return type(self).model_validate({**self.model_dump(), **changes}).seeded(self.seed)
