"""The editor behind the edit tab: the shared editor runner, one edit at a time.

Loading, defaults and frame sampling are :class:`insvie.editor.runner.EditorRunner`'s; the app only adds
its own limits (at most 500 steps) and edits the first frames of a video longer than the model's frame
count, so that a visitor's edit stays one model call.
"""

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
MAX_STEPS = 500


@dataclass(frozen=True)
class EditRequest:
    """What the visitor asked for; an unset scale or step count is the model's recipe."""

    video: Path
    instruction: str
    text_guidance: float | None = None
    video_guidance: float | None = None
    steps: int | None = None
    seed: int = 0

    def settings(self) -> Any:
        from insvie.editor.runner import EditSettings

        return EditSettings(
            steps=self.steps,
            text_guidance=self.text_guidance,
            video_guidance=self.video_guidance,
            seed=self.seed,
            long_video="first",
        )

    def check(self) -> None:
        """Raise InsvieError naming the first setting the editor cannot use."""
        if not self.instruction.strip():
            raise InsvieError("write an instruction: what should change in the video?")
        if self.steps is not None and not 1 <= self.steps <= MAX_STEPS:
            raise InsvieError(f"steps must be between 1 and {MAX_STEPS}, got {self.steps}")
        self.settings().check()


@dataclass(frozen=True)
class EditResult:
    path: Path
    frames: int
    seconds: float
    notes: tuple[str, ...] = ()


class Editor:
    """The model loads on first use; edits are serialised: one model in memory, one edit at a time.

    The app's queue already runs one edit at a time; the lock keeps that true for any other caller.
    """

    def __init__(self, model: str, out_dir: Path, *, device: str = "auto") -> None:
        from insvie.editor.runner import EditorRunner, LoadOptions

        self.model = model
        self.out_dir = out_dir
        self.runner = EditorRunner(model, LoadOptions(device=device))
        self._lock = threading.Lock()

    def recipe(self) -> tuple[dict[str, Any], str]:
        """The model's sampling defaults and where they come from, read without loading the weights."""
        from insvie.editor.guider import InsViEGuider

        guider, origin = InsViEGuider.from_model(self.model)
        return guider.settings(), origin

    def edit(self, request: EditRequest, on_step: StepCallback | None = None) -> EditResult:
        """Edit the request's video and write the result as an mp4 under ``out_dir``."""
        request.check()
        from insvie.editor.output import write_edit_video

        with self._lock:
            started = time.perf_counter()
            result = self.runner.edit(request.video, request.instruction, request.settings(), on_step=on_step)
            self.out_dir.mkdir(parents=True, exist_ok=True)
            path = write_edit_video(
                result.frames, self.out_dir / f"edited-{uuid.uuid4().hex[:12]}.mp4", fps=result.fps
            )
            return EditResult(path, len(result.frames), time.perf_counter() - started, tuple(result.notes))
