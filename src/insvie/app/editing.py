"""The editor behind the edit tab: the InsViE pipeline loaded once and used by one edit at a time."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from insvie.errors import InsvieError

StepCallback = Callable[[int, int], None]  # (steps done, steps in all)


@dataclass(frozen=True)
class EditRequest:
    """What the visitor asked for; the guidance defaults are the paper's."""

    video: Path
    instruction: str
    text_guidance: float = 7.5
    video_guidance: float = 1.2
    steps: int = 50
    seed: int = 0
    fps: float = 8.0

    def check(self) -> None:
        """Raise InsvieError naming the first setting the editor cannot use."""
        if not self.instruction.strip():
            raise InsvieError("write an instruction: what should change in the video?")
        if not 1 <= self.steps <= 500:
            raise InsvieError(f"steps must be between 1 and 500, got {self.steps}")
        if self.text_guidance < 0 or self.video_guidance < 0:
            raise InsvieError("guidance scales must not be negative")


@dataclass(frozen=True)
class EditResult:
    path: Path
    frames: int
    seconds: float


class Editor:
    """Loads the pipeline on first use and serialises edits: one model in memory, one edit at a time.

    The app's queue already runs one edit at a time; the lock keeps that true for any other caller.
    """

    def __init__(self, model: str, out_dir: Path, *, device: str = "auto") -> None:
        self.model = model
        self.out_dir = out_dir
        self.device = device
        self._pipe: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        import torch

        from insvie.editor import InsViEEditPipeline

        target = ("cuda" if torch.cuda.is_available() else "cpu") if self.device == "auto" else self.device
        # bfloat16 halves GPU memory; on most CPUs its matmuls are slower than float32.
        dtype = torch.bfloat16 if target.startswith("cuda") else torch.float32
        try:
            pipe = InsViEEditPipeline.from_pretrained(self.model, dtype=dtype)
        except (OSError, ValueError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InsvieError(
                f"cannot load the editor {self.model!r} ({reason}); pass a folder written by "
                "`insvie convert-sat` or `insvie tiny-models DEST` (DEST/editor)"
            ) from exc
        pipe.set_progress_bar_config(disable=True)
        return pipe.to(target)

    def edit(self, request: EditRequest, on_step: StepCallback | None = None) -> EditResult:
        """Edit the request's video and write the result as an mp4 under ``out_dir``."""
        request.check()
        import torch

        from insvie.editor import write_edit_video
        from insvie.media import read_frames

        with self._lock:
            started = time.perf_counter()
            if self._pipe is None:
                self._pipe = self._load()
            # Only the model's frame count is edited; decoding more would only cost memory.
            source = read_frames(request.video, fps=request.fps, end=self._pipe.max_num_frames)

            def step_end(_pipe: Any, step: int, _timestep: Any, tensors: dict) -> dict:
                if on_step is not None:
                    on_step(step + 1, request.steps)
                return tensors

            result = self._pipe(
                source,
                request.instruction,
                num_inference_steps=request.steps,
                guidance_scale=request.text_guidance,
                video_guidance_scale=request.video_guidance,
                generator=torch.Generator("cpu").manual_seed(request.seed),
                callback_on_step_end=step_end,
            )
            frames = result.frames[0]
            self.out_dir.mkdir(parents=True, exist_ok=True)
            path = write_edit_video(
                frames, self.out_dir / f"edited-{uuid.uuid4().hex[:12]}.mp4", fps=request.fps
            )
            return EditResult(path, len(frames), time.perf_counter() - started)
