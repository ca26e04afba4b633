"""Optical flow, warping and occlusion on clips whose true motion is known exactly."""

from __future__ import annotations

import pickle
import threading

import numpy as np
import pytest
from test_analysis_scenes import H, W, moving_square, pan

from insvie.backends.analysis import flow as flow_module
from insvie.backends.analysis.flow import VideoFlows, optical_flow, resize_flow, video_flows
from insvie.backends.analysis.warp import backward_warp, leaves_frame, occlusion_mask
from insvie.backends.analysis.working import fit_size, frame_pairs, shrink


def interior(field: np.ndarray, margin: int = 12) -> np.ndarray:
    return field[margin:-margin, margin:-margin]


@pytest.mark.parametrize("shift", [(3, 0), (-5, 2), (7, -6), (1, 1)])
@pytest.mark.parametrize("preset", ["ultrafast", "fast"])
def test_flow_recovers_a_known_translation_within_half_a_pixel(shift: tuple[int, int], preset: str) -> None:
    clip = pan([(0, 0), shift], size=(240, 360))
    flow = optical_flow(clip[0], clip[1], max_side=None, preset=preset)  # type: ignore[arg-type]
    assert flow.shape == (240, 360, 2)
    assert flow.dtype == np.float32
    median = np.median(interior(flow).reshape(-1, 2), axis=0)
    assert np.abs(median - shift).max() < 0.5
    assert np.abs(interior(flow) - shift).mean() < 0.5


def test_working_resolution_flow_scales_back_to_full_resolution() -> None:
    shift = (8, -4)
    clip = pan([(0, 0), shift], size=(240, 360))
    small = optical_flow(clip[0], clip[1], max_side=180)
    assert small.shape == (120, 180, 2)
    np.testing.assert_allclose(
        np.median(interior(small, 6).reshape(-1, 2), axis=0), np.array(shift) / 2, atol=0.3
    )
    full = resize_flow(small, (240, 360))
    assert full.shape == (240, 360, 2)
    assert np.abs(np.median(interior(full).reshape(-1, 2), axis=0) - shift).max() < 0.5


def test_backward_warp_of_the_next_frame_by_the_flow_predicts_the_previous_one() -> None:
    clip = pan([(0, 0), (4, 3)])
    flow = optical_flow(clip[0], clip[1], max_side=None)
    predicted = backward_warp(clip[1], flow)
    error = np.abs(interior(predicted).astype(float) - interior(clip[0]).astype(float)).mean()
    unwarped = np.abs(interior(clip[1]).astype(float) - interior(clip[0]).astype(float)).mean()
    assert error < 3.0
    assert error < unwarped / 5


def test_backward_warp_by_an_exact_integer_flow_is_a_shift() -> None:
    image = np.arange(20 * 30, dtype=np.float32).reshape(20, 30)
    flow = np.zeros((20, 30, 2), np.float32)
    flow[..., 0] = 2  # sample two columns to the right
    warped = backward_warp(image, flow)
    np.testing.assert_array_equal(warped[:, :-2], image[:, 2:])
    with pytest.raises(ValueError, match="differ in size"):
        backward_warp(image[:10], flow)


def test_occlusion_mask_flags_what_a_moving_object_uncovers() -> None:
    clip = moving_square([(0, 0), (10, 0)], size=(120, 180), side=40)
    fw = optical_flow(clip[0], clip[1], max_side=None, preset="medium")
    bw = optical_flow(clip[1], clip[0], max_side=None, preset="medium")
    occluded = occlusion_mask(fw, bw, tol=1.0)
    assert occluded.shape == (120, 180)
    # The square spans rows 40-80, columns 70-110 in frame 0 and moves 10 px right: frame 0's
    # background at columns 110-120 is covered in frame 1; the square itself stays visible.
    assert occluded[45:75, 111:119].mean() > 0.5
    assert occluded[45:75, 75:105].mean() < 0.2
    assert occluded[5:30, 20:160].mean() < 0.05


def test_consistent_flows_give_no_occlusion_and_exits_are_flagged() -> None:
    fw = np.zeros((30, 40, 2), np.float32)
    fw[..., 0] = 3.0
    bw = -fw
    mask = occlusion_mask(fw, bw)
    # Only the last three columns leave the frame.
    assert not mask[:, :37].any()
    assert mask[:, 37:].all()
    np.testing.assert_array_equal(mask, leaves_frame(fw))
    assert occlusion_mask(fw, fw)[:, :30].all()  # same direction both ways: inconsistent


def test_video_flows_samples_pairs_and_records_working_size() -> None:
    clip = pan([(i, 0) for i in range(10)])
    flows = video_flows(clip, pairs=4, max_side=90, backward=True)
    assert flows.pairs == ((0, 1), (3, 4), (5, 6), (8, 9))
    assert flows.size == fit_size(H, W, 90) == (60, 90)
    assert len(flows.forward) == len(flows.backward or ()) == 4
    assert flows.diagonal == pytest.approx(np.hypot(60, 90))
    for fw, bw in zip(flows.forward, flows.backward or (), strict=True):
        assert np.median(fw[..., 0]) == pytest.approx(0.5, abs=0.2)  # 1 px at full size
        assert np.median(bw[..., 0]) == pytest.approx(-0.5, abs=0.2)
    flows.check_matches(clip)
    with pytest.raises(ValueError, match="computed on 10 frames"):
        flows.check_matches(clip[:5])
    assert pickle.loads(pickle.dumps(flows)).pairs == flows.pairs


def test_video_flows_takes_an_explicit_pair_list_and_refuses_bad_pairs() -> None:
    clip = pan([(i, 0) for i in range(5)])
    flows = video_flows(clip, pair_list=[(0, 4)], max_side=None)
    assert np.median(flows.forward[0][..., 0]) == pytest.approx(4, abs=0.5)
    with pytest.raises(ValueError, match="outside"):
        video_flows(clip, pair_list=[(0, 5)])
    with pytest.raises(ValueError, match="uint8"):
        video_flows(clip.astype(np.float32))
    with pytest.raises(ValueError, match="uint8"):
        optical_flow(clip[0].astype(np.float32), clip[1].astype(np.float32))
    with pytest.raises(ValueError, match="differ in shape"):
        optical_flow(clip[0], clip[1][:-2])
    assert video_flows(clip[:1]).pairs == ()


def test_each_thread_gets_its_own_dis_instance() -> None:
    instances: list[object] = []

    def grab() -> None:
        instances.append(flow_module._dis("fast"))
        instances.append(flow_module._dis("fast"))

    threads = [threading.Thread(target=grab) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert instances[0] is instances[1]
    assert instances[2] is instances[3]
    assert instances[0] is not instances[2]
    with pytest.raises(ValueError, match="unknown DIS preset"):
        flow_module._dis("slowest")


def test_shrink_halves_then_fits_exactly_and_leaves_small_frames_alone() -> None:
    frame = np.zeros((480, 720, 3), np.uint8)
    assert shrink(frame, 320).shape == (213, 320, 3)
    assert shrink(frame, 256).shape == (171, 256, 3)
    assert shrink(frame, 360).shape == (240, 360, 3)
    assert shrink(frame, 1000) is frame
    assert shrink(frame, None) is frame
    assert shrink(frame[..., 0], 90).shape == (60, 90)
    assert frame_pairs(3, None) == [(0, 1), (1, 2)]
    assert frame_pairs(10, 2, gap=3) == [(0, 3), (6, 9)]
    assert frame_pairs(1, 8) == []


def test_video_flows_is_a_frozen_record() -> None:
    flows = VideoFlows(((0, 1),), (np.zeros((2, 2, 2), np.float32),), None, (2, 2), 2)
    with pytest.raises(AttributeError):
        flows.size = (3, 3)  # type: ignore[misc]
