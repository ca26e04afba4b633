"""Judging an edited video against its source: motion kept, flicker added, quality lost.

These are the motion-evaluation half of InsViE's second filter, on CPU. Source flows are the expensive
part; compute them once (:func:`source_flows`) and pass them to every function here.

- :func:`motion_fidelity`: end-point error between the source's and the edited video's flows at the
  same frame pairs, over the frame diagonal. An edit that keeps the motion scores near the flow
  estimator's own noise; a reversed, shifted, frozen or re-animated video scores on the order of the
  motion itself.
- :func:`flicker`: the warping error of Lai et al. (2018): frame t-1 carried to frame t by the *source*
  flow and compared with frame t, over pixels the flow sees in both (forward-backward consistent).
  The edited video's error over the source's own error is the ratio the refilter reads: about 1 when
  the edit follows the source's motion, above 1 when it adds flicker or wobble.
- :func:`quality_ratio`: sharpness and blockiness of the edited frames against the source's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from insvie.backends.analysis.flow import Preset, VideoFlows, flow_magnitude, video_flows
from insvie.backends.analysis.quality import BLOCK, SHARPNESS_SIZE, blockiness, sharpness
from insvie.backends.analysis.warp import backward_warp, occlusion_mask
from insvie.backends.analysis.working import check_same_shape, check_video, evenly_spaced, shrink

DEFAULT_MAX_SIDE = 256
DEFAULT_PAIRS = 8
DEFAULT_PRESET: Preset = "fast"
# Floors that keep ratios finite on still or flat material (diagonal fraction; mean abs error in [0, 1],
# about one grey level).
MOTION_FLOOR = 0.002
WARP_ERROR_FLOOR = 0.004


def source_flows(
    source: np.ndarray,
    *,
    pairs: int | None = DEFAULT_PAIRS,
    gap: int = 1,
    max_side: int | None = DEFAULT_MAX_SIDE,
    preset: Preset = DEFAULT_PRESET,
) -> VideoFlows:
    """Forward and backward flows of a source clip's sampled pairs, for reuse by every metric here."""
    return video_flows(source, pairs=pairs, gap=gap, max_side=max_side, preset=preset, backward=True)


def _ensure_flows(
    video: np.ndarray, flows: VideoFlows | None, *, backward: bool, **options: object
) -> VideoFlows:
    if flows is None:
        return video_flows(video, backward=backward, **options)  # type: ignore[arg-type]
    flows.check_matches(video)
    if backward and flows.backward is None:
        raise ValueError("these flows lack the backward direction; make them with source_flows()")
    return flows


@dataclass(frozen=True)
class MotionFidelity:
    """End-point error of edited against source flow, in fractions of the frame diagonal per step.

    ``relative_epe`` divides by the source's motion (floored at :data:`MOTION_FLOOR`), so it reads
    alike for slow and fast clips: ~0 kept, ~1 as wrong as the motion is large, ~2 reversed.
    """

    epe: float
    epe_max: float
    relative_epe: float
    source_motion: float
    edited_motion: float
    pairs: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def motion_fidelity(
    source: np.ndarray,
    edited: np.ndarray,
    *,
    flows: VideoFlows | None = None,
    pairs: int | None = DEFAULT_PAIRS,
    gap: int = 1,
    max_side: int | None = DEFAULT_MAX_SIDE,
    preset: Preset = DEFAULT_PRESET,
) -> MotionFidelity:
    """How far the edited clip's motion strays from the source's at the same frame pairs.

    ``flows`` are the source's (:func:`source_flows`); the edited clip's flows are computed at the same
    pairs and working size.
    """
    check_same_shape(source, edited)
    src = _ensure_flows(source, flows, backward=False, pairs=pairs, gap=gap, max_side=max_side, preset=preset)
    if not src.pairs:
        return MotionFidelity(0.0, 0.0, 0.0, 0.0, 0.0, 0)
    edit = video_flows(edited, pair_list=src.pairs, max_side=max(src.size), preset=preset)
    diagonal = src.diagonal
    errors, src_motion, edit_motion = [], [], []
    for fs, fe in zip(src.forward, edit.forward, strict=True):
        errors.append(float(flow_magnitude(fs - fe).mean()) / diagonal)
        src_motion.append(float(flow_magnitude(fs).mean()) / diagonal)
        edit_motion.append(float(flow_magnitude(fe).mean()) / diagonal)
    epe = float(np.mean(errors))
    source_motion = float(np.mean(src_motion))
    return MotionFidelity(
        epe=epe,
        epe_max=float(np.max(errors)),
        relative_epe=epe / max(source_motion, MOTION_FLOOR),
        source_motion=source_motion,
        edited_motion=float(np.mean(edit_motion)),
        pairs=len(src.pairs),
    )


def visible_masks(flows: VideoFlows, *, tol: float = 0.5, rel: float = 0.05) -> list[np.ndarray]:
    """Per pair, the pixels of the later frame that flow deems visible in the earlier one too."""
    if flows.backward is None:
        raise ValueError("these flows lack the backward direction; make them with source_flows()")
    return [
        ~occlusion_mask(bw, fw, tol=tol, rel=rel)
        for fw, bw in zip(flows.forward, flows.backward, strict=True)
    ]


def warp_error(
    video: np.ndarray,
    flows: VideoFlows | None = None,
    *,
    visible: list[np.ndarray] | None = None,
    pairs: int | None = DEFAULT_PAIRS,
    max_side: int | None = DEFAULT_MAX_SIDE,
    preset: Preset = DEFAULT_PRESET,
) -> float:
    """Mean absolute RGB error (0-1) between each later frame of the sampled pairs and the earlier one
    warped onto it, over pixels the flow deems visible in both.

    ``flows`` (forward and backward, see :func:`source_flows`) default to the clip's own; pass the
    source's flows to measure an edited clip the way Lai et al. do, and ``visible`` (from
    :func:`visible_masks`) to reuse the masks across clips.
    """
    check_video(video)
    flows = _ensure_flows(video, flows, backward=True, pairs=pairs, max_side=max_side, preset=preset)
    assert flows.backward is not None
    if visible is None:
        visible = visible_masks(flows)
    work_side = max(flows.size)
    errors = []
    for (i, j), bw, seen in zip(flows.pairs, flows.backward, visible, strict=True):
        if not seen.any():
            continue
        earlier = shrink(video[i], work_side).astype(np.float32)
        later = shrink(video[j], work_side).astype(np.float32)
        predicted = backward_warp(earlier, bw)  # frame i seen from frame j's grid
        errors.append(float(cv2.absdiff(later, predicted)[seen].mean()) / 255.0)
    return float(np.mean(errors)) if errors else 0.0


@dataclass(frozen=True)
class Flicker:
    """Warping errors of source and edited clip under the source's flow, their ratio and difference.

    ``excess`` (edited minus source error, mean absolute RGB in [0, 1]) complements the ratio on
    clips whose own warping error is large (fast articulated motion), where the ratio moves less.
    """

    source_warp_error: float
    edited_warp_error: float
    ratio: float
    excess: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def flicker(
    source: np.ndarray,
    edited: np.ndarray,
    *,
    flows: VideoFlows | None = None,
    pairs: int | None = DEFAULT_PAIRS,
    max_side: int | None = DEFAULT_MAX_SIDE,
    preset: Preset = DEFAULT_PRESET,
) -> Flicker:
    """Edited over source warping error; > 1 means the edit flickers or wobbles more than the source.

    The source's error absorbs what the flow itself gets wrong, so the ratio isolates what the edit
    adds; both errors get :data:`WARP_ERROR_FLOOR` added, so identical clips read exactly 1 and
    near-perfect flows do not divide by ~0. Contrast-raising edits raise it a little (all residuals
    grow with contrast) and blurring edits lower it; read it with a margin (the refilter's default
    limit is 1.25).
    """
    check_same_shape(source, edited)
    flows = _ensure_flows(source, flows, backward=True, pairs=pairs, max_side=max_side, preset=preset)
    visible = visible_masks(flows)
    src = warp_error(source, flows, visible=visible)
    edit = warp_error(edited, flows, visible=visible)
    return Flicker(src, edit, (edit + WARP_ERROR_FLOOR) / (src + WARP_ERROR_FLOOR), edit - src)


@dataclass(frozen=True)
class QualityRatio:
    """Sharpness (edited over source) and blockiness (edited minus source) on sampled frames."""

    source_sharpness: float
    edited_sharpness: float
    sharpness_ratio: float
    source_blockiness: float
    edited_blockiness: float
    blockiness_delta: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def quality_ratio(
    source: np.ndarray,
    edited: np.ndarray,
    *,
    frames: int = 5,
    size: int | None = SHARPNESS_SIZE,
    block: int = BLOCK,
) -> QualityRatio:
    """Whether the edit blurred or blocked the video, from ``frames`` evenly spaced frame pairs.

    Sharpness uses the median over frames (robust to one odd frame); blockiness the maximum (one
    blocky stretch is visible). A ratio well below 1 means the edit lost detail; style edits (e.g.
    watercolour) may lower it legitimately, so weigh it with the instruction.
    """
    check_same_shape(source, edited)
    chosen = evenly_spaced(len(source), frames)
    src_sharp = float(np.median([sharpness(source[i], size=size) for i in chosen]))
    edit_sharp = float(np.median([sharpness(edited[i], size=size) for i in chosen]))
    src_block = float(max(blockiness(source[i], block=block) for i in chosen))
    edit_block = float(max(blockiness(edited[i], block=block) for i in chosen))
    return QualityRatio(
        source_sharpness=src_sharp,
        edited_sharpness=edit_sharp,
        sharpness_ratio=edit_sharp / max(src_sharp, 1.0),
        source_blockiness=src_block,
        edited_blockiness=edit_block,
        blockiness_delta=edit_block - src_block,
    )
