"""How much a clip moves, split into camera and object motion, and a static/dynamic label.

Motion is the mean optical-flow magnitude over sampled consecutive-frame pairs divided by the frame
diagonal, both at working resolution, so a clip scores the same at any storage size: 0.01 means things
move 1% of the diagonal per frame interval (about 8.7 px at 720x480). It is a per-frame-step quantity,
so compare clips at one frame rate (decode with ``fps=``), or multiply by fps for a per-second figure.

The camera part is a similarity transform (pan, tilt, zoom, roll) fitted to the flow with RANSAC; the
object part is what that model leaves unexplained. InsViE trains on static clips (image-derived videos
held almost still) and dynamic ones; curation uses the label to keep the mix it wants and to drop
clips that are too static to teach motion or so fast they are mostly blur.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import cv2
import numpy as np

from insvie.backends.analysis.flow import Preset, VideoFlows, flow_magnitude, video_flows

DEFAULT_MAX_SIDE = 256
DEFAULT_PAIRS = 8
# Below this mean flow (fraction of the diagonal per frame step) a clip counts as static: 1.3 px per frame
# at 720x480. Measured: the slowest sample clip (cat_grass, 8 fps) 0.0043, a 1 px/frame pan 0.0012,
# a photo held still with sensor noise 0.0002, the same H.264-encoded 0.000001.
STATIC_THRESHOLD = 0.0015
_GRID_STEP = 8  # working pixels between the points the camera model is fitted to

MotionLabel = Literal["static", "dynamic"]


@dataclass(frozen=True)
class MotionStats:
    """Motion of a clip, in fractions of the frame diagonal per frame step (plain floats for JSON).

    ``amount`` is the mean over pairs of the mean flow magnitude, ``peak`` the largest pair mean,
    ``camera`` the mean magnitude of the fitted camera motion and ``object`` of the residual.
    """

    amount: float
    peak: float
    camera: float
    object: float
    label: MotionLabel
    pairs: int

    def as_dict(self) -> dict[str, float | str | int]:
        return asdict(self)


def motion_label(amount: float, static_threshold: float = STATIC_THRESHOLD) -> MotionLabel:
    """``"static"`` below ``static_threshold`` (fraction of the diagonal per frame step), else dynamic."""
    return "static" if amount < static_threshold else "dynamic"


def camera_flow(flow: np.ndarray, *, step: int = _GRID_STEP) -> np.ndarray:
    """The flow a similarity-transform camera motion explains, fitted robustly to ``flow``.

    Falls back to the median translation when the fit fails (too few inlier points).
    """
    height, width = flow.shape[:2]
    ys, xs = np.mgrid[step // 2 : height : step, step // 2 : width : step]
    points = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)
    moved = points + flow[ys.ravel(), xs.ravel()]
    model = None
    if len(points) >= 3:
        model, _ = cv2.estimateAffinePartial2D(
            points, moved, method=cv2.RANSAC, ransacReprojThreshold=1.0, maxIters=200
        )
    if model is None:
        median = np.median(flow.reshape(-1, 2), axis=0).astype(np.float32)
        return np.broadcast_to(median, flow.shape).copy()
    gx, gy = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    model = model.astype(np.float32)
    out = np.empty_like(flow)
    out[..., 0] = model[0, 0] * gx + model[0, 1] * gy + model[0, 2] - gx
    out[..., 1] = model[1, 0] * gx + model[1, 1] * gy + model[1, 2] - gy
    return out


def motion_from_flows(
    flows: VideoFlows, *, static_threshold: float = STATIC_THRESHOLD, split: bool = True
) -> MotionStats:
    """Motion statistics from precomputed flows (e.g. the ones the refilter already has).

    ``split=False`` skips the camera fit (camera and object read 0) when only the amount is needed.
    """
    if not flows.forward:
        return MotionStats(0.0, 0.0, 0.0, 0.0, motion_label(0.0, static_threshold), 0)
    diagonal = flows.diagonal
    means, cameras, objects = [], [], []
    for flow in flows.forward:
        means.append(float(flow_magnitude(flow).mean()) / diagonal)
        if split:
            camera = camera_flow(flow)
            cameras.append(float(flow_magnitude(camera).mean()) / diagonal)
            objects.append(float(flow_magnitude(flow - camera).mean()) / diagonal)
    amount = float(np.mean(means))
    return MotionStats(
        amount=amount,
        peak=float(np.max(means)),
        camera=float(np.mean(cameras)) if split else 0.0,
        object=float(np.mean(objects)) if split else 0.0,
        label=motion_label(amount, static_threshold),
        pairs=len(flows.forward),
    )


def motion_stats(
    video: np.ndarray,
    *,
    pairs: int | None = DEFAULT_PAIRS,
    gap: int = 1,
    max_side: int | None = DEFAULT_MAX_SIDE,
    preset: Preset = "ultrafast",
    static_threshold: float = STATIC_THRESHOLD,
    split: bool = True,
) -> MotionStats:
    """Motion of a TxHxWx3 clip from ``pairs`` evenly spread frame pairs ``(t, t + gap)``.

    A one-frame clip has no motion and reads as static.
    """
    flows = video_flows(video, pairs=pairs, gap=gap, max_side=max_side, preset=preset)
    return motion_from_flows(flows, static_threshold=static_threshold, split=split)
