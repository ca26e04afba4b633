"""All refilter metrics of an (source, edited) pair in one call, and suggested pass limits.

The refilter judges a propagated edit against its source: motion kept (:func:`motion_fidelity`), no
added flicker (:func:`flicker`), no lost quality (:func:`quality_ratio`), the edit still there at the
end (:func:`edit_persistence`). :func:`edit_metrics` computes the source's flows once and returns one
flat dict of floats, ready to be stored as JSON next to the item; :func:`refilter_failures` reads it
against limits and names every limit broken.

The default limits were measured on the three sample clips (H.264 720x480, 8 fps) against synthetic
good edits (re-encoding at crf 28, a colour grade) and broken ones (ranges over the clips):

    metric                good edits     broken edits
    motion_relative_epe   0.03-0.30      reversed 1.46-1.82, 2-frame time shift 0.31-1.43, crf 45 0.34-0.69
    flicker_ratio         0.95-0.99      brightness flicker +-12 1.28-2.81, reversed 1.66-2.65
    persistence           0.91-1.00      grade fading to nothing 0.006-0.021
    sharpness_ratio       0.91-0.98      Gaussian blur 2.5 px 0.09-0.29, crf 45 0.25-0.92
    blockiness_delta      -0.01-0.07     crf 45 0.14-0.54, 8x8 pixelation > 5

A time shift of smooth motion (a car driving steadily) changes the flow too little to be caught
(relative EPE 0.31): read motion with the flicker ratio. Tune the limits per dataset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from insvie.backends.analysis.consistency import (
    DEFAULT_MAX_SIDE,
    DEFAULT_PAIRS,
    DEFAULT_PRESET,
    flicker,
    motion_fidelity,
    quality_ratio,
    source_flows,
)
from insvie.backends.analysis.flow import Preset, VideoFlows
from insvie.backends.analysis.persistence import edit_persistence


@dataclass(frozen=True)
class RefilterLimits:
    """Pass limits for :func:`edit_metrics`' keys (``None`` disables a check)."""

    max_relative_epe: float | None = 0.5
    max_flicker_ratio: float | None = 1.25
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
    ``edited_motion``, ``source_warp_error``, ``edited_warp_error``, ``flicker_ratio``, ``flicker_excess``,
    ``persistence``, ``edit_head_strength``, ``edit_tail_strength``, ``edit_strength_ratio``,
    ``edit_agreement``, ``source_sharpness``, ``edited_sharpness``, ``sharpness_ratio``,
    ``source_blockiness``, ``edited_blockiness``, ``blockiness_delta``.
    """
    if flows is None:
        flows = source_flows(source, pairs=pairs, max_side=max_side, preset=preset)
    fidelity = motion_fidelity(source, edited, flows=flows, preset=preset)
    flick = flicker(source, edited, flows=flows)
    persist = edit_persistence(source, edited)
    quality = quality_ratio(source, edited)
    return {
        "motion_epe": fidelity.epe,
        "motion_epe_max": fidelity.epe_max,
        "motion_relative_epe": fidelity.relative_epe,
        "source_motion": fidelity.source_motion,
        "edited_motion": fidelity.edited_motion,
        "source_warp_error": flick.source_warp_error,
        "edited_warp_error": flick.edited_warp_error,
        "flicker_ratio": flick.ratio,
        "flicker_excess": flick.excess,
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
        ("motion_relative_epe", limits.max_relative_epe, "above", "motion differs from the source"),
        ("flicker_ratio", limits.max_flicker_ratio, "above", "edit adds flicker"),
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
