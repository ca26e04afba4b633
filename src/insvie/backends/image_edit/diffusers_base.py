"""What the diffusers editors share: lazy loading, memory options, working sizes, batching and seeding.

A backend subclass says which pipeline class it drives, its size grid, its default working resolution,
the pipeline's names for text and image guidance, how it takes the prompt and image, and its sweep
sampler. Everything that makes results reproducible lives here, once:

- every candidate draws its noise from its own CPU ``torch.Generator`` seeded by
  :func:`candidate_seeds`, so a candidate is the same whether it ran alone or in a batch (up to float
  rounding of batched kernels, at most one grey level) and on any device;
- two samplers make the candidates. ``sweep`` (the default) runs one denoising loop over every candidate
  of every request of an :meth:`DiffusersEditor.edit_batch` call that shares a working size and step
  count, guidance given per candidate (see :mod:`insvie.backends.image_edit.sweep`), chunked by
  ``max_batch`` (the rule of :mod:`insvie.backends.batching`). ``pipeline`` calls the diffusers pipeline,
  which takes guidance as one scalar per call: repeats of a setting run as one batched call (chunked by an
  integer ``max_batch``), distinct settings one call each, request by request. Both give the same
  candidates within float tolerance; ``pipeline`` is the reference the sweep is tested and benchmarked
  against;
- the image is resized to the model's grid (multiples of 8 or 16, at the working area) and every
  output is resized back to the input's size.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from insvie.backends.batching import Loops, MaxBatch, check_max_batch
from insvie.backends.devices import resolve_device
from insvie.backends.hub import cannot_load, resolve_revision
from insvie.backends.image_edit.loading import check_image, resolve_dtype, to_uint8, torch_dtype, working_size
from insvie.backends.image_edit.protocol import ImageEditRequest
from insvie.backends.image_edit.settings import GuidanceSetting, candidate_seeds
from insvie.backends.image_edit.sweep import SweepChunk
from insvie.errors import ConfigError
from insvie.media import resize

log = logging.getLogger(__name__)

AUTO_CANDIDATES = 12  # max_batch "auto" off CUDA: two items' default sweeps per loop

Resolution = int | Literal["auto", "input"]
Sampler = Literal["sweep", "pipeline"]
SAMPLERS: tuple[str, ...] = ("sweep", "pipeline")


@dataclass(frozen=True)
class _Prepared:
    """A checked request: its source at the working size, the settings as applied and their seeds."""

    source: Any  # PIL image at ``size``
    instruction: str
    settings: list[GuidanceSetting]
    seeds: list[int]
    size: tuple[int, int]
    input_size: tuple[int, int]


def _dtype_keyword() -> str:
    """diffusers renamed ``torch_dtype`` to ``dtype`` (the old name warns); older releases only know it."""
    from diffusers.utils import deprecation_utils

    return "dtype" if hasattr(deprecation_utils, "_resolve_dtype") else "torch_dtype"


class DiffusersEditor:
    """Base of the diffusers-backed editors; subclasses set the class attributes, :meth:`_inputs` where
    their pipeline takes other arguments, and :meth:`_sweep`."""

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
        max_batch: MaxBatch = None,
        sampler: Sampler = "sweep",
    ) -> None:
        """Check the options and resolve device and dtype now, so a bad config fails before any work;
        weights are read only by :meth:`load`.

        ``resolution``: the side of the square whose area the model works at (the input's aspect is
        kept); ``"input"`` works at the input's own area, ``"auto"`` at the backend's default.
        ``max_batch`` caps the candidates of one denoising loop (None: no cap); the denoiser sees up to
        three times as many rows (InstructPix2Pix's guidance branches), twice for Qwen-Image-Edit's.
        ``"auto"`` sizes the loops from the device's memory (:mod:`insvie.backends.batching`): on CUDA the
        first candidate at each working size runs alone and its peak memory, measured, divides the free
        memory (with a margin); elsewhere :data:`AUTO_CANDIDATES` (two items' default sweeps).
        ``sampler``: ``"sweep"`` runs the candidates of a batch in one loop with per-candidate guidance,
        ``"pipeline"`` calls the diffusers pipeline once per setting (see the module docstring).
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
        try:
            check_max_batch(max_batch)
        except ValueError as exc:
            raise ConfigError(f"image editor {self.name!r}: {exc}") from exc
        if sampler not in SAMPLERS:
            raise ConfigError(
                f"image editor {self.name!r}: sampler must be one of {list(SAMPLERS)}, got {sampler!r}"
            )
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
        self.loops = Loops(
            max_batch, self.device, off_cuda=AUTO_CANDIDATES, unit="candidates", report=self._fitted
        )
        self.sampler: Sampler = sampler
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
            "sampler": self.sampler,
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

    def _sweep(self, chunk: SweepChunk) -> np.ndarray:
        """One denoising loop over every candidate of ``chunk``: NxHxWx3 floats in [0, 1] at
        ``chunk.size``, in candidate order. Each backend writes it with its pipeline's parts and math."""
        raise NotImplementedError(f"{type(self).__name__} has no sweep sampler")

    def _prepare(self, request: ImageEditRequest) -> _Prepared:
        """Check one request and bring its image to the working size, so a bad request in a batch fails
        before any candidate of the batch is made."""
        image, instruction, settings, seed = request
        image = check_image(image)
        if not isinstance(instruction, str) or not instruction.strip():
            raise ValueError("instruction must be a non-empty string")
        if not settings:
            raise ValueError("settings must hold at least one GuidanceSetting")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
        from PIL import Image

        effective = [self.effective(s) for s in settings]
        height, width = image.shape[:2]
        size = self._working_size(height, width)
        return _Prepared(
            source=Image.fromarray(resize(image, size)),
            instruction=instruction,
            settings=effective,
            seeds=candidate_seeds(effective, seed),
            size=size,
            input_size=(height, width),
        )

    def edit(
        self, image: np.ndarray, instruction: str, settings: Sequence[GuidanceSetting], *, seed: int
    ) -> list[np.ndarray]:
        """One candidate per setting, each HxWx3 uint8 at the input's size, in the order of ``settings``."""
        return self.edit_batch([ImageEditRequest(image, instruction, settings, seed)])[0]

    def edit_batch(self, requests: Sequence[ImageEditRequest]) -> list[list[np.ndarray]]:
        """The candidates of every request (what :meth:`edit` returns for it), in request order.

        With the sweep sampler, requests sharing a working size and step count run as one denoising loop
        (chunked by ``max_batch`` candidates), whatever their instructions and settings; each candidate
        is the one :meth:`edit` makes for its request alone, up to float rounding of batched kernels.
        """
        prepared = [self._prepare(ImageEditRequest(*request)) for request in requests]
        if not prepared:
            return []
        self.load()
        if self.sampler == "pipeline":
            return self._edit_by_pipeline(prepared)
        return self._edit_by_sweep(prepared)

    def _edit_by_pipeline(self, prepared: list[_Prepared]) -> list[list[np.ndarray]]:
        """Request by request, one pipeline call per distinct setting, its repeats batched: chunked by an
        integer ``max_batch``, uncapped under ``"auto"`` (which sizes the sweep's loops, not these calls)."""
        calls = Loops(None if self.max_batch == "auto" else self.max_batch, self.device, unit="candidates")
        return [
            calls.run(
                list(range(len(request.settings))), request.settings.__getitem__, partial(self._call, request)
            )
            for request in prepared
        ]

    def _call(self, request: _Prepared, indices: list[int]) -> list[np.ndarray]:
        """One pipeline call for the candidates ``indices`` of ``request``, which share a setting."""
        import torch

        generators = [torch.Generator("cpu").manual_seed(request.seeds[i]) for i in indices]
        setting = request.settings[indices[0]]
        raw = self._run(request.source, request.instruction, setting, generators, request.size)
        return self._checked(raw, [(request, i) for i in indices])

    def _edit_by_sweep(self, prepared: list[_Prepared]) -> list[list[np.ndarray]]:
        """One loop per (working size, steps) group of candidates, in chunks of ``max_batch``; ``"auto"``
        measures once per working size, since the step count takes no memory."""
        candidates = [
            (number, index)
            for number, request in enumerate(prepared)
            for index in range(len(request.settings))
        ]
        made = iter(
            self.loops.run(
                candidates,
                lambda c: (prepared[c[0]].size, prepared[c[0]].settings[c[1]].steps),
                partial(self._sweep_loop, prepared),
                sized_by=lambda c: prepared[c[0]].size,
                after=self.pipe.maybe_free_model_hooks,  # what the pipeline does after a call (offloading)
            )
        )
        return [[next(made) for _ in request.settings] for request in prepared]

    def _sweep_loop(self, prepared: list[_Prepared], chunk: list[tuple[int, int]]) -> list[np.ndarray]:
        """One denoising loop over the candidates ``chunk`` (request number, setting index) of one working
        size and step count."""
        import torch

        position = {number: k for k, number in enumerate(dict.fromkeys(n for n, _ in chunk))}
        sweep = SweepChunk(
            images=[prepared[n].source for n in position],
            instructions=[prepared[n].instruction for n in position],
            owners=[position[n] for n, _ in chunk],
            settings=[prepared[n].settings[i] for n, i in chunk],
            generators=[torch.Generator("cpu").manual_seed(prepared[n].seeds[i]) for n, i in chunk],
            size=prepared[chunk[0][0]].size,
        )
        with torch.no_grad():
            raw = self._sweep(sweep)
        return self._checked(raw, [(prepared[n], i) for n, i in chunk])

    def _fitted(self, size: tuple[int, int], count: int) -> None:
        """Record what ``max_batch: auto`` measured at a working size (provenance, :meth:`describe`)."""
        self._note(f"max_batch auto: {count} candidates per loop at {size[1]}x{size[0]}")

    def _checked(self, raw: np.ndarray, candidates: list[tuple[_Prepared, int]]) -> list[np.ndarray]:
        """One loop's or call's images, checked, each as uint8 at its request's input size."""
        raw = np.asarray(raw)
        if len(raw) != len(candidates):
            raise RuntimeError(f"{self.pipeline_class} returned {len(raw)} images for {len(candidates)}")
        if not np.isfinite(raw).all():
            settings = sorted({request.settings[i] for request, i in candidates}, key=str)
            raise RuntimeError(
                f"{self.pipeline_class} produced NaN/inf pixels for {', '.join(map(str, settings))} "
                "(half-precision overflow, or a schedule that cannot run this few steps)"
            )
        return [
            np.ascontiguousarray(resize(out, request.input_size))
            for (request, _), out in zip(candidates, to_uint8(raw), strict=True)
        ]
