"""CLIP metrics of an edited video: CLIP-T, CLIP-F and CLIP directional similarity.

All three read one :class:`insvie.backends.clip.ClipScorer` (hub id or folder; ViT-L/14 by default, the
model the field reports with) through :class:`ClipFeatures`, which embeds a sample's edited frames once
for both CLIP-T and CLIP-F.

- ``clip_t``: cosine of each edited frame with the target caption, averaged, x100 (the field's CLIP-T).
- ``clip_f``: cosine of consecutive edited frames' image embeddings, averaged, x100 (CLIP-F; 100 for a
  still video).
- ``clip_dir``: ``ClipScorer.edit_scores``' directional similarity (source to edited frame against source
  to target caption) on up to ``max_frames`` evenly spaced frame pairs, averaged; a raw cosine, as
  InstructPix2Pix reports it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from insvie.backends.analysis.working import evenly_spaced
from insvie.backends.clip import DEFAULT_CLIP_MODEL, ClipScorer
from insvie.eval.metrics.base import MetricUnavailable, check_pair
from insvie.eval.sample import EvalSample, SampleFrames

DIRECTIONAL_FRAMES = 8


def _unit_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosines in float64, clipped to [-1, 1] (the rows are CLIP's unit embeddings)."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    norms = np.linalg.norm(a64, axis=1) * np.linalg.norm(b64, axis=1)
    return np.clip((a64 * b64).sum(axis=1) / np.maximum(norms, 1e-12), -1.0, 1.0)


class ClipFeatures:
    """One CLIP scorer and the embeddings of the sample being scored, shared by the CLIP metrics.

    Byte-identical frames share one forward pass, which also makes a still video's CLIP-F exactly 100
    rather than 100 minus batching noise.
    """

    def __init__(
        self, model: str | Path = DEFAULT_CLIP_MODEL, *, device: str = "auto", revision: str | None = None
    ) -> None:
        self.scorer = ClipScorer(model, device=device, revision=revision)
        self._frames: np.ndarray | None = None
        self._rows: np.ndarray | None = None

    def frame_embeddings(self, frames: np.ndarray) -> np.ndarray:
        """(T, D) unit embeddings of ``frames`` (T, H, W, 3), remembered for the current sample."""
        if self._frames is not frames:
            slots: dict[bytes, int] = {}
            unique: list[np.ndarray] = []
            order = []
            for frame in frames:
                key = frame.tobytes()
                if key not in slots:
                    slots[key] = len(unique)
                    unique.append(frame)
                order.append(slots[key])
            self._rows = self.scorer.image_embeddings(unique)[order]
            self._frames = frames
        assert self._rows is not None
        return self._rows

    def meta(self) -> dict[str, str]:
        self.scorer.load()
        return {"model": self.scorer.name, "revision": str(self.scorer.revision or "unknown")}


def _target_caption(sample: EvalSample) -> str:
    if not sample.target_caption:
        raise MetricUnavailable("no target caption for this sample")
    return sample.target_caption


class ClipTextMetric:
    """CLIP-T: edited frames against the target caption, mean cosine x100 (and the worst frame's)."""

    name = "clip_t"

    def __init__(self, features: ClipFeatures) -> None:
        self.features = features

    def score(self, sample: EvalSample, frames: SampleFrames) -> dict[str, float]:
        caption = _target_caption(sample)
        images = self.features.frame_embeddings(frames.edited)
        text = self.features.scorer.text_embeddings([caption])[0]
        cosines = _unit_cosines(images, np.broadcast_to(text, images.shape))
        return {"mean": 100.0 * float(cosines.mean()), "min": 100.0 * float(cosines.min())}

    def meta(self) -> dict[str, str]:
        return self.features.meta()


class ClipFrameMetric:
    """CLIP-F: consecutive edited frames' image-embedding cosine, mean x100 (and the lowest pair's)."""

    name = "clip_f"

    def __init__(self, features: ClipFeatures) -> None:
        self.features = features

    def score(self, sample: EvalSample, frames: SampleFrames) -> dict[str, float]:
        if len(frames.edited) < 2:
            raise MetricUnavailable("one frame: no consecutive frames to compare")
        rows = self.features.frame_embeddings(frames.edited)
        cosines = _unit_cosines(rows[:-1], rows[1:])
        return {"mean": 100.0 * float(cosines.mean()), "min": 100.0 * float(cosines.min())}

    def meta(self) -> dict[str, str]:
        return self.features.meta()


class ClipDirectionalMetric:
    """Directional CLIP similarity per frame pair (``ClipScorer.edit_scores``), averaged over frames."""

    name = "clip_dir"

    def __init__(self, features: ClipFeatures, *, max_frames: int = DIRECTIONAL_FRAMES) -> None:
        self.features = features
        self.max_frames = max_frames

    def score(self, sample: EvalSample, frames: SampleFrames) -> dict[str, float]:
        target = _target_caption(sample)
        if not sample.source_caption:
            raise MetricUnavailable("no source caption for this sample")
        check_pair(frames.source, frames.edited, "the edited video")
        values = [
            self.features.scorer.edit_scores(
                frames.source[i], [frames.edited[i]], sample.source_caption, target
            )[0]["directional_similarity"]
            for i in evenly_spaced(len(frames.edited), self.max_frames)
        ]
        return {"mean": float(np.mean(values))}

    def meta(self) -> dict[str, str]:
        return {**self.features.meta(), "frames": str(self.max_frames)}
