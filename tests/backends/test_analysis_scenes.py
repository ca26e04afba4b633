"""Procedural clips with known motion and edits, shared by the analysis tests (and checked here).

Each builder returns uint8 RGB: a frame HxWx3 or a clip TxHxWx3. Textures are multi-scale coloured
noise, so optical flow has structure at every scale; motion comes from moving a crop window over a
larger texture (no wrap-around seams), with integer steps so the true flow is exact.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

H, W = 120, 180  # small test frames (3:2 like 720x480)


def texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Multi-scale smooth coloured noise stretched to the full 0-255 range."""
    rng = np.random.default_rng(seed)
    out = np.zeros((height, width, 3), np.float32)
    for sigma in (1.5, 4.0, 10.0):
        noise = rng.standard_normal((height, width, 3)).astype(np.float32)
        out += cv2.GaussianBlur(noise, (0, 0), sigma) * sigma
    out -= out.min()
    out *= 255.0 / max(float(out.max()), 1e-6)
    return out.astype(np.uint8)


def pan(positions: Sequence[tuple[int, int]], *, size: tuple[int, int] = (H, W), seed: int = 0) -> np.ndarray:
    """Frames whose content sits displaced by ``positions[t]`` = (dx, dy) pixels: the flow from
    frame t to t+1 is exactly ``positions[t+1] - positions[t]`` everywhere (away from the borders)."""
    height, width = size
    margin = max(max(abs(x), abs(y)) for x, y in positions) + 1
    big = texture(height + 2 * margin, width + 2 * margin, seed)
    return np.stack(
        [big[margin - y : margin - y + height, margin - x : margin - x + width] for x, y in positions]
    )


def steps_to_positions(steps: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Cumulative positions (starting at 0, 0) from per-frame steps."""
    positions = [(0, 0)]
    for dx, dy in steps:
        x, y = positions[-1]
        positions.append((x + dx, y + dy))
    return positions


def wobble_steps(frames: int, *, amplitude: int = 4, seed: int = 1) -> list[tuple[int, int]]:
    """Irregular per-frame steps (motion that changes every frame, so a time shift is detectable)."""
    rng = np.random.default_rng(seed)
    return [(int(a), int(b)) for a, b in rng.integers(-amplitude, amplitude + 1, size=(frames - 1, 2))]


def moving_square(
    positions: Sequence[tuple[int, int]],
    *,
    size: tuple[int, int] = (H, W),
    side: int = 40,
    seed: int = 0,
    colour_shift: tuple[int, int, int] | None = None,
) -> np.ndarray:
    """A textured square moving over a still textured background; ``colour_shift`` tints the square."""
    height, width = size
    background = texture(height, width, seed)
    patch = texture(side, side, seed + 100).astype(np.int16)
    if colour_shift is not None:
        patch = patch + np.array(colour_shift, np.int16)
    patch = np.clip(patch, 0, 255).astype(np.uint8)
    frames = []
    for x, y in positions:
        frame = background.copy()
        top, left = height // 2 - side // 2 + y, width // 2 - side // 2 + x
        frame[top : top + side, left : left + side] = patch
        frames.append(frame)
    return np.stack(frames)


def tint(frames: np.ndarray, shift: tuple[int, int, int]) -> np.ndarray:
    """A global colour edit: add ``shift`` to the RGB channels, clipped."""
    return np.clip(frames.astype(np.int16) + np.array(shift, np.int16), 0, 255).astype(np.uint8)


def blocky(frame: np.ndarray, block: int = 8) -> np.ndarray:
    """Crude block quantisation: every block replaced by its mean plus half its own detail."""
    height, width = frame.shape[:2]
    means = cv2.resize(frame, (width // block, height // block), interpolation=cv2.INTER_AREA)
    flat = cv2.resize(means, (width, height), interpolation=cv2.INTER_NEAREST).astype(np.float32)
    detail = frame.astype(np.float32) - cv2.GaussianBlur(frame, (0, 0), 2).astype(np.float32)
    return np.clip(flat + 0.5 * detail, 0, 255).astype(np.uint8)


def jpeg(frame: np.ndarray, quality: int) -> np.ndarray:
    """The frame through a JPEG round trip at ``quality``."""
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(data, cv2.IMREAD_UNCHANGED)


# -- the builders themselves -------------------------------------------------------------------


def test_pan_moves_content_by_the_given_positions() -> None:
    clip = pan([(0, 0), (3, -2)])
    assert clip.shape == (2, H, W, 3)
    assert clip.dtype == np.uint8
    # content displaced by (dx, dy) = (3, -2): clip[1][y, x] == clip[0][y + 2, x - 3]
    np.testing.assert_array_equal(clip[1][10 : H - 10, 10 : W - 10], clip[0][12 : H - 8, 7 : W - 13])


def test_steps_accumulate_from_the_origin() -> None:
    assert steps_to_positions([(1, 0), (2, -1)]) == [(0, 0), (1, 0), (3, -1)]


def test_moving_square_and_tint_change_only_what_they_should() -> None:
    plain = moving_square([(0, 0)])
    tinted = moving_square([(0, 0)], colour_shift=(40, 0, 0))
    changed = np.any(plain != tinted, axis=-1)[0]
    assert 0 < changed.sum() <= 40 * 40
    assert tint(plain, (10, 0, 0))[..., 0].astype(int).mean() > plain[..., 0].mean()
