"""Metrics by name, built from one options record, with the shared pieces (flows, CLIP) made once.

The default set needs no weights (:data:`DEFAULT_METRICS`); the learned ones are asked for by name and
load their model from a hub id or a folder given in :class:`MetricOptions`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from insvie.backends.analysis.consistency import DEFAULT_PAIRS
from insvie.backends.clip import DEFAULT_CLIP_MODEL
from insvie.errors import ConfigError
from insvie.eval.metrics.clip import ClipDirectionalMetric, ClipFeatures, ClipFrameMetric, ClipTextMetric
from insvie.eval.metrics.dino import DEFAULT_DINO_MODEL, DinoMetric
from insvie.eval.metrics.fidelity import GroundTruthMetric, PreservationMetric
from insvie.eval.metrics.motion import MotionMetric, SourceFlows, WarpMetric
from insvie.eval.metrics.pickscore import (
    DEFAULT_PICKSCORE_MODEL,
    DEFAULT_PICKSCORE_PROCESSOR,
    PickScoreMetric,
)
from insvie.eval.metrics.seam import SeamMetric
from insvie.eval.sample import Metric

DEFAULT_METRICS = ("motion", "warp", "preserve", "gt", "seam")
MODEL_METRICS = ("clip_t", "clip_f", "clip_dir", "dino", "pickscore")
METRIC_NAMES = DEFAULT_METRICS + MODEL_METRICS


@dataclass(frozen=True)
class MetricOptions:
    """Models (hub id or folder) and settings of the metrics; every default written here once."""

    clip_model: str = DEFAULT_CLIP_MODEL
    dino_model: str = DEFAULT_DINO_MODEL
    pickscore_model: str = DEFAULT_PICKSCORE_MODEL
    pickscore_processor: str = DEFAULT_PICKSCORE_PROCESSOR
    device: str = "auto"
    flow_pairs: int | None = DEFAULT_PAIRS


def parse_metric_names(text: str) -> list[str]:
    """``"clip_t, motion"`` as names in the given order, refusing unknown ones by name."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in METRIC_NAMES]
    if unknown:
        raise ConfigError(f"unknown metric(s) {', '.join(unknown)}; choose from {', '.join(METRIC_NAMES)}")
    if not names:
        raise ConfigError(f"no metric named; choose from {', '.join(METRIC_NAMES)}")
    return list(dict.fromkeys(names))


def build_metrics(names: Sequence[str], options: MetricOptions | None = None) -> list[Metric]:
    """The metrics ``names`` in order; models load lazily, on the first sample they score."""
    options = options or MetricOptions()
    parse_metric_names(",".join(names))
    flows = SourceFlows(pairs=options.flow_pairs)
    clip: ClipFeatures | None = None
    built: list[Metric] = []
    for name in names:
        if name in ("clip_t", "clip_f", "clip_dir") and clip is None:
            clip = ClipFeatures(options.clip_model, device=options.device)
        if name == "motion":
            built.append(MotionMetric(flows))
        elif name == "warp":
            built.append(WarpMetric(flows))
        elif name == "preserve":
            built.append(PreservationMetric())
        elif name == "gt":
            built.append(GroundTruthMetric())
        elif name == "seam":
            built.append(SeamMetric())
        elif name == "clip_t":
            built.append(ClipTextMetric(clip))
        elif name == "clip_f":
            built.append(ClipFrameMetric(clip))
        elif name == "clip_dir":
            built.append(ClipDirectionalMetric(clip))
        elif name == "dino":
            built.append(DinoMetric(options.dino_model, device=options.device))
        elif name == "pickscore":
            built.append(
                PickScoreMetric(
                    options.pickscore_model, processor=options.pickscore_processor, device=options.device
                )
            )
    return built
