"""One way to run the editor on a video: what ``insvie edit``, the app, ``insvie eval bench --model`` and
training validation all call.

Every rule about running the model lives here, once:

- loading: a folder or a cached hub id; ``device="auto"`` is the GPU when there is one; ``dtype="auto"``
  is the weights' own dtype on a GPU (float16 for the released model, which the official code samples
  in) and float32 on the CPU, where half-precision matmuls are slow; ``offload`` keeps idle parts on
  the CPU and tiles the VAE; ``sampler="official"`` replaces an older folder's CogVideoX scheduler by
  the official one;
- defaults: every sampling setting left unset comes from the model's recipe (its ``guider/``), and
  :meth:`EditorRunner.describe` says where each value came from;
- frames: the video's own frames by default, as the official script reads them (``fps`` resamples),
  the largest 4k+1 count that fits; a video longer than the model's frame count is edited in
  overlapping windows (:func:`~insvie.editor.windows.edit_long_video`) or cut to its first frames.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from insvie.backends.hub import local_folder
from insvie.editor.guidance import SCHEDULES, GuidanceSchedule
from insvie.editor.inputs import SOURCE_LATENTS, SourceLatent, decoded_frames
from insvie.errors import ConfigError, InsvieError

log = logging.getLogger(__name__)

DTYPES = ("auto", "float32", "float16", "bfloat16")
SAMPLERS = ("saved", "official")
LONG_VIDEO = ("windows", "first")
DEFAULT_FPS = 8.0  # for frames given as an array without a rate: CogVideoX's native rate
StepCallback = Callable[[int, int], None]  # (steps done, steps in all)

_MISSING_MODEL = (
    "cannot load the editor {model!r} ({reason}). Pass a local folder: one written by "
    "`insvie convert-sat CKPT --base T2V_DIR --out DIR` (the released InsViE weights) or by "
    "`insvie tiny-models DEST` (DEST/editor, for a smoke run); a hub id works only when it is already in "
    "the local Hugging Face cache, since this machine may have no network."
)


@dataclass(frozen=True)
class LoadOptions:
    """Where and how the model runs (see the module docstring for the ``auto`` rules)."""

    device: str = "auto"
    dtype: str = "auto"
    offload: bool = False
    sampler: Literal["saved", "official"] = "saved"

    def check(self) -> None:
        if self.dtype not in DTYPES:
            raise ConfigError(f"editor dtype {self.dtype!r}: choose from {', '.join(DTYPES)}")
        if self.sampler not in SAMPLERS:
            raise ConfigError(f"editor sampler {self.sampler!r}: choose from {', '.join(SAMPLERS)}")


@dataclass(frozen=True)
class EditSettings:
    """One edit's settings. ``None`` means the model's recipe (steps, scales, schedule) or the source's
    own (frame rate, frame count, size: the model's working size)."""

    steps: int | None = None
    text_guidance: float | None = None
    video_guidance: float | None = None
    schedule: GuidanceSchedule | None = None
    seed: int = 0
    fps: float | None = None
    frames: int | None = None
    height: int | None = None
    width: int | None = None
    source_latent: SourceLatent = "sample"
    long_video: Literal["windows", "first"] = "windows"

    def sampling(self) -> dict[str, Any]:
        """The sampling settings as ``InsViEEditPipeline.__call__`` names them (None: the recipe's)."""
        return {
            "num_inference_steps": self.steps,
            "guidance_scale": self.text_guidance,
            "video_guidance_scale": self.video_guidance,
            "guidance_schedule": self.schedule,
        }

    def check(self) -> None:
        """Raise ConfigError naming the first setting the editor cannot use."""
        if self.steps is not None and not 1 <= self.steps <= 1000:
            raise ConfigError(f"steps must be between 1 and 1000, got {self.steps}")
        for name in ("text_guidance", "video_guidance"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ConfigError(f"{name.replace('_', ' ')} must not be negative, got {value}")
        if self.schedule is not None and self.schedule not in SCHEDULES:
            raise ConfigError(f"schedule {self.schedule!r}: choose from {', '.join(SCHEDULES)}")
        if self.fps is not None and self.fps <= 0:
            raise ConfigError(f"fps must be positive, got {self.fps}")
        if self.frames is not None and self.frames < 1:
            raise ConfigError(f"frames must be at least 1, got {self.frames}")
        if self.source_latent not in SOURCE_LATENTS:
            raise ConfigError(
                f"source latent {self.source_latent!r}: choose from {', '.join(SOURCE_LATENTS)}"
            )
        if self.long_video not in LONG_VIDEO:
            raise ConfigError(f"long video {self.long_video!r}: choose from {', '.join(LONG_VIDEO)}")


@dataclass
class EditedVideo:
    """An edit: its frames and rate, the seams between windows (if any), and what was decided."""

    frames: np.ndarray  # (T, H, W, 3) uint8
    fps: float
    seams: list[int] = field(default_factory=list)
    sampling: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def stored_dtype(folder: Path) -> str | None:
    """The dtype the folder's transformer weights are stored in, read from the safetensors header."""
    from safetensors import safe_open

    transformer = folder / "transformer"
    index = transformer / "diffusion_pytorch_model.safetensors.index.json"
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        weights = transformer / shards[0]
    else:
        weights = transformer / "diffusion_pytorch_model.safetensors"
    if not weights.is_file():
        return None
    with safe_open(str(weights), "pt") as handle:
        key = next(iter(handle.keys()), None)
        return None if key is None else str(handle.get_slice(key).get_dtype()).lower()


_SAFETENSORS_DTYPES = {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}


class EditorRunner:
    """The InsViE editor, loaded on first use, editing one video at a time (see the module docstring)."""

    def __init__(self, model: str | Path, options: LoadOptions | None = None) -> None:
        self.model = str(model)
        self.options = options or LoadOptions()
        self.options.check()
        self._pipe: Any = None

    @classmethod
    def from_pipeline(cls, pipe: Any) -> EditorRunner:
        """A runner around a pipeline already in memory (training validation), used as it is."""
        runner = cls("<in memory>")
        runner._pipe = pipe
        return runner

    # -- loading ----------------------------------------------------------------------------------

    def _dtype(self, folder: Path, device: str) -> Any:
        import torch

        name = self.options.dtype
        if name == "auto":
            stored = _SAFETENSORS_DTYPES.get(stored_dtype(folder) or "", "float16")
            name = stored if device.startswith("cuda") else "float32"
        return getattr(torch, name)

    @property
    def pipe(self) -> Any:
        """The loaded pipeline (loaded now if it is not yet)."""
        if self._pipe is None:
            self._pipe = self._load()
        return self._pipe

    def _load(self) -> Any:
        from insvie.backends.devices import resolve_device
        from insvie.editor.pipeline import InsViEEditPipeline
        from insvie.editor.scheduler import InsViEDPMScheduler, from_cogvideox_config

        folder = local_folder(self.model)  # never downloads: this machine may have no network
        if folder is None:
            raise InsvieError(_MISSING_MODEL.format(model=self.model, reason="not a folder, not cached"))
        device = resolve_device(self.options.device)
        if self.options.offload and device == "cpu":
            raise ConfigError("--offload moves parts between the GPU and the CPU; there is no GPU here")
        dtype = self._dtype(folder, device)
        try:
            pipe = InsViEEditPipeline.from_pretrained(folder, dtype=dtype)
        except (OSError, ValueError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InsvieError(_MISSING_MODEL.format(model=self.model, reason=reason)) from exc
        pipe.set_progress_bar_config(disable=True)  # callers draw their own progress
        if self.options.sampler == "official" and not isinstance(pipe.scheduler, InsViEDPMScheduler):
            pipe.scheduler = from_cogvideox_config(dict(pipe.scheduler.config))
        if self.options.offload:
            pipe.enable_model_cpu_offload(device=device)
            pipe.vae.enable_tiling()
        else:
            pipe.to(device)
        return pipe

    def describe(self, settings: EditSettings | None = None) -> list[str]:
        """One line per decision: the sampler, the precision, and each sampling setting with its origin."""
        from insvie.editor.scheduler import InsViEDPMScheduler

        settings = settings or EditSettings()
        pipe = self.pipe
        given = settings.sampling()
        resolved = pipe.sampling_settings(**given)
        labels = {
            "num_inference_steps": "steps",
            "guidance_scale": "text guidance",
            "video_guidance_scale": "video guidance",
            "guidance_schedule": "schedule",
        }
        lines = [
            f"{labels[key]} {resolved[key]} ({'given' if given[key] is not None else pipe.guider_origin})"
            for key in labels
        ]
        sampler = type(pipe.scheduler).__name__
        if not isinstance(pipe.scheduler, InsViEDPMScheduler):
            sampler += " (not the official sampler; --sampler official uses it)"
        lines.append(f"sampler {sampler}; weights {str(pipe.transformer.dtype).removeprefix('torch.')}")
        return lines

    # -- editing ----------------------------------------------------------------------------------

    def _read(
        self, video: Any, settings: EditSettings, source_fps: float | None
    ) -> tuple[np.ndarray, float, int]:
        """The source frames (the video's own, or resampled to ``settings.fps``; only the first ones when
        no more are edited), their rate, and how many the whole video has at that rate."""
        if not isinstance(video, str | Path):
            frames = np.asarray(video)
            return frames, float(settings.fps or source_fps or DEFAULT_FPS), len(frames)
        from insvie.media import probe, read_frames

        info = probe(video)
        limit = None
        if settings.long_video == "first" or settings.frames is not None:
            limit = settings.frames or self.pipe.max_num_frames
        frames = read_frames(video, fps=settings.fps, end=limit)
        if settings.fps is None:
            return frames, float(info.fps or DEFAULT_FPS), max(info.num_frames, len(frames))
        return frames, float(settings.fps), max(round(info.duration * settings.fps), len(frames))

    def edit(
        self,
        video: Any,
        instruction: str,
        settings: EditSettings | None = None,
        *,
        source_fps: float | None = None,
        on_step: StepCallback | None = None,
    ) -> EditedVideo:
        """Edit ``video`` (a path, or uint8 frames (T, H, W, 3) at ``source_fps``) following
        ``instruction``."""
        import torch

        from insvie.editor.windows import edit_long_video
        from insvie.media import largest_valid_length

        settings = settings or EditSettings()
        settings.check()
        if not instruction.strip():
            raise ConfigError("write an instruction: what should change in the video?")
        pipe = self.pipe
        source, fps, available = self._read(video, settings, source_fps)
        sampling = pipe.sampling_settings(**settings.sampling())
        notes = [f"{available} source frames at {fps:g} fps"]
        maximum = pipe.max_num_frames
        windows = settings.frames is None and settings.long_video == "windows" and len(source) > maximum
        count = largest_valid_length(min(settings.frames or maximum, len(source)))
        rounds = 1
        if windows:
            from insvie.editor.windows import default_overlap, long_video_spans

            rounds = len(long_video_spans(len(source), maximum, default_overlap(maximum)))
            notes.append(f"longer than the model's {maximum} frames: edited in {rounds} overlapping windows")
        elif count < available:
            notes.append(
                f"edited the first {count} of {available} frames (4k+1, at most the model's {maximum})"
            )
        total = sampling["num_inference_steps"] * rounds
        done = 0

        def step_end(_pipe: Any, _step: int, _timestep: Any, tensors: dict) -> dict:
            nonlocal done
            done += 1
            if on_step is not None:
                on_step(done, total)
            return tensors

        options = {
            **sampling,
            "height": settings.height,
            "width": settings.width,
            "source_latent": settings.source_latent,
            "generator": torch.Generator("cpu").manual_seed(settings.seed),
            "callback_on_step_end": step_end,
        }
        seams: list[int] = []
        if windows:
            result = edit_long_video(pipe, source, instruction, **options)
            frames, seams = result.frames, result.seams
        else:
            frames = pipe(source[:count], instruction, num_frames=count, **options).frames[0]
            latent_frames = (count - 1) // 4 + 1
            if decoded_frames(latent_frames) < count:
                notes.append(
                    f"{count} frames are {latent_frames} latent frames, an even count: as in the official "
                    f"code the last one is not decoded, so {len(frames)} frames are written "
                    f"(--frames {decoded_frames(latent_frames)} avoids it)"
                )
        return EditedVideo(frames=frames, fps=fps, seams=seams, sampling=sampling, notes=notes)
