"""What the diffusers editors share: lazy loading, memory options, working sizes, batching and seeding.

A backend subclass says which pipeline class it drives, its size grid, its default working resolution,
the pipeline's names for text and image guidance, and how it takes the prompt and image. Everything that
makes results reproducible lives here, once:

- every candidate draws its noise from its own CPU ``torch.Generator`` seeded by
  :func:`candidate_seeds`, so a candidate is the same whether it ran alone or in a batch (up to float
  rounding of batched kernels, at most one grey level) and on any device;
- diffusers takes guidance as one scalar per call, so candidates batch only when their whole setting is
  equal: repeats of a setting run as one batched call (chunked by ``max_batch``), distinct settings run
  one call each, in order of first appearance;
- the image is resized to the model's grid (multiples of 8 or 16, at the working area) and every
  output is resized back to the input's size.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from insvie.backends.devices import resolve_device
from insvie.backends.hub import cannot_load, resolve_revision
from insvie.backends.image_edit.loading import check_image, resolve_dtype, to_uint8, torch_dtype, working_size
from insvie.backends.image_edit.settings import GuidanceSetting, candidate_seeds
from insvie.errors import ConfigError
from insvie.media import resize

log = logging.getLogger(__name__)

Resolution = int | Literal["auto", "input"]


def _dtype_keyword() -> str:
    """diffusers renamed ``torch_dtype`` to ``dtype`` (the old name warns); older releases only know it."""
    from diffusers.utils import deprecation_utils

    return "dtype" if hasattr(deprecation_utils, "_resolve_dtype") else "torch_dtype"


def _chunks(items: list[int], size: int | None) -> list[list[int]]:
    if size is None or size >= len(items):
        return [items]
    return [items[i : i + size] for i in range(0, len(items), size)]


class DiffusersEditor:
    """Base of the diffusers-backed editors; subclasses set the class attributes (and :meth:`_inputs`)."""

    name: ClassVar[str]
    pipeline_class: ClassVar[str]  # attribute of the diffusers package
    multiple: ClassVar[int]  # working sides are multiples of this (VAE factor x latent patch)
    default_resolution: ClassVar[Resolution]
    guidance_arguments: ClassVar[tuple[str, str | None]]  # pipeline names of text and image guidance

    def __init__(
        self,
        model: str,
        *,
        revision: str | None = None,
        dtype: str | None = None,
        device: str = "auto",
        cpu_offload: bool = False,
        attention_slicing: bool = False,
        vae_tiling: bool = False,
        resolution: Resolution = "auto",
        max_batch: int | None = None,
    ) -> None:
        """Check the options and resolve device and dtype now, so a bad config fails before any work;
        weights are read only by :meth:`load`.

        ``resolution``: the side of the square whose area the model works at (the input's aspect is
        kept); ``"input"`` works at the input's own area, ``"auto"`` at the backend's default.
        ``max_batch`` caps the images of one pipeline call (None: no cap).
        """
        if not isinstance(model, str | Path) or not str(model):
            raise ConfigError(
                f"image editor {self.name!r}: model must be a hub id or a folder, got {model!r}"
            )
        if resolution not in ("auto", "input") and (
            not isinstance(resolution, int) or resolution < self.multiple
        ):
            raise ConfigError(
                f"image editor {self.name!r}: resolution must be 'auto', 'input' or an integer >= "
                f"{self.multiple}, got {resolution!r}"
            )
        if max_batch is not None and max_batch < 1:
            raise ConfigError(f"image editor {self.name!r}: max_batch must be >= 1 or None, got {max_batch}")
        folder = Path(model).expanduser()
        self.model = str(folder.resolve()) if folder.is_dir() else str(model)
        self.revision = revision
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.cpu_offload = cpu_offload
        self.attention_slicing = attention_slicing
        self.vae_tiling = vae_tiling
        self.resolution: Resolution = self.default_resolution if resolution == "auto" else resolution
        self.max_batch = max_batch
        self.notes: list[str] = []
        self.pipe: Any = None

    # -- loading ---------------------------------------------------------------------------------

    def _extra_components(self) -> dict[str, Any]:
        """Components handed to ``from_pretrained`` instead of being loaded from the folder."""
        return {}

    def load(self) -> None:
        """Read the weights once and apply the memory options; later calls do nothing."""
        if self.pipe is not None:
            return
        import diffusers

        cls = getattr(diffusers, self.pipeline_class)
        kwargs: dict[str, Any] = {_dtype_keyword(): torch_dtype(self.dtype), **self._extra_components()}
        if self.revision is not None:
            kwargs["revision"] = self.revision
        try:
            pipe = cls.from_pretrained(self.model, **kwargs)
        except (OSError, ValueError) as exc:
            raise cannot_load(f"image editor {self.name!r} model", self.model, exc) from exc
        pipe.set_progress_bar_config(disable=True)
        self._apply_options(pipe)
        self.pipe = pipe

    def _apply_options(self, pipe: Any) -> None:
        if self.attention_slicing:
            sliceable = [
                name
                for name, module in pipe.components.items()
                if hasattr(module, "set_attention_slice") and hasattr(module, "parameters")
            ]
            if sliceable:
                pipe.enable_attention_slicing()
            else:
                self._note(f"attention_slicing: no sliceable attention in {self.pipeline_class}; ignored")
        if self.vae_tiling:
            pipe.vae.enable_tiling()
        if not self.cpu_offload:
            pipe.to(self.device)
        elif self.device == "cpu":
            self._note("cpu_offload: the model already lives on the CPU; nothing to offload")
        else:
            try:
                pipe.enable_model_cpu_offload(device=self.device)
            except (ImportError, ValueError, RuntimeError) as exc:
                raise ConfigError(
                    f"image editor {self.name!r}: cpu_offload needs the accelerate package and a GPU: {exc}"
                ) from exc

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)
            log.info("%s: %s", self.name, text)

    # -- provenance ------------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        import diffusers

        text_arg, image_arg = self.guidance_arguments
        return {
            "backend": self.name,
            "pipeline": self.pipeline_class,
            "model": self.model,
            "revision": resolve_revision(self.model, self.revision),
            "requested_revision": self.revision,
            "dtype": self.dtype,
            "device": self.device,
            "scheduler": None if self.pipe is None else type(self.pipe.scheduler).__name__,
            "loaded": self.pipe is not None,
            "options": {
                "cpu_offload": self.cpu_offload,
                "attention_slicing": self.attention_slicing,
                "vae_tiling": self.vae_tiling,
                "resolution": self.resolution,
                "max_batch": self.max_batch,
            },
            "guidance_arguments": {"text": text_arg, "image": image_arg},
            "notes": list(self.notes),
            "diffusers": diffusers.__version__,
        }

    # -- editing ---------------------------------------------------------------------------------

    def effective(self, setting: GuidanceSetting) -> GuidanceSetting:
        """Models without image guidance record None for it (the default; InstructPix2Pix overrides)."""
        return GuidanceSetting(setting.text_guidance, None, setting.steps)

    def _working_size(self, height: int, width: int) -> tuple[int, int]:
        area = None if self.resolution == "input" else int(self.resolution) ** 2
        return working_size(height, width, self.multiple, area)

    def _inputs(self, image: Any, instruction: str, count: int, size: tuple[int, int]) -> dict[str, Any]:
        """The pipeline's prompt, image and size arguments for ``count`` candidates of one setting.

        By default the one-prompt form the FLUX-style pipelines take: ``count`` images per prompt, made
        at the working ``size``; a subclass adds its own keywords or replaces the form.
        """
        height, width = size
        return {
            "image": image,
            "prompt": instruction,
            "height": height,
            "width": width,
            "num_images_per_prompt": count,
        }

    def _run(
        self,
        image: Any,
        instruction: str,
        setting: GuidanceSetting,
        generators: list[Any],
        size: tuple[int, int],
    ) -> np.ndarray:
        """One pipeline call: ``len(generators)`` images (NxHxWx3 floats in [0, 1]) at ``size``.

        The guidance goes under the names in :attr:`guidance_arguments`, so the names a backend
        records in :meth:`describe` are the ones its pipeline is called with.
        """
        text_arg, image_arg = self.guidance_arguments
        guidance: dict[str, float | None] = {text_arg: setting.text_guidance}
        if image_arg is not None:
            guidance[image_arg] = setting.image_guidance
        return self.pipe(
            **self._inputs(image, instruction, len(generators), size),
            **guidance,
            num_inference_steps=setting.steps,
            generator=generators,
            output_type="np",
        ).images

    def edit(
        self, image: np.ndarray, instruction: str, settings: Sequence[GuidanceSetting], *, seed: int
    ) -> list[np.ndarray]:
        """One candidate per setting, each HxWx3 uint8 at the input's size, in the order of ``settings``."""
        import torch
        from PIL import Image

        image = check_image(image)
        if not isinstance(instruction, str) or not instruction.strip():
            raise ValueError("instruction must be a non-empty string")
        if not settings:
            raise ValueError("settings must hold at least one GuidanceSetting")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
        self.load()
        effective = [self.effective(s) for s in settings]
        seeds = candidate_seeds(effective, seed)
        height, width = image.shape[:2]
        size = self._working_size(height, width)
        source = Image.fromarray(resize(image, size))
        groups: dict[GuidanceSetting, list[int]] = {}
        for index, setting in enumerate(effective):
            groups.setdefault(setting, []).append(index)
        outputs: list[np.ndarray | None] = [None] * len(effective)
        for setting, indices in groups.items():
            for chunk in _chunks(indices, self.max_batch):
                generators = [torch.Generator("cpu").manual_seed(seeds[i]) for i in chunk]
                raw = np.asarray(self._run(source, instruction, setting, generators, size))
                if len(raw) != len(chunk):
                    raise RuntimeError(f"{self.pipeline_class} returned {len(raw)} images for {len(chunk)}")
                if not np.isfinite(raw).all():
                    raise RuntimeError(
                        f"{self.pipeline_class} produced NaN/inf pixels for {setting} (half-precision "
                        "overflow, or a schedule that cannot run this few steps)"
                    )
                images = to_uint8(raw)
                for i, out in zip(chunk, images, strict=True):
                    outputs[i] = np.ascontiguousarray(resize(out, (height, width)))
        return [out for out in outputs if out is not None]
