"""Warping by a flow field and finding where it cannot be trusted (occlusions, frame exits).

Flow follows the convention of :mod:`insvie.backends.analysis.flow`: defined on the first frame's
grid, pointing to where each pixel went. :func:`backward_warp` samples an image at ``x + flow(x)``,
so warping ``b`` by ``flow(a -> b)`` predicts ``a``.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np


@lru_cache(maxsize=16)
def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    xs.setflags(write=False)
    ys.setflags(write=False)
    return xs, ys


def sample_positions(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Absolute (x, y) float32 maps ``x + flow(x)``: where each pixel's flow lands."""
    xs, ys = _grid(*flow.shape[:2])
    return xs + flow[..., 0], ys + flow[..., 1]


def backward_warp(image: np.ndarray, flow: np.ndarray, *, border: int = cv2.BORDER_REPLICATE) -> np.ndarray:
    """``image`` sampled (bilinear) at ``x + flow(x)``: an HxW(xC) array on the flow's grid.

    ``image`` must have the flow's height and width; float32 flows of other sizes go through
    :func:`insvie.backends.analysis.flow.resize_flow` first. Works for images and for flow fields.
    """
    if image.shape[:2] != flow.shape[:2]:
        raise ValueError(f"image {image.shape[:2]} and flow {flow.shape[:2]} differ in size")
    map_x, map_y = sample_positions(flow)
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=border)


def leaves_frame(flow: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """True where ``x + flow(x)`` lands outside the frame (more than ``margin`` pixels out)."""
    height, width = flow.shape[:2]
    map_x, map_y = sample_positions(flow)
    return (
        (map_x < -margin) | (map_y < -margin) | (map_x > width - 1 + margin) | (map_y > height - 1 + margin)
    )


def occlusion_mask(
    flow_fw: np.ndarray, flow_bw: np.ndarray, *, tol: float = 0.5, rel: float = 0.05
) -> np.ndarray:
    """HxW bool on ``flow_fw``'s grid: True where forward and backward flow disagree.

    ``flow_fw`` goes a -> b (on a's grid), ``flow_bw`` b -> a (on b's grid). Where a pixel stays
    visible, following it forward and back returns it home: ``fw(x) + bw(x + fw(x)) ~ 0``. The test is
    ``|fw + bw'|^2 > rel * (|fw|^2 + |bw'|^2) + tol^2`` (Sundaram et al. 2010), ``tol`` in working
    pixels; pixels whose flow leaves the frame count as occluded too.
    """
    if flow_fw.shape != flow_bw.shape:
        raise ValueError(f"flows differ in shape: {flow_fw.shape} vs {flow_bw.shape}")
    bw_there = backward_warp(flow_bw, flow_fw)
    total = flow_fw + bw_there
    squared = np.einsum("...c,...c->...", total, total)
    scale = np.einsum("...c,...c->...", flow_fw, flow_fw) + np.einsum("...c,...c->...", bw_there, bw_there)
    return (squared > rel * scale + tol * tol) | leaves_frame(flow_fw)
