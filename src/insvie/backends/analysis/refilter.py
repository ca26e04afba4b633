"""The refilter's whole decision on an (source, edited) pair: its metrics, its checks, its verdict.

The refilter judges a propagated edit against its source: motion kept (:func:`tracked_motion`), no
added flicker (:func:`unexplained_flicker`), no blur added (:func:`detail_ratio`), no compression blocks
added (:func:`quality_ratio`'s ``blockiness_delta``), the edit still there at the end
(:func:`edit_persistence`). :func:`edit_metrics` computes the source's and the edited video's flows once
and returns one flat dict of floats; :func:`refilter_metrics` adds ``detail_ratio`` and rounds every value
to 6 digits, as the build stores them and decides on them; :func:`refilter_failures` reads them against
the limits (:data:`CHECKS`, in reporting order) and :func:`refilter_pair` is the step's verdict on two
decoded videos. ``insvie.stages.refilter`` is a thin adapter around :func:`refilter_pair` and
``insvie.eval.calibration`` measures and checks with the same functions, so what calibration and the
tests prove about these checks is what the build decides.

The limits are read from any object with :class:`RefilterLimits`' attributes; their defaults live in
one place, the step's config (``insvie.stages.refilter.RefilterConfig``). The whole-frame measures
(:func:`motion_fidelity`'s ``motion_relative_epe``, :func:`flicker`'s ``flicker_ratio``) and
``sharpness_ratio`` are kept in the dict for comparison with older builds and with ``insvie eval``, but
not checked: the first two read a new texture on a flat source, or an added object moving its own way,
as lost motion and flicker, and sharpness falls with a grade that darkens or flattens a frame, which
detail (sharpness relative to contrast) does not.

The default limits come from SynthEdit (``benchmarks/calibration.py``: 40 seeds of each kind from seed
sets 0 and 1, 240x360, 17 frames, H.264 crf 18 round trip; p10 / median / p90, then the extreme on the
side of the limit):

    metric                        clean edits                 broken edits
    motion_tracked_relative_epe   0.02 / 0.06 / 0.19, 0.55    motion mismatch 0.23 / 0.50 / 0.89, 0.12
    flicker_unexplained_ratio     0.85 / 0.95 / 1.38, 2.4     flicker 12.8 / 24.6 / 33.6, 8.1
    persistence                   0.95 / 1.00 / 1.00, 0.51    drift 0.04 / 0.11 / 0.20, 0.28; first frames 0
    detail_ratio                  lowest 0.51 (new background)  blur (1.2-2.5 px) at most 0.48
    blockiness_delta              -0.06 / -0.01 / 0.03, 0.43  blocking 1.3 / 6.2 / 35, 0.35
    (whole-frame, unchecked)
    motion_relative_epe           0.04 / 0.21 / 1.01, 2.3     motion mismatch 0.43 / 1.24 / 1.84, 0.26
    flicker_ratio                 0.68 / 0.93 / 1.42, 6.9     flicker 3.4 / 8.4 / 11.6, 2.4

A time shift of smooth motion (a steady pan) changes the flow too little to be caught by motion alone
(a tenth of the motion mismatches read below 0.23); persistence catches it only if the edit moved
with it. Tune the limits per dataset.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, NamedTuple, Protocol

import numpy as np

from insvie.backends.analysis.consistency import (
    edited_flows,
    flicker,
    motion_fidelity,
    quality_ratio,
    source_flows,
    tracked_motion,
    unexplained_flicker,
)
from insvie.backends.analysis.flow import VideoFlows
from insvie.backends.analysis.persistence import edit_persistence
from insvie.backends.analysis.quality import detail_ratio
from insvie.backends.analysis.verdict import Verdict

# Metrics are stored rounded to this many digits and the checks read the stored values, so a re-read
# of a dataset's numbers reaches the same verdict as the build did.
DIGITS = 6
DETAIL_METRIC = "detail_ratio"  # the one check a category can be exempt from (``detail_exempt``)


class RefilterLimits(Protocol):
    """The limits the checks read (``None`` disables a check); ``RefilterConfig`` is the build's.

    ``max_relative_epe`` bounds ``motion_tracked_relative_epe`` and ``max_flicker_ratio``
    ``flicker_unexplained_ratio`` (see the module docstring for why not the whole-frame measures);
    ``detail_exempt`` names the categories whose look smooths on purpose, spared the detail check.
    """

    @property
    def max_relative_epe(self) -> float | None: ...
    @property
    def max_flicker_ratio(self) -> float | None: ...
    @property
    def min_persistence(self) -> float | None: ...
    @property
    def min_detail_ratio(self) -> float | None: ...
    @property
    def detail_exempt(self) -> tuple[str, ...]: ...
    @property
    def max_blockiness_delta(self) -> float | None: ...


class Check(NamedTuple):
    """One check: the metric, the :class:`RefilterLimits` attribute bounding it, the side of the bound
    (``max``: fails above; ``min``: fails below) and the funnel reason it reports."""

    metric: str
    limit: str
    side: Literal["max", "min"]
    reason: str


# in the order reasons are reported (the first is the rejection reason of the item)
CHECKS: tuple[Check, ...] = (
    Check("motion_tracked_relative_epe", "max_relative_epe", "max", "motion_mismatch"),
    Check("flicker_unexplained_ratio", "max_flicker_ratio", "max", "flicker"),
    Check("persistence", "min_persistence", "min", "edit_faded"),
    Check(DETAIL_METRIC, "min_detail_ratio", "min", "blurry"),
    Check("blockiness_delta", "max_blockiness_delta", "max", "blocky"),
)


def edit_metrics(
    source: np.ndarray, edited: np.ndarray, *, flows: VideoFlows | None = None
) -> dict[str, float]:
    """The flow, persistence and quality metrics as a flat ``{name: float}``, unrounded (all the refilter
    records but ``detail_ratio``: :func:`refilter_metrics` is what it records). The refilter measures at
    one working resolution and sampling, :func:`source_flows`' defaults; ``flows`` are the source's made
    so, if already known.

    Keys: ``motion_epe``, ``motion_epe_max``, ``motion_relative_epe``, ``source_motion``,
    ``edited_motion``, ``motion_tracked_relative_epe``, ``motion_tracked_epe``,
    ``motion_tracked_fraction``, ``source_warp_error``, ``edited_warp_error``, ``flicker_ratio``,
    ``flicker_excess``, ``source_flicker_residual``, ``edited_flicker_residual``,
    ``flicker_unexplained_ratio``, ``flicker_unexplained_excess``,
    ``persistence``, ``edit_head_strength``, ``edit_tail_strength``, ``edit_strength_ratio``,
    ``edit_agreement``, ``source_sharpness``, ``edited_sharpness``, ``sharpness_ratio``,
    ``source_blockiness``, ``edited_blockiness``, ``blockiness_delta``.
    """
    if flows is None:
        flows = source_flows(source)
    fidelity = motion_fidelity(source, edited, flows=flows)
    flick = flicker(source, edited, flows=flows)
    own = edited_flows(edited, flows)
    tracked = tracked_motion(source, edited, flows=flows, edit_flows=own)
    unexplained = unexplained_flicker(source, edited, flows=flows, edit_flows=own)
    persist = edit_persistence(source, edited)
    quality = quality_ratio(source, edited)
    return {
        "motion_epe": fidelity.epe,
        "motion_epe_max": fidelity.epe_max,
        "motion_relative_epe": fidelity.relative_epe,
        "source_motion": fidelity.source_motion,
        "edited_motion": fidelity.edited_motion,
        "motion_tracked_relative_epe": tracked.relative_epe,
        "motion_tracked_epe": tracked.epe,
        "motion_tracked_fraction": tracked.tracked_fraction,
        "source_warp_error": flick.source_warp_error,
        "edited_warp_error": flick.edited_warp_error,
        "flicker_ratio": flick.ratio,
        "flicker_excess": flick.excess,
        "source_flicker_residual": unexplained.source_residual,
        "edited_flicker_residual": unexplained.edited_residual,
        "flicker_unexplained_ratio": unexplained.ratio,
        "flicker_unexplained_excess": unexplained.excess,
        "persistence": persist.persistence,
        "edit_head_strength": persist.head_strength,
        "edit_tail_strength": persist.tail_strength,
        "edit_strength_ratio": persist.strength_ratio,
        "edit_agreement": persist.agreement,
        **quality.as_dict(),
    }


def refilter_metrics(
    source: np.ndarray, edited: np.ndarray, *, flows: VideoFlows | None = None
) -> dict[str, float]:
    """Every metric the refilter records and checks: :func:`edit_metrics` plus ``detail_ratio``, each
    rounded to :data:`DIGITS` digits (the values the build stores and decides on).

    ``flows`` are the source's as :func:`source_flows` computes them with its defaults, if already known
    (tests measuring several edits of one source); the build leaves them to be computed here.
    """
    metrics = {k: float(v) for k, v in edit_metrics(source, edited, flows=flows).items()}
    metrics[DETAIL_METRIC] = float(detail_ratio(source, edited))
    return {k: round(v, DIGITS) for k, v in metrics.items()}


def is_exempt(check: Check, limits: RefilterLimits, category: str | None) -> bool:
    """Whether an edit of ``category`` is spared ``check`` whatever its limit: only the detail check has
    exemptions (``detail_exempt``: painterly styles smooth on purpose)."""
    return check.metric == DETAIL_METRIC and category in limits.detail_exempt


def breaks(value: Any, limit: float, side: str) -> Any:
    """Whether ``value`` breaks ``limit`` on ``side``: above a ``max``, below a ``min`` (a value on the
    limit passes). Works elementwise on numpy arrays, for calibration's sweeps over many samples."""
    return (value > limit) if side == "max" else (value < limit)


def refilter_failures(
    metrics: Mapping[str, float], limits: RefilterLimits, category: str | None = None
) -> list[str]:
    """The funnel reasons of every check the pair fails, in :data:`CHECKS` order; empty when it passes.

    ``metrics`` are :func:`refilter_metrics`' (or the stored ones); ``category`` is the edit's, for the
    detail check's exemptions.
    """
    reasons = []
    for check in CHECKS:
        limit = getattr(limits, check.limit)
        if limit is None or is_exempt(check, limits, category):
            continue
        if breaks(metrics[check.metric], limit, check.side):
            reasons.append(check.reason)
    return reasons


def refilter_pair(
    source: np.ndarray, edited: np.ndarray, limits: RefilterLimits, category: str | None = None
) -> Verdict:
    """The refilter's verdict on a decoded (source, edited) pair of an edit of ``category``.

    Videos of different shapes cannot be compared frame by frame: ``shape_mismatch``, with both shapes.
    Otherwise the output keeps every metric (so limits can be re-tuned by re-running only this step)
    and ``failed_checks``; the first failed check is the rejection reason.
    """
    if source.shape != edited.shape:
        return Verdict("shape_mismatch", {"source": list(source.shape), "edited": list(edited.shape)})
    metrics = refilter_metrics(source, edited)
    failed = refilter_failures(metrics, limits, category)
    return Verdict(failed[0] if failed else None, {"metrics": metrics, "failed_checks": failed})
