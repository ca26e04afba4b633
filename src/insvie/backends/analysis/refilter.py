"""All refilter metrics of an (source, edited) pair in one call, and suggested pass limits.

The refilter judges a propagated edit against its source: motion kept (:func:`tracked_motion`), no
added flicker (:func:`unexplained_flicker`), no lost quality (:func:`quality_ratio`), the edit still
there at the end (:func:`edit_persistence`). :func:`edit_metrics` computes the source's and the edited
video's flows once and returns one flat dict of floats, ready to be stored as JSON next to the item;
:func:`refilter_failures` reads it against limits and names every limit broken. The whole-frame
measures (:func:`motion_fidelity`'s ``motion_relative_epe``, :func:`flicker`'s ``flicker_ratio``) are
kept in the dict for comparison with older builds and with ``insvie eval``, but not checked: they read
a new texture on a flat source, or an added object moving its own way, as lost motion and flicker.

The default limits come from SynthEdit (``benchmarks/calibration.py``: 40 seeds of each kind from seed
sets 0 and 1, 240x360, 17 frames, H.264 crf 18 round trip; p10 / median / p90, then the extreme on the
side of the limit):

    metric                        clean edits                 broken edits
    motion_tracked_relative_epe   0.02 / 0.06 / 0.19, 0.55    motion mismatch 0.23 / 0.50 / 0.89, 0.12
    flicker_unexplained_ratio     0.85 / 0.95 / 1.38, 2.4     flicker 12.8 / 24.6 / 33.6, 8.1
    persistence                   0.95 / 1.00 / 1.00, 0.51    drift 0.04 / 0.11 / 0.20, 0.28; first frames 0
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
from dataclasses import dataclass

import numpy as np

from insvie.backends.analysis.consistency import (
    DEFAULT_MAX_SIDE,
    DEFAULT_PAIRS,
    DEFAULT_PRESET,
    edited_flows,
    flicker,
    motion_fidelity,
    quality_ratio,
    source_flows,
    tracked_motion,
    unexplained_flicker,
)
from insvie.backends.analysis.flow import Preset, VideoFlows
from insvie.backends.analysis.persistence import edit_persistence


@dataclass(frozen=True)
class RefilterLimits:
    """Pass limits for :func:`edit_metrics`' keys (``None`` disables a check).

    ``max_relative_epe`` bounds ``motion_tracked_relative_epe`` and ``max_flicker_ratio``
    ``flicker_unexplained_ratio`` (see the module docstring for why not the whole-frame measures).
    """

    max_relative_epe: float | None = 0.25
    max_flicker_ratio: float | None = 3.0
    min_persistence: float | None = 0.5
    min_sharpness_ratio: float | None = 0.6
    max_blockiness_delta: float | None = 0.25


def edit_metrics(
    source: np.ndarray,
    edited: np.ndarray,
    *,
    flows: VideoFlows | None = None,
    pairs: int | None = DEFAULT_PAIRS,
    max_side: int | None = DEFAULT_MAX_SIDE,
    preset: Preset = DEFAULT_PRESET,
) -> dict[str, float]:
    """Every refilter metric as a flat ``{name: float}``; ``flows`` are the source's if already known.

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
        flows = source_flows(source, pairs=pairs, max_side=max_side, preset=preset)
    fidelity = motion_fidelity(source, edited, flows=flows, preset=preset)
    flick = flicker(source, edited, flows=flows)
    own = edited_flows(edited, flows, preset=preset)
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


def refilter_failures(metrics: Mapping[str, float], limits: RefilterLimits | None = None) -> list[str]:
    """Why the pair fails, one short reason per broken limit; empty when it passes."""
    limits = limits or RefilterLimits()
    checks = [
        ("motion_tracked_relative_epe", limits.max_relative_epe, "above", "motion differs from the source"),
        ("flicker_unexplained_ratio", limits.max_flicker_ratio, "above", "edit adds flicker"),
        ("persistence", limits.min_persistence, "below", "edit fades over time"),
        ("sharpness_ratio", limits.min_sharpness_ratio, "below", "edit lost sharpness"),
        ("blockiness_delta", limits.max_blockiness_delta, "above", "edit added compression blocks"),
    ]
    reasons = []
    for key, limit, side, words in checks:
        if limit is None:
            continue
        value = float(metrics[key])
        broken = value > limit if side == "above" else value < limit
        if broken:
            reasons.append(f"{words}: {key}={value:.3g} {side} {limit:g}")
    return reasons
