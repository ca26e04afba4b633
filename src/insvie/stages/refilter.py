"""refilter: every finished triplet is judged against its source before it may be exported.

InsViE's second filter drops pairs whose edited video lost the source's motion (optical-flow end-point
error) or its frame quality. Ours also measures added flicker and whether the edit seen in the first
frames is still there at the end, the failure propagation is most prone to. Every metric is kept in
the result, so thresholds can be re-tuned later by re-running only this step.

The metrics, the checks and the verdict live in :mod:`insvie.backends.analysis.refilter` (one home,
which calibration and the tests read too); this step reads the two videos, hands them to
:func:`refilter_pair` with its config as the limits, and records the verdict.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from insvie.backends.analysis.refilter import refilter_pair
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


class Refilter(Stage):
    name = "refilter"
    consumes = "triplet"
    section = "refilter"
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
            verdict = refilter_pair(source, edited, self.config, task.meta.get("category"))
            if verdict.reason is None:
                outcomes.append(Outcome.done(task.item_id, verdict.output))
            else:
                outcomes.append(Outcome.rejected(task.item_id, verdict.reason, verdict.output))
        return outcomes
