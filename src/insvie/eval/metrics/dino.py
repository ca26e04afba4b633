"""DINOv2 frame consistency: how alike the edited frames look to a self-supervised image model.

DINOv2's CLS features capture content and layout rather than text alignment, so their cosine between
consecutive frames (and from every frame to the first) drops when an edit flickers, morphs or loses
the subject mid-video, even where CLIP-F, tuned to semantics, stays high. Scores are cosines x100.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from insvie.backends.devices import resolve_device
from insvie.eval.metrics.base import MetricUnavailable
from insvie.eval.metrics.loading import commit_of, import_torch, load_part, model_source
from insvie.eval.sample import EvalSample, SampleFrames

DEFAULT_DINO_MODEL = "facebook/dinov2-base"


class DinoMetric:
    """Mean cosine of consecutive edited frames' DINOv2 CLS features, and of every frame to the first."""

    name = "dino"

    def __init__(
        self,
        model: str | Path = DEFAULT_DINO_MODEL,
        *,
        device: str = "auto",
        revision: str | None = None,
        batch_size: int = 16,
    ) -> None:
        self.model_name = str(model)
        self.source = model_source(model, "DINOv2")
        self.requested_device = device
        self.requested_revision = revision
        self.batch_size = batch_size
        self._model: Any = None
        self._processor: Any = None
        self._torch: Any = None
        self.device = "cpu"

    def load(self) -> DinoMetric:
        if self._model is not None:
            return self
        torch = import_torch("dino")
        from transformers import AutoImageProcessor, Dinov2Model

        self.device = resolve_device(self.requested_device)
        dtype = torch.float16 if self.device.startswith("cuda") else torch.float32
        options = {"revision": self.requested_revision}
        self._processor = load_part(
            "DINOv2",
            self.model_name,
            AutoImageProcessor.from_pretrained,
            self.source,
            backend="pil",
            **options,
        )
        model = load_part(
            "DINOv2", self.model_name, Dinov2Model.from_pretrained, self.source, dtype=dtype, **options
        )
        self._model = model.to(self.device).eval()
        self._torch = torch
        return self

    def features(self, frames: np.ndarray) -> np.ndarray:
        """(T, D) float32 unit CLS features (after DINOv2's final layer norm) of ``frames``."""
        self.load()
        torch = self._torch
        rows = []
        with torch.inference_mode():
            for start in range(0, len(frames), self.batch_size):
                images = [Image.fromarray(frame, "RGB") for frame in frames[start : start + self.batch_size]]
                pixels = self._processor(images=images, return_tensors="pt")["pixel_values"]
                output = self._model(pixel_values=pixels.to(self.device, self._model.dtype))
                cls = torch.nn.functional.normalize(output.pooler_output.float(), dim=-1)
                rows.append(cls.cpu().numpy())
        return np.concatenate(rows)

    def score(self, sample: EvalSample, frames: SampleFrames) -> dict[str, float]:
        if len(frames.edited) < 2:
            raise MetricUnavailable("one frame: no consecutive frames to compare")
        rows = self.features(frames.edited).astype(np.float64)
        consecutive = np.clip((rows[:-1] * rows[1:]).sum(axis=1), -1.0, 1.0)
        to_first = np.clip(rows[1:] @ rows[0], -1.0, 1.0)
        return {"consecutive": 100.0 * float(consecutive.mean()), "to_first": 100.0 * float(to_first.mean())}

    def meta(self) -> dict[str, str]:
        self.load()
        return {"model": self.model_name, "revision": commit_of(self._model, self.requested_revision)}
