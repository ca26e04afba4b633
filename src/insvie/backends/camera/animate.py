"""Image pairs to video pairs: the InsViE image branch without an image-to-video model.

A source image and its edit are filmed by the same virtual camera: one path of crop windows, one
affine matrix per frame, applied with identical settings to both images, so the pair differs only
by the edit. Windows stay inside the image (no border pixels are invented; the border mode is a
safety net that the window checks keep unused), and with ``keep_in_view`` the path keeps the edited
region on screen in every frame. When the windows are much larger than the output, both images are
first shrunk with area averaging so that the bilinear warp does not alias (moving aliasing shimmers).
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

from insvie.backends.camera.paths import Frame, plan_path
from insvie.backends.camera.window import BBox, Window, max_scale

PRESHRINK_FROM = 1.5  # windows at least this many image pixels per output pixel are pre-shrunk
KeepInView = BBox | np.ndarray | str | None


def _check_image(image: np.ndarray, name: str) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{name} must be a uint8 RGB image (H, W, 3), got {getattr(image, 'shape', None)}")


def changed_region(
    source: np.ndarray, edited: np.ndarray, *, threshold: float = 12.0, min_share: float = 0.001
) -> BBox | None:
    """Bounding box (x0, y0, x1, y1) of where ``edited`` differs from ``source``; None if nowhere.

    Per-pixel colour distance above ``threshold`` levels, opened to drop speckle (resampling and
    compression noise); None when less than ``min_share`` of the image changed.
    """
    distance = np.abs(source.astype(np.int16) - edited.astype(np.int16)).max(axis=2)
    mask = cv2.morphologyEx(
        (distance > threshold).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)
    )
    if mask.sum() < min_share * mask.size:
        return None
    return mask_bbox(mask.astype(bool))


def mask_bbox(mask: np.ndarray) -> BBox | None:
    """Bounding box (x0, y0, x1, y1), exclusive ends, of the True pixels of a (H, W) mask."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)


def _resolve_keep(keep: KeepInView, source: np.ndarray, edited: np.ndarray) -> BBox | None:
    height, width = source.shape[:2]
    if keep is None:
        return None
    if isinstance(keep, str):
        if keep != "changed":
            raise ValueError(f"keep_in_view must be a bbox, a mask, 'changed' or None, got {keep!r}")
        return changed_region(source, edited)
    if isinstance(keep, np.ndarray) and keep.shape == (height, width):
        return mask_bbox(keep.astype(bool))
    x0, y0, x1, y1 = (float(v) for v in keep)
    x0, y0, x1, y1 = max(x0, 0.0), max(y0, 0.0), min(x1, float(width)), min(y1, float(height))
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"keep_in_view box {keep} is empty or outside the {width}x{height} image")
    return x0, y0, x1, y1


def _shrink_factors(image_size: tuple[int, int], windows: list[Window]) -> tuple[int, int, float, float]:
    """Pre-shrunk size (H', W') and the exact factors (ky, kx) = (H/H', W/W'), never above the
    smallest window scale, so no sample of a pre-shrunk image falls outside it (see animate_pair)."""
    height, width = image_size
    factor = min(w.scale for w in windows)
    if factor < PRESHRINK_FROM:
        return height, width, 1.0, 1.0
    small_h, small_w = math.ceil(height / factor), math.ceil(width / factor)
    return small_h, small_w, height / small_h, width / small_w


def _matrices(windows: list[Window], out_size: tuple[int, int], ky: float, kx: float) -> list[np.ndarray]:
    out = []
    for window in windows:
        m = window.matrix(out_size)
        # image point x maps to (x + 0.5) / k - 0.5 in the pre-shrunk image (pixel-centre alignment)
        m[0] /= kx
        m[1] /= ky
        m[0, 2] += 0.5 / kx - 0.5
        m[1, 2] += 0.5 / ky - 0.5
        out.append(m)
    return out


def render_path(
    image: np.ndarray, params: dict[str, Any], *, border_value: tuple[int, ...] | None = None
) -> np.ndarray:
    """Film ``image`` (same size as the planned one; any channel count) along a planned path.

    ``border_value`` renders outside-the-image samples in that colour instead of reflecting, which
    makes any border pixel visible (tests use it to prove there are none).
    """
    height, width = params["image_size"]
    if image.shape[:2] != (height, width):
        raise ValueError(f"path planned for {width}x{height}, got an image of shape {image.shape}")
    out_h, out_w = params["out_size"]
    small_h, small_w = params["preshrink_size"]
    if (small_h, small_w) != (height, width):
        image = cv2.resize(image, (small_w, small_h), interpolation=cv2.INTER_AREA)
    if border_value is None:
        border, value = cv2.BORDER_REFLECT_101, 0
    else:
        border, value = cv2.BORDER_CONSTANT, border_value
    frames = [
        cv2.warpAffine(
            image,
            np.asarray(m, dtype=np.float64),
            (out_w, out_h),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=border,
            borderValue=value,
        )
        for m in params["matrices"]
    ]
    return np.stack(frames).reshape(len(frames), out_h, out_w, *image.shape[2:])


def plan_camera(
    image_size: tuple[int, int],
    *,
    path: str = "pan_left",
    num_frames: int = 17,
    out_size: tuple[int, int] | None = None,
    strength: float = 0.6,
    seed: int = 0,
    easing: str = "ease_in_out",
    keep: BBox | None = None,
) -> dict[str, Any]:
    """The path's parameters (JSON-ready): windows, matrices and pre-shrink size for an image size."""
    height, width = image_size
    out_h, out_w = out_size if out_size is not None else (height, width)
    if out_h < 2 or out_w < 2:
        raise ValueError(f"out_size must be at least 2x2, got {(out_h, out_w)}")
    # Pre-shrinking by k needs samples (k - 1) / 2 pixels inside the image; k never exceeds the
    # largest possible scale, so that bound's margin is always enough.
    widest = max_scale((height, width), (out_h, out_w))
    margin = max(0.0, (widest - 1.0) / 2.0) if widest >= PRESHRINK_FROM else 0.0
    frame = Frame((height, width), (out_h, out_w), margin, keep)
    plan = plan_path(path, frame, num_frames=num_frames, strength=strength, easing=easing, seed=seed)
    small_h, small_w, ky, kx = _shrink_factors((height, width), plan.windows)
    return {
        "path": path,
        "num_frames": num_frames,
        "image_size": [height, width],
        "out_size": [out_h, out_w],
        "requested_strength": float(strength),
        "strength": float(plan.strength),
        "easing": easing,
        "seed": int(seed),
        "keep_in_view": None if keep is None else [float(v) for v in keep],
        "kept_in_view": bool(plan.kept_in_view),
        "preshrink_size": [small_h, small_w],
        "windows": [w.to_list() for w in plan.windows],  # cx, cy, scale, angle (degrees)
        "matrices": [m.tolist() for m in _matrices(plan.windows, (out_h, out_w), ky, kx)],
    }


def animate_pair(
    source: np.ndarray,
    edited: np.ndarray,
    *,
    path: str = "pan_left",
    num_frames: int = 17,
    out_size: tuple[int, int] | None = None,
    strength: float = 0.6,
    seed: int = 0,
    easing: str = "ease_in_out",
    keep_in_view: KeepInView = None,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Film ``source`` and ``edited`` (equal-shaped uint8 RGB) along one camera path.

    ``out_size`` is (height, width), by default the image's. ``keep_in_view`` is a box
    (x0, y0, x1, y1) in image pixels, a (H, W) mask, or ``"changed"`` (where the two images differ);
    the path keeps it on screen, lowering the strength if it must (the returned parameters say what
    was used, and ``kept_in_view`` whether it could be honoured at all). Returns the source video,
    the edited video (both (T, h, w, 3) uint8) and the path parameters.
    """
    _check_image(source, "source")
    _check_image(edited, "edited")
    if source.shape != edited.shape:
        raise ValueError(f"source and edited differ in shape: {source.shape} vs {edited.shape}")
    keep = _resolve_keep(keep_in_view, source, edited)
    params = plan_camera(
        source.shape[:2],
        path=path,
        num_frames=num_frames,
        out_size=out_size,
        strength=strength,
        seed=seed,
        easing=easing,
        keep=keep,
    )
    return render_path(source, params), render_path(edited, params), params
