"""Judging an edited video against its source: motion kept, flicker added, quality lost.

These are the motion-evaluation half of InsViE's second filter, on CPU. Source flows are the expensive
part; compute them once (:func:`source_flows`) and pass them to every function here.

- :func:`motion_fidelity`: end-point error between the source's and the edited video's flows at the
  same frame pairs, over the frame diagonal. An edit that keeps the motion scores near the flow
  estimator's own noise; a reversed, shifted, frozen or re-animated video scores on the order of the
  motion itself.
- :func:`flicker`: the warping error of Lai et al. (2018): frame t-1 carried to frame t by the *source*
  flow and compared with frame t, over pixels the flow sees in both (forward-backward consistent).
  The edited video's error over the source's own error is the ratio ``insvie eval`` reports: about 1
  when the edit follows the source's motion, above 1 when it adds flicker or wobble, or when new
  content moves where the source's flow says otherwise.
- :func:`tracked_motion`: the refilter's motion check. The end-point error counted only where flow
  is *measured* rather than guessed: on pixels the source moves, textured in both videos and visible
  in both source frames, and only along the directions both frames' texture pins down (the aperture
  problem), over the source's motion there. An edit that flattens a region (a grade merging two
  colours), replaces a flat or striped background with a texture, or adds an object moving on its
  own changes the flow where one of the two videos could not say how things move; that is not lost
  motion.
- :func:`unexplained_flicker`: the refilter's flicker check. The low-frequency part of the warping
  residual (brightness and colour jumps, not texture misregistration) under whichever flow, the
  source's or the edited video's own, explains the edited pair better, over the source's own. New
  textures or objects that move their own way are explained by the edited video's flow; a flickering
  grade is explained by neither.
- :func:`quality_ratio`: sharpness and blockiness of the edited frames against the source's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from insvie.backends.analysis.flow import Preset, VideoFlows, flow_magnitude, video_flows
from insvie.backends.analysis.quality import BLOCK, SHARPNESS_SIZE, blockiness, sharpness
from insvie.backends.analysis.warp import backward_warp, occlusion_mask
from insvie.backends.analysis.working import check_same_shape, check_video, evenly_spaced, gray_small, shrink

DEFAULT_MAX_SIDE = 256
DEFAULT_PAIRS = 8
DEFAULT_PRESET: Preset = "fast"
# Floors that keep ratios finite on still or flat material (diagonal fraction; mean abs error in [0, 1],
# about one grey level).
MOTION_FLOOR = 0.002
WARP_ERROR_FLOOR = 0.004
# tracked_motion: a pixel's flow is measured (not interpolated from elsewhere) where the strongest
# direction of the local structure tensor has at least this gradient energy, (grey levels per working
# pixel)^2; flat frames and the insides of flat shapes fall below it.
MIN_TEXTURE = 1.0
TENSOR_SIGMA = 2.0  # working pixels: the neighbourhood a flow patch sees
MIN_MOVING = 0.5  # working pixels per step: slower counts as still (codec noise and DIS's own error)
MIN_TRACKED = 0.0005  # share of the sampled pixels: fewer tracked moving pixels leaves no motion to judge
# unexplained_flicker: residuals are averaged over this Gaussian (working pixels) before their size is
# taken, so misregistered texture (residuals of both signs side by side) cancels and jumps in
# brightness or colour remain; the floor (mean absolute RGB, half a grey level) keeps the ratio finite.
FLICKER_SIGMA = 6.0
FLICKER_FLOOR = 0.002
# Both clips are read only where the source's own flow explains the source (its smoothed residual below
# this, ~5 grey levels): fast articulated motion leaves large residual patches in any clip (legs,
# occlusions), which would swamp a flicker of the edit in the ratio. Below MIN_EXPLAINED of the
# pixels so explained, every seen pixel counts.
EXPLAINED_RESIDUAL = 0.02
MIN_EXPLAINED = 0.05


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


def edited_flows(edited: np.ndarray, flows: VideoFlows, *, preset: Preset = DEFAULT_PRESET) -> VideoFlows:
    """The edited clip's own forward and backward flows at the source flows' pairs and working size."""
    return video_flows(edited, pair_list=flows.pairs, max_side=max(flows.size), preset=preset, backward=True)


def structure_tensor(gray: np.ndarray, sigma: float = TENSOR_SIGMA) -> np.ndarray:
    """HxWx3 float32 (Jxx, Jxy, Jyy): the Gaussian-smoothed outer product of the luma gradient, in
    (grey levels per pixel)^2. Its eigenvectors are the directions in which the frame's texture pins
    motion down; an edge pins only the direction across it, a flat area none."""
    g = gray.astype(np.float32)
    ix = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3, scale=1 / 8)
    iy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3, scale=1 / 8)
    return np.dstack([cv2.GaussianBlur(a * b, (0, 0), sigma) for a, b in ((ix, ix), (ix, iy), (iy, iy))])


def _largest_eigenvalue(tensor: np.ndarray) -> np.ndarray:
    jxx, jxy, jyy = tensor[..., 0], tensor[..., 1], tensor[..., 2]
    return 0.5 * (jxx + jyy) + np.sqrt(0.25 * (jxx - jyy) ** 2 + jxy**2)


def _observable_length(tensor: np.ndarray, largest: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """Length of ``vector`` along the directions ``tensor`` pins down: its full length at a corner, its
    component across the edge on an edge (``sqrt(v^T J v / lambda_max)``)."""
    vx, vy = vector[..., 0], vector[..., 1]
    quad = tensor[..., 0] * vx * vx + 2 * tensor[..., 1] * vx * vy + tensor[..., 2] * vy * vy
    return np.sqrt(np.maximum(quad, 0.0) / np.maximum(largest, 1e-6))


@dataclass(frozen=True)
class TrackedMotion:
    """Observable end-point error over source motion on tracked moving pixels (see :func:`tracked_motion`).

    ``relative_epe`` ~0 kept, ~1 as wrong as the motion, ~2 reversed; ``epe`` is in fractions of the
    frame diagonal; ``tracked_fraction`` is the share of sampled pixels it was measured on (0 when the
    source is still or textureless: nothing to keep, ``relative_epe`` 0).
    """

    relative_epe: float
    epe: float
    tracked_fraction: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def tracked_motion(
    source: np.ndarray,
    edited: np.ndarray,
    *,
    flows: VideoFlows | None = None,
    edit_flows: VideoFlows | None = None,
    preset: Preset = DEFAULT_PRESET,
) -> TrackedMotion:
    """Whether the edited clip keeps the source's motion where flow can tell (see the module docstring).

    ``flows`` are the source's (:func:`source_flows`), ``edit_flows`` the edited clip's at the same
    pairs (:func:`edited_flows`). Errors count along the directions both frames' texture pins down, on
    pixels the source moves at least :data:`MIN_MOVING`, visible in its next frame and textured
    (:data:`MIN_TEXTURE`) in both clips; their sum over the source's motion there is ``relative_epe``.
    """
    check_same_shape(source, edited)
    src = _ensure_flows(
        source, flows, backward=True, pairs=DEFAULT_PAIRS, max_side=DEFAULT_MAX_SIDE, preset=preset
    )
    assert src.backward is not None
    edit = edit_flows if edit_flows is not None else edited_flows(edited, src, preset=preset)
    work_side = max(src.size)
    error_sum = motion_sum = 0.0
    tracked = 0
    for (i, _), fs, bs, fe in zip(src.pairs, src.forward, src.backward, edit.forward, strict=True):
        tensors = [structure_tensor(gray_small(video[i], work_side)) for video in (source, edited)]
        largest = [_largest_eigenvalue(t) for t in tensors]
        moving = flow_magnitude(fs)
        mask = (moving > MIN_MOVING) & (largest[0] > MIN_TEXTURE) & (largest[1] > MIN_TEXTURE)
        mask &= ~occlusion_mask(fs, bs)
        if not mask.any():
            continue
        diff = fs - fe
        error = np.minimum(
            *(_observable_length(t, lam, diff) for t, lam in zip(tensors, largest, strict=True))
        )
        error_sum += float(error[mask].sum())
        motion_sum += float(moving[mask].sum())
        tracked += int(mask.sum())
    fraction = tracked / max(src.size[0] * src.size[1] * len(src.pairs), 1)
    if fraction < MIN_TRACKED:
        return TrackedMotion(0.0, 0.0, fraction)
    return TrackedMotion(error_sum / motion_sum, error_sum / tracked / src.diagonal, fraction)


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


def _low_frequency_residual(
    earlier: np.ndarray, later: np.ndarray, backward: np.ndarray, seen: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel, the mean absolute RGB (0-1) of the warping residual smoothed over
    :data:`FLICKER_SIGMA` from ``seen`` pixels only (normalised convolution: unseen pixels neither
    count nor dilute), and where enough seen pixels surround it to say."""
    residual = later - backward_warp(earlier, backward)
    weight = cv2.GaussianBlur(seen.astype(np.float32), (0, 0), FLICKER_SIGMA)
    smooth = cv2.GaussianBlur(residual * seen[..., None], (0, 0), FLICKER_SIGMA)
    valid = weight > 0.5
    return np.abs(smooth).mean(axis=2) / np.maximum(weight, 1e-6) / 255.0, valid


def _mean_over(values: np.ndarray, mask: np.ndarray) -> float:
    return float(values[mask].mean()) if mask.any() else float("inf")


@dataclass(frozen=True)
class UnexplainedFlicker:
    """Low-frequency warping residuals (mean absolute RGB, 0-1) of source and edited clip, their
    ratio (floored by :data:`FLICKER_FLOOR`; ~1 no flicker added) and difference."""

    source_residual: float
    edited_residual: float
    ratio: float
    excess: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def unexplained_flicker(
    source: np.ndarray,
    edited: np.ndarray,
    *,
    flows: VideoFlows | None = None,
    edit_flows: VideoFlows | None = None,
    preset: Preset = DEFAULT_PRESET,
) -> UnexplainedFlicker:
    """Brightness and colour jumps of the edited clip that no motion explains, over the source's own.

    Per sampled pair, the edited residual is the smaller of the two made by warping with the source's
    flow and with the edited clip's own (:func:`edited_flows`), each over the pixels its flows see in
    both frames; the source's is under its own flow. Both are averaged over the pixels whose source
    residual the source's flow explains (:data:`EXPLAINED_RESIDUAL`). Unlike :func:`flicker` it does
    not punish an edit for content that moves its own way (an added object, a new texture the source's
    flow could not follow); wrong motion is :func:`tracked_motion`'s to catch.
    """
    check_same_shape(source, edited)
    src = _ensure_flows(
        source, flows, backward=True, pairs=DEFAULT_PAIRS, max_side=DEFAULT_MAX_SIDE, preset=preset
    )
    edit = edit_flows if edit_flows is not None else edited_flows(edited, src, preset=preset)
    assert src.backward is not None and edit.backward is not None
    work_side = max(src.size)
    seen_src, seen_edit = visible_masks(src), visible_masks(edit)
    src_res, edit_res = [], []
    for k, (i, j) in enumerate(src.pairs):
        s_i, s_j, e_i, e_j = (
            shrink(v[t], work_side).astype(np.float32)
            for v, t in ((source, i), (source, j), (edited, i), (edited, j))
        )
        src_map, src_valid = _low_frequency_residual(s_i, s_j, src.backward[k], seen_src[k])
        explained = src_valid & (src_map < EXPLAINED_RESIDUAL)
        if explained.mean() < MIN_EXPLAINED:
            explained = src_valid
        if not explained.any():
            continue
        src_res.append(_mean_over(src_map, explained))
        by_source, valid_source = _low_frequency_residual(e_i, e_j, src.backward[k], seen_src[k])
        by_own, valid_own = _low_frequency_residual(e_i, e_j, edit.backward[k], seen_edit[k])
        # valid_source is src_valid (the same seen mask), so the first mean is always finite
        edit_res.append(
            min(_mean_over(by_source, explained & valid_source), _mean_over(by_own, explained & valid_own))
        )
    if not src_res:
        return UnexplainedFlicker(0.0, 0.0, 1.0, 0.0)
    source_residual, edited_residual = float(np.mean(src_res)), float(np.mean(edit_res))
    ratio = (edited_residual + FLICKER_FLOOR) / (source_residual + FLICKER_FLOOR)
    return UnexplainedFlicker(source_residual, edited_residual, ratio, edited_residual - source_residual)


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

    Both use the median over frames, robust to one odd frame: a content grid (bricks, tiles) lining up
    with the 8-px block grid in some frames pushed the maximum's delta to 0.5-0.7 on clean SynthEdit
    edits (the median's stayed below 0.1 on all but one), while blocking worth rejecting spans the clip.
    A sharpness ratio well below 1 means the edit lost detail; style edits (e.g. watercolour) may lower
    it legitimately, so weigh it with the instruction.
    """
    check_same_shape(source, edited)
    chosen = evenly_spaced(len(source), frames)
    src_sharp = float(np.median([sharpness(source[i], size=size) for i in chosen]))
    edit_sharp = float(np.median([sharpness(edited[i], size=size) for i in chosen]))
    src_block = float(np.median([blockiness(source[i], block=block) for i in chosen]))
    edit_block = float(np.median([blockiness(edited[i], block=block) for i in chosen]))
    return QualityRatio(
        source_sharpness=src_sharp,
        edited_sharpness=edit_sharp,
        sharpness_ratio=edit_sharp / max(src_sharp, 1.0),
        source_blockiness=src_block,
        edited_blockiness=edit_block,
        blockiness_delta=edit_block - src_block,
    )
