"""PickScore (Kirstain et al. 2023): a CLIP-H fine-tuned on human preferences, scoring edited frames.

The score of a frame for a caption is ``logit_scale.exp() * cos(text, image)`` with the model's learnt
logit scale (about 100), averaged over the edited frames; EditVerseBench reports it against the target
caption (their released InsViE figure: 19.25). The weights (``yuvalkirstain/PickScore_v1``) and the
processor (``laion/CLIP-ViT-H-14-laion2B-s32B-b79K``) live in two repositories, so both are options.
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

DEFAULT_PICKSCORE_MODEL = "yuvalkirstain/PickScore_v1"
DEFAULT_PICKSCORE_PROCESSOR = "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"


class PickScoreMetric:
    """Mean PickScore of the edited frames against the target caption."""

    name = "pickscore"

    def __init__(
        self,
        model: str | Path = DEFAULT_PICKSCORE_MODEL,
        *,
        processor: str | Path = DEFAULT_PICKSCORE_PROCESSOR,
        device: str = "auto",
        revision: str | None = None,
        batch_size: int = 16,
    ) -> None:
        self.model_name = str(model)
        self.processor_name = str(processor)
        self.source = model_source(model, "PickScore")
        self.processor_source = model_source(processor, "PickScore processor")
        self.requested_device = device
        self.requested_revision = revision
        self.batch_size = batch_size
        self._model: Any = None
        self._tokenizer: Any = None
        self._image_processor: Any = None
        self._torch: Any = None
        self.device = "cpu"

    def load(self) -> PickScoreMetric:
        if self._model is not None:
            return self
        torch = import_torch("pickscore")
        from transformers import AutoImageProcessor, AutoTokenizer, CLIPModel

        self.device = resolve_device(self.requested_device)
        dtype = torch.float16 if self.device.startswith("cuda") else torch.float32
        name = self.processor_name
        self._tokenizer = load_part(
            "PickScore processor", name, AutoTokenizer.from_pretrained, self.processor_source
        )
        self._image_processor = load_part(
            "PickScore processor",
            name,
            AutoImageProcessor.from_pretrained,
            self.processor_source,
            backend="pil",
        )
        model = load_part(
            "PickScore",
            self.model_name,
            CLIPModel.from_pretrained,
            self.source,
            dtype=dtype,
            revision=self.requested_revision,
        )
        self._model = model.to(self.device).eval()
        self._torch = torch
        return self

    def _unit(self, features: Any) -> np.ndarray:
        tensor = getattr(features, "pooler_output", features)  # transformers 5 may return an output object
        return self._torch.nn.functional.normalize(tensor.float(), dim=-1).cpu().numpy().astype(np.float64)

    def scores(self, caption: str, frames: np.ndarray) -> np.ndarray:
        """(T,) PickScore of each frame for ``caption``."""
        self.load()
        torch = self._torch
        with torch.inference_mode():
            encoded = self._tokenizer(
                [caption], padding=True, truncation=True, max_length=77, return_tensors="pt"
            ).to(self.device)
            text = self._unit(
                self._model.get_text_features(
                    input_ids=encoded["input_ids"], attention_mask=encoded["attention_mask"]
                )
            )[0]
            images = []
            for start in range(0, len(frames), self.batch_size):
                chunk = [Image.fromarray(frame, "RGB") for frame in frames[start : start + self.batch_size]]
                pixels = self._image_processor(images=chunk, return_tensors="pt")["pixel_values"]
                images.append(
                    self._unit(
                        self._model.get_image_features(pixel_values=pixels.to(self.device, self._model.dtype))
                    )
                )
            scale = float(self._model.logit_scale.exp().float().cpu())
        return scale * np.clip(np.concatenate(images) @ text, -1.0, 1.0)

    def score(self, sample: EvalSample, frames: SampleFrames) -> dict[str, float]:
        if not sample.target_caption:
            raise MetricUnavailable("no target caption for this sample")
        return {"mean": float(self.scores(sample.target_caption, frames.edited).mean())}

    def meta(self) -> dict[str, str]:
        self.load()
        return {
            "model": self.model_name,
            "processor": self.processor_name,
            "revision": commit_of(self._model, self.requested_revision),
        }
