"""Carry an edited first frame through a source video with an image-to-video model, window by window.

Per window: encode the source frames, invert them under the source's first frame, regenerate under
the edited first frame from the inverted latents with source features injected (:mod:`.sampler`),
decode. Frames are resized to the working size and the result back to the source's size. Every
output frame gets diagnostics the refilter and reports can read: its window, whether it conditioned a
window, and the colour and structure drift of the edit (:mod:`.windows`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from insvie.backends.procedural.operator import check_video
from insvie.backends.propagation.i2v.pipeline_model import PipelineModel
from insvie.backends.propagation.i2v.sampler import invert, sample, steps_injected
from insvie.backends.propagation.i2v.settings import I2VSettings
from insvie.backends.propagation.i2v.windows import (
    colour_drift,
    colour_shift,
    edge_correlation,
    plan_windows,
    structure_drift,
)


def resize_frames(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    """Frames (T, H, W, 3) at (height, width); area filter down, cubic up."""
    if frames.shape[1:3] == (height, width):
        return frames
    shrink = height * width < frames.shape[1] * frames.shape[2]
    interpolation = cv2.INTER_AREA if shrink else cv2.INTER_CUBIC
    return np.stack([cv2.resize(f, (width, height), interpolation=interpolation) for f in frames])


@dataclass(frozen=True)
class WindowResult:
    """One window's decoded frames at the working size and its final latents (for measurements; those
    of the padded window when the model needed more frames)."""

    frames: np.ndarray
    latents: Any


class I2VPropagator:
    """A loaded backend model (``SvdModel``, ``WanModel``) and the settings it propagates with."""

    def __init__(self, model: PipelineModel, settings: I2VSettings) -> None:
        self.model = model
        self.settings = settings
        multiple = model.multiple
        self.size = tuple(
            max(multiple, round(side / multiple) * multiple) for side in (settings.height, settings.width)
        )

    def with_settings(self, **changes: Any) -> I2VPropagator:
        """The same loaded weights with other settings (injection, steps...): nothing is reloaded."""
        settings = self.settings.replaced(**changes)
        return I2VPropagator(type(self.model)(self.model.pipe, settings), settings)

    def _frames_made(self, wanted: int) -> int:
        """Frames the model makes for ``wanted``: Wan's VAE needs 4k+1 (``frame_multiple`` 4), SVD any."""
        multiple = self.model.frame_multiple
        return -(-(wanted - 1) // multiple) * multiple + 1

    def regenerate(self, frames: np.ndarray, edited_first: np.ndarray) -> WindowResult:
        """One window: ``frames`` (uint8, working size) re-made from ``edited_first`` (same size)."""
        cfg, model = self.settings, self.model
        wanted = len(frames)
        count = self._frames_made(wanted)
        if count > wanted:  # pad with the last frame, crop after
            frames = np.concatenate([frames, np.repeat(frames[-1:], count - wanted, axis=0)])
        schedule = model.schedule(cfg.steps)
        source_condition = model.condition(frames[0], count)
        edited_condition = model.condition(edited_first, count)
        inversion = invert(model, model.encode_video(frames), schedule, source_condition)
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
        return WindowResult(model.decode(latents)[:wanted], latents)

    def animate(self, image: np.ndarray, num_frames: int) -> np.ndarray:
        """A video (num_frames, H, W, 3 uint8, the image's size) sampled from noise with ``image`` as its
        first frame: plain image-to-video, seeded by ``settings.seed``, in one window."""
        import torch

        if num_frames < 2:
            raise ValueError(f"animating needs at least 2 frames, got {num_frames}")
        model, (height, width) = self.model, self.size
        count = self._frames_made(num_frames)
        first = resize_frames(image[None], height, width)[0]
        generator = torch.Generator("cpu").manual_seed(self.settings.seed)
        noise = model.initial_noise(count, height, width, generator)
        latents = sample(model, noise, model.schedule(self.settings.steps), model.condition(first, count))
        return resize_frames(model.decode(latents)[:num_frames], *image.shape[:2])

    def __call__(
        self, source: np.ndarray, edited_first: np.ndarray
    ) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """The edited video (T, H, W, 3 uint8, the source's size) and one diagnostics dict per frame."""
        check_video(source)
        if edited_first.shape != source.shape[1:] or edited_first.dtype != np.uint8:
            raise ValueError(
                f"edited_first must be uint8 {source.shape[1:]}, "
                f"got {edited_first.dtype} {edited_first.shape}"
            )
        height, width = self.size
        frames = resize_frames(source, height, width)
        carried = resize_frames(edited_first[None], height, width)[0]
        reference, aligned = colour_shift(frames[0], carried), edge_correlation(frames[0], carried)
        output: list[np.ndarray] = []
        diagnostics: list[dict[str, Any]] = []
        for window, (start, end) in enumerate(plan_windows(len(frames), self.settings.num_frames)):
            made = self.regenerate(frames[start:end], carried).frames
            first = 0 if window == 0 else 1  # a later window's first frame is the previous window's last
            for offset in range(first, end - start):
                index = start + offset
                output.append(made[offset])
                diagnostics.append(
                    {
                        "index": index,
                        "window": window,
                        "anchor": offset == 0 or (offset == end - start - 1 and end < len(frames)),
                        "colour_drift": round(colour_drift(reference, frames[index], made[offset]), 4),
                        "structure_drift": round(structure_drift(aligned, frames[index], made[offset]), 4),
                    }
                )
            carried = made[-1]
        video = resize_frames(np.stack(output), *source.shape[1:3])
        return video, diagnostics


def window_drift(diagnostics: list[dict[str, Any]], key: str = "colour_drift") -> list[float]:
    """Per window, the drift (``colour_drift`` in Lab levels, or ``structure_drift``) of its last frame:
    what the next window inherits."""
    last: dict[int, float] = {}
    for entry in diagnostics:
        last[entry["window"]] = entry[key]
    return [last[w] for w in sorted(last)]
