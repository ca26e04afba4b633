"""Deliberately broken edits, labelled with their parameters, for calibrating quality filters.

Each kind imitates a failure seen in real edit propagation: temporal flicker, an edit that fades
away (drift) or stops after a few frames, motion that no longer matches the source, a wrong attribute
(handled by re-rendering, see :func:`insvie.synth.edits.misapply`), blur and block artefacts.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

BROKEN_KINDS = (
    "flicker",
    "drift",
    "first_frames_only",
    "motion_mismatch",
    "wrong_attribute",
    "blur",
    "blocking",
)
# Kinds that are pure functions of the good source and edited frames.
PIXEL_KINDS = tuple(kind for kind in BROKEN_KINDS if kind != "wrong_attribute")


def _u8(values: np.ndarray) -> np.ndarray:
    return np.rint(values).clip(0, 255).astype(np.uint8)


def flicker(edited: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """Per-frame brightness gain and per-channel colour offset."""
    frames = edited.shape[0]
    amplitude = float(rng.uniform(0.12, 0.3))
    gains = rng.uniform(1 - amplitude, 1 + amplitude, frames)
    offsets = rng.uniform(-15, 15, (frames, 3))
    out = _u8(edited * gains[:, None, None, None] + offsets[:, None, None, :])
    params = {
        "amplitude": round(amplitude, 4),
        "gains": [round(float(g), 4) for g in gains],
        "offsets": [[round(float(o), 2) for o in row] for row in offsets],
    }
    return out, params


def drift(
    source: np.ndarray, edited: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, dict[str, Any]]:
    """The edit fades back to the source: full strength up to ``start``, ``end_alpha`` at the last frame."""
    frames = edited.shape[0]
    start = int(rng.integers(0, max(1, frames // 3)))
    end_alpha = float(rng.uniform(0.0, 0.25))
    span = max(frames - 1 - start, 1)
    alphas = np.array(
        [1.0 if t <= start else 1.0 - (1.0 - end_alpha) * (t - start) / span for t in range(frames)]
    )
    weights = alphas[:, None, None, None]
    out = _u8(weights * edited + (1 - weights) * source)
    return out, {
        "start_frame": start,
        "end_alpha": round(end_alpha, 4),
        "alphas": [round(float(a), 4) for a in alphas],
    }


def first_frames_only(
    source: np.ndarray, edited: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, dict[str, Any]]:
    """Edited for the first ``k`` frames, then the untouched source."""
    frames = edited.shape[0]
    k = int(rng.integers(1, max(2, frames // 2 + 1)))
    out = np.concatenate([edited[:k], source[k:]])
    return out, {"k": k}


def motion_mismatch(edited: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """The edited clip played backwards, or ``shift`` frames ahead (holding the last frame)."""
    frames = edited.shape[0]
    if rng.random() < 0.5:
        return edited[::-1].copy(), {"mode": "reverse"}
    shift = int(rng.integers(2, max(3, frames // 3 + 1)))
    index = np.minimum(np.arange(frames) + shift, frames - 1)
    return edited[index], {"mode": "shift", "shift": shift}


def blur(edited: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """Gaussian blur of every frame."""
    sigma = float(rng.uniform(1.2, 2.5))
    out = np.stack(
        [cv2.GaussianBlur(frame, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT) for frame in edited]
    )
    return out, {"sigma": round(sigma, 4)}


def blocking(edited: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """Block artefacts: each block replaced by its mean, colours quantised to a few levels."""
    frames, height, width, _ = edited.shape
    sizes = [b for b in (4, 6, 8) if b <= max(4, min(height, width) // 4)]
    block = sizes[int(rng.integers(len(sizes)))]
    levels = int(rng.choice([4, 6, 8]))
    pad_h, pad_w = -height % block, -width % block
    padded = np.pad(edited, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge").astype(np.float64)
    means = padded.reshape(frames, (height + pad_h) // block, block, (width + pad_w) // block, block, 3).mean(
        (2, 4)
    )
    step = 255 / (levels - 1)
    quantised = _u8(np.rint(means / step) * step)
    out = np.repeat(np.repeat(quantised, block, axis=1), block, axis=2)[:, :height, :width]
    return np.ascontiguousarray(out), {"block": block, "levels": levels}


def break_video(
    kind: str, source: np.ndarray, edited: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, dict[str, Any]]:
    """Apply a pixel-level breakage ``kind`` to the good ``edited`` frames; returns frames and parameters."""
    if kind == "flicker":
        return flicker(edited, rng)
    if kind == "drift":
        return drift(source, edited, rng)
    if kind == "first_frames_only":
        return first_frames_only(source, edited, rng)
    if kind == "motion_mismatch":
        return motion_mismatch(edited, rng)
    if kind == "blur":
        return blur(edited, rng)
    if kind == "blocking":
        return blocking(edited, rng)
    if kind == "wrong_attribute":
        raise ValueError("wrong_attribute needs the scene: use insvie.synth.edits.misapply")
    raise ValueError(f"unknown broken kind {kind!r}; choose from {', '.join(BROKEN_KINDS)}")
