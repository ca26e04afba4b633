"""Long videos: window spans, seam re-injection, cross-fading and the seam consistency metric."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from insvie.editor.windows import long_video_spans, seam_consistency


def test_spans_cover_every_frame_with_the_requested_overlap() -> None:
    assert long_video_spans(17, 9, 5) == [(0, 9), (4, 13), (8, 17)]
    assert long_video_spans(49, 49, 9) == [(0, 49)]
    # A tail that the stride does not reach gets a last window flush with the end.
    assert long_video_spans(20, 9, 5) == [(0, 9), (4, 13), (8, 17), (11, 20)]
    # Shorter than a window: the largest window it holds that decodes whole (8m+1), twice if frames are
    # left over; 5 frames would be 2 latent frames, whose last the official decode drops.
    assert long_video_spans(13, 49, 9) == [(0, 9), (4, 13)]
    assert long_video_spans(7, 49, 9) == [(i, i + 1) for i in range(7)]
    assert long_video_spans(100, 49, 9) == [(0, 49), (40, 89), (51, 100)]
    for frames in range(1, 60):
        spans = long_video_spans(frames, 9, 5)
        assert spans[0][0] == 0 and spans[-1][1] == frames
        assert all((end - start - 1) % 8 == 0 for start, end in spans)
        pairs = list(itertools.pairwise(spans))
        assert all(b[0] <= a[1] for a, b in pairs)  # no gaps
        if frames >= 9:  # windows of 1 frame cannot overlap
            assert all(b[0] < a[1] for a, b in pairs)
    with pytest.raises(ValueError, match="4k\\+1"):
        long_video_spans(20, 8, 2)
    with pytest.raises(ValueError, match="an even count"):
        long_video_spans(20, 13, 5)


def test_seam_consistency_flags_a_jump_and_passes_smooth_motion() -> None:
    ramp = np.linspace(0, 200, 20).reshape(20, 1, 1, 1) * np.ones((20, 4, 4, 3))
    smooth = ramp.astype(np.uint8)
    report = seam_consistency(smooth, [10])
    assert report.ratios[0] == pytest.approx(1.0, abs=0.15)
    jumped = smooth.copy()
    jumped[10:] = np.clip(jumped[10:].astype(int) + 60, 0, 255).astype(np.uint8)
    bad = seam_consistency(jumped, [10])
    assert bad.ratios[0] > 5 and bad.max_ratio == bad.ratios[0]
    assert bad.seam_diffs[0] == pytest.approx(float(np.abs(jumped[10].astype(int) - jumped[9]).mean()))
    metrics = bad.as_metrics()
    assert metrics["seam_count"] == 1.0 and metrics["seam_ratio_max"] > 5
    still = np.zeros((5, 2, 2, 3), np.uint8)
    assert seam_consistency(still, [2]).ratios == (1.0,)
    with pytest.raises(ValueError, match="seams must lie"):
        seam_consistency(smooth, [0])


torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def pipe():
    from insvie.tiny import build_tiny_editor

    return build_tiny_editor()


def _video(frames: int) -> np.ndarray:
    t = np.arange(frames).reshape(frames, 1, 1, 1)
    y, x = np.mgrid[0:36, 0:52]
    out = np.stack([(x * 5 + t * 6) % 256, (y * 7 + 0 * t) % 256, (x + y + t * 3) % 256], axis=-1)
    return out.reshape(frames, 36, 52, 3).astype(np.uint8)


def test_prefix_latents_are_kept_exactly(pipe) -> None:
    g = torch.Generator().manual_seed(0)
    prefix = torch.randn(2, 16, 4, 6, generator=g)
    out = pipe(
        _video(9),
        "add snow",
        num_inference_steps=3,
        prefix_latents=prefix,
        output_type="latent",
        generator=torch.Generator().manual_seed(0),
    ).frames
    torch.testing.assert_close(out[0, :2], prefix)
    free = pipe(
        _video(9),
        "add snow",
        num_inference_steps=3,
        output_type="latent",
        generator=torch.Generator().manual_seed(0),
    )
    assert not torch.allclose(out[0, 2:], free.frames[0, 2:])  # the rest follows the pinned start


def test_long_video_is_edited_window_by_window(pipe) -> None:
    video = _video(20)
    kwargs = {"num_inference_steps": 2, "window": 9, "overlap": 5}
    from insvie.editor.windows import edit_long_video

    result = edit_long_video(pipe, video, "add snow", generator=torch.Generator().manual_seed(0), **kwargs)
    assert result.frames.shape == (20, 32, 48, 3) and result.frames.dtype == np.uint8
    assert result.spans == [(0, 9), (4, 13), (8, 17), (11, 20)]
    # Cross-faded: each overlap's first frame and the frame past it are seams.
    assert result.seams == [4, 8, 9, 11, 13, 17]
    assert result.report is not None and len(result.report.ratios) == 6
    assert all(np.isfinite(result.report.ratios))
    again = edit_long_video(pipe, video, "add snow", generator=torch.Generator().manual_seed(0), **kwargs)
    np.testing.assert_array_equal(again.frames, result.frames)

    plain = edit_long_video(
        pipe,
        video,
        "add snow",
        condition_seams=False,
        crossfade=False,
        generator=torch.Generator().manual_seed(0),
        **kwargs,
    )
    assert plain.seams == [4, 8, 11]
    assert plain.frames.shape == result.frames.shape

    short = edit_long_video(pipe, _video(9), "add snow", num_inference_steps=2)
    assert short.spans == [(0, 9)] and short.seams == [] and short.frames.shape[0] == 9
