"""refilter: every finished triplet is judged against its source before it may be exported.

InsViE's second filter drops pairs whose edited video lost the source's motion (optical-flow end-point
error) or its frame quality. Ours also measures added flicker and whether the edit seen in the first
frames is still there at the end, the failure propagation is most prone to. Every metric is kept in
the result, so thresholds can be re-tuned later by re-running only this step.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import Field

from insvie.backends.analysis.quality import detail_ratio
from insvie.backends.analysis.refilter import edit_metrics
from insvie.engine import Outcome, Stage, StageConfig, StageContext, Task
from insvie.errors import StoreError
from insvie.media import read_frames


class RefilterConfig(StageConfig):
    """Pass limits of the refilter's checks, calibrated on SynthEdit (``benchmarks/calibration.py``).

    The motion and flicker checks read measures relative to the source's own behaviour where flow can
    tell (``tracked_motion``, ``unexplained_flicker``): the whole-frame EPE and warping-error ratios
    they replace rejected half of the clean SynthEdit edits (new textures and added objects on
    near-still sources) at limits that caught every broken one. On 40 seeds (seed sets 0 and 1) clean
    edits reach a tracked relative EPE of 0.19 at p90 (max 0.55) and an unexplained flicker of 2.4,
    persistence no lower than 0.51 and detail no lower than 0.51 (a smoother new background); the
    broken kinds reach motion mismatch from 0.12 (a time shift of smooth motion, p10 0.23), flicker
    from 8.1, drift and first-frames-only persistence at most 0.28, blur detail at most 0.48.
    """

    max_relative_epe: Annotated[
        float | None,
        Field(
            gt=0,
            description="Flow end-point error over source motion, where both clips' texture shows the "
            "motion (null: off).",
        ),
    ] = 0.25
    max_flicker_ratio: Annotated[
        float | None,
        Field(
            gt=0,
            description="Low-frequency warping residual no flow explains, edited over source (null: off).",
        ),
    ] = 3.0
    min_persistence: Annotated[
        float | None, Field(ge=0, le=1, description="Edit strength and agreement at the end vs the start.")
    ] = 0.5
    min_detail_ratio: Annotated[
        float | None,
        Field(
            ge=0,
            description="Edited over source detail (sharpness relative to contrast): blur added. A new "
            "background may be smoother than the old (0.51 on SynthEdit); blur of 1.2-2.5 px read 0.03-0.48.",
        ),
    ] = 0.4
    detail_exempt: Annotated[
        tuple[str, ...], Field(description="Categories whose look smooths on purpose (painterly styles).")
    ] = ("style",)
    max_blockiness_delta: Annotated[float | None, Field(description="Blockiness added by the edit.")] = 0.25


# (metric, config field, bound side, funnel reason), in the order reasons are reported
CHECKS = (
    ("motion_tracked_relative_epe", "max_relative_epe", "max", "motion_mismatch"),
    ("flicker_unexplained_ratio", "max_flicker_ratio", "max", "flicker"),
    ("persistence", "min_persistence", "min", "edit_faded"),
    ("detail_ratio", "min_detail_ratio", "min", "blurry"),
    ("blockiness_delta", "max_blockiness_delta", "max", "blocky"),
)


def measure(source: np.ndarray, edited: np.ndarray) -> dict[str, float]:
    """Every refilter metric of a pair (``edit_metrics`` plus ``detail_ratio``), as plain floats."""
    metrics = {k: float(v) for k, v in edit_metrics(source, edited).items()}
    metrics["detail_ratio"] = float(detail_ratio(source, edited))
    return metrics


def failures(metrics: dict[str, float], config: RefilterConfig, category: str | None = None) -> list[str]:
    """The funnel reasons this pair fails, in check order; empty when it passes."""
    reasons = []
    for key, field, side, reason in CHECKS:
        limit = getattr(config, field)
        if limit is None or (key == "detail_ratio" and category in config.detail_exempt):
            continue
        value = metrics[key]
        if (value > limit) if side == "max" else (value < limit):
            reasons.append(reason)
    return reasons


class Refilter(Stage):
    name = "refilter"
    consumes = "triplet"
    config_class = RefilterConfig
    config: RefilterConfig

    def setup(self, ctx: StageContext) -> None:
        self.ctx = ctx

    def process(self, batch: list[Task]) -> list[Outcome]:
        outcomes = []
        for task in batch:
            source_rel = task.meta.get("source_media")
            if not source_rel or task.media is None:
                raise StoreError(f"triplet {task.item_id} lacks its source or edited video")
            source = read_frames(self.ctx.resolve(source_rel))
            edited = read_frames(task.media)
            if source.shape != edited.shape:
                outcomes.append(
                    Outcome.rejected(
                        task.item_id,
                        "shape_mismatch",
                        {"source": list(source.shape), "edited": list(edited.shape)},
                    )
                )
                continue
            metrics = {k: round(v, 6) for k, v in measure(source, edited).items()}
            failed = failures(metrics, self.config, task.meta.get("category"))
            output = {"metrics": metrics, "failed_checks": failed}
            if failed:
                outcomes.append(Outcome.rejected(task.item_id, failed[0], output))
            else:
                outcomes.append(Outcome.done(task.item_id, output))
        return outcomes
