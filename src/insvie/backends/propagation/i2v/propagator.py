"""Carry an edited first frame through a source video with an image-to-video model, window by window.

Per window: encode the source frames, invert them under the source's first frame, regenerate under
the edited first frame from the inverted latents with source features injected (:mod:`.sampler`),
decode. Frames are resized to the working size and the result back to the source's size; each output
frame gets diagnostics (:mod:`.clips`).

Several clips go together (:meth:`I2VPropagator.propagate_batch`, :meth:`~I2VPropagator.animate_batch`):
the next windows of all of them that share a shape (working size, frames made) are stacked on the batch
axis of one inversion + sampling loop, at most ``settings.max_batch`` at once (the rule of
:mod:`insvie.backends.batching`), so the denoiser sees many windows per call instead of one. Nothing a
window computes mixes samples: each clip conditions on its own frames with its own seed (SVD's noise
augmentation, animation's initial noise, each drawn from the clip's own generator), so a clip's result
does not depend on which clips share its loops, up to the float rounding of batched kernels. One clip
alone is a batch of one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from insvie.backends.batching import Loops
from insvie.backends.propagation.i2v.clips import ClipWalk, Window, resize_frames
from insvie.backends.propagation.i2v.pipeline_model import PipelineModel
from insvie.backends.propagation.i2v.sampler import invert, sample, steps_injected
from insvie.backends.propagation.i2v.settings import AUTO_WINDOWS, I2VSettings


@dataclass(frozen=True)
class WindowResult:
    """One window's decoded frames at the working size and its final latents (for measurements; those
    of the padded window when the model needed more frames)."""

    frames: np.ndarray
    latents: Any


class I2VPropagator:
    """A loaded backend model (``SvdModel``, ``WanModel``) and the settings it propagates with.

    A worker keeps one for its batches: ``max_batch: auto`` measures each window shape once per
    propagator."""

    def __init__(self, model: PipelineModel, settings: I2VSettings) -> None:
        self.model = model
        self.settings = settings
        multiple = model.multiple
        self.size = tuple(
            max(multiple, round(side / multiple) * multiple) for side in (settings.height, settings.width)
        )
        self.loops = Loops(settings.max_batch, model.device, off_cuda=AUTO_WINDOWS, unit="windows")

    def with_settings(self, **changes: Any) -> I2VPropagator:
        """The same loaded weights with other settings (injection, steps...): nothing is reloaded."""
        settings = self.settings.replaced(**changes)
        return I2VPropagator(type(self.model)(self.model.pipe, settings), settings)

    def _frames_made(self, wanted: int) -> int:
        """Frames the model makes for ``wanted``: Wan's VAE needs 4k+1 (``frame_multiple`` 4), SVD any."""
        multiple = self.model.frame_multiple
        return -(-(wanted - 1) // multiple) * multiple + 1

    def _shape(self, window: Window) -> tuple[Any, ...]:
        """What windows must share to be stacked (and what ``max_batch: auto`` measures once): frames
        made (a Wan window of 3 frames is padded to 5, so it goes with those of 4 and 5), height, width."""
        return ("regenerate", self._frames_made(len(window.frames)), *window.frames.shape[1:3])

    def regenerate(self, frames: np.ndarray, edited_first: np.ndarray) -> WindowResult:
        """One window: ``frames`` (uint8, working size) re-made from ``edited_first`` (same size)."""
        return self.regenerate_batch([Window(frames, edited_first, self.settings.seed)])[0]

    def regenerate_batch(self, windows: Sequence[Window]) -> list[WindowResult]:
        """Windows of one shape (:meth:`_shape`) in one inversion + sampling loop, stacked on the batch
        axis; each window's result is what it makes alone."""
        import torch

        cfg, model = self.settings, self.model
        if len({self._shape(w) for w in windows}) != 1:
            raise ValueError("windows stacked in one loop must share their working size and frames made")
        count = self._frames_made(len(windows[0].frames))
        padded = [  # pad with the last frame, crop after
            np.concatenate([w.frames, np.repeat(w.frames[-1:], count - len(w.frames), axis=0)])
            for w in windows
        ]
        schedule = model.schedule(cfg.steps)
        source_condition = model.stack(
            [model.condition(f[0], count, w.seed) for f, w in zip(padded, windows, strict=True)]
        )
        edited_condition = model.stack([model.condition(w.first, count, w.seed) for w in windows])
        clean = torch.cat([model.encode_video(f) for f in padded])
        inversion = invert(model, clean, schedule, source_condition)
        feature_steps = steps_injected(cfg.feature_injection, schedule.steps)
        attention_steps = steps_injected(cfg.attention_injection, schedule.steps)
        injector = model.injector(cfg.inject_blocks) if max(feature_steps, attention_steps) else None
        try:
            latents = sample(
                model,
                inversion.noisy,
                schedule,
                edited_condition,
                source=(inversion, source_condition),
                injector=injector,
                feature_steps=feature_steps,
                attention_steps=attention_steps,
                correct=cfg.inversion_correction,
            )
        finally:
            if injector is not None:
                injector.remove()
        return [
            WindowResult(model.decode(latents[i : i + 1])[: len(w.frames)], latents[i : i + 1])
            for i, w in enumerate(windows)
        ]

    def animate(self, image: np.ndarray, num_frames: int) -> np.ndarray:
        """A video (num_frames, H, W, 3 uint8, the image's size) sampled from noise with ``image`` as its
        first frame: plain image-to-video, seeded by ``settings.seed``, in one window."""
        return self.animate_batch([(image, self.settings.seed)], num_frames)[0]

    def animate_batch(self, images: Sequence[tuple[np.ndarray, int]], num_frames: int) -> list[np.ndarray]:
        """:meth:`animate` of every ``(image, seed)``, in order; the images share sampling loops, each
        image's noise drawn from its own generator seeded by its seed."""
        if num_frames < 2:
            raise ValueError(f"animating needs at least 2 frames, got {num_frames}")
        shape = ("animate", self._frames_made(num_frames), *self.size)
        return self.loops.run(
            list(images), lambda _: shape, partial(self._animate_loop, num_frames=num_frames)
        )

    def _animate_loop(self, images: list[tuple[np.ndarray, int]], num_frames: int) -> list[np.ndarray]:
        """One sampling loop from noise for ``(image, seed)`` pairs, each video at its image's size."""
        import torch

        model, (height, width) = self.model, self.size
        count = self._frames_made(num_frames)
        # The schedule first, as the diffusers pipelines set timesteps before preparing latents: the
        # initial noise is scaled by the scheduler's init_noise_sigma, which setting the timesteps changes,
        # so noise drawn first made the first video of a process differ from every later one.
        schedule = model.schedule(self.settings.steps)
        noise = [
            model.initial_noise(count, height, width, torch.Generator("cpu").manual_seed(seed))
            for _, seed in images
        ]
        firsts = [resize_frames(image[None], height, width)[0] for image, _ in images]
        condition = model.stack(
            [model.condition(f, count, seed) for f, (_, seed) in zip(firsts, images, strict=True)]
        )
        latents = sample(model, torch.cat(noise), schedule, condition)
        return [
            resize_frames(model.decode(latents[i : i + 1])[:num_frames], *image.shape[:2])
            for i, (image, _) in enumerate(images)
        ]

    def __call__(
        self, source: np.ndarray, edited_first: np.ndarray
    ) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """The edited video (T, H, W, 3 uint8, the source's size) and one diagnostics dict per frame."""
        return self.propagate_batch([(source, edited_first, self.settings.seed)])[0]

    def propagate_batch(
        self, clips: Sequence[tuple[np.ndarray, np.ndarray, int]]
    ) -> list[tuple[np.ndarray, list[dict[str, Any]]]]:
        """What :meth:`__call__` makes of every ``(source, edited_first, seed)``, in order.

        Every clip is checked before the model runs. Then, round after round, the next window of every
        unfinished clip is regenerated, windows of one shape sharing loops; a clip's windows stay in
        order, each carried from the last frame of the one before.
        """
        walks = [
            ClipWalk.start(source, edited, self.size, self.settings.num_frames, seed)
            for source, edited, seed in clips
        ]
        while pending := [walk for walk in walks if not walk.finished]:
            windows = [walk.next_window() for walk in pending]
            made = self.loops.run(windows, self._shape, self.regenerate_batch)
            for walk, result in zip(pending, made, strict=True):
                walk.take(result.frames)
        return [walk.result() for walk in walks]


def window_drift(diagnostics: list[dict[str, Any]], key: str = "colour_drift") -> list[float]:
    """Per window, the drift (``colour_drift`` in Lab levels, or ``structure_drift``) of its last frame:
    what the next window inherits."""
    last: dict[int, float] = {}
    for entry in diagnostics:
        last[entry["window"]] = entry[key]
    return [last[w] for w in sorted(last)]
