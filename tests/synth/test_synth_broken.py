"""Deliberately broken SynthEdit samples: each kind breaks the good edit in its own, labelled way."""

from __future__ import annotations

import numpy as np
import pytest

from insvie.synth import BROKEN_KINDS, choose_broken, generate_sample
from insvie.synth.colours import OBJECT_COLOURS

SIZE = (48, 64)
FRAMES = 9


def _pair(seed: int, kind: str, category: str | None = None):
    good = generate_sample(seed, size=SIZE, num_frames=FRAMES, category=category)
    bad = generate_sample(seed, size=SIZE, num_frames=FRAMES, category=category, broken=kind)
    return good, bad


@pytest.mark.parametrize("kind", BROKEN_KINDS)
def test_broken_keeps_scene_edit_and_mask_and_is_labelled(kind):
    good, bad = _pair(5, kind)
    assert np.array_equal(good.source, bad.source)
    assert np.array_equal(good.mask, bad.mask)
    assert np.array_equal(good.edited, bad.clean_edited)
    assert not np.array_equal(good.edited, bad.edited)
    assert bad.edited.shape == good.edited.shape and bad.edited.dtype == np.uint8
    assert good.record["broken"] is None and good.record["broken_params"] is None
    assert bad.record["broken"] == kind and isinstance(bad.record["broken_params"], dict)
    for key in ("instruction", "category", "source_caption", "target_caption", "edit"):
        assert bad.record[key] == good.record[key]


def test_flicker_jitters_brightness_per_frame():
    good, bad = _pair(1, "flicker")
    ratio = bad.edited.reshape(FRAMES, -1).mean(1) / good.edited.reshape(FRAMES, -1).mean(1)
    assert ratio.std() > 0.03
    assert len(bad.record["broken_params"]["gains"]) == FRAMES


def test_drift_fades_back_to_the_source():
    good, bad = _pair(2, "drift", category="recolor")
    assert np.array_equal(bad.edited[0], good.edited[0])
    mask = good.mask[-1]
    to_source = np.abs(bad.edited[-1][mask].astype(int) - good.source[-1][mask]).mean()
    good_to_source = np.abs(good.edited[-1][mask].astype(int) - good.source[-1][mask]).mean()
    assert to_source < 0.3 * good_to_source
    alphas = np.array(bad.record["broken_params"]["alphas"])
    assert alphas[0] == 1 and (np.diff(alphas) <= 0).all() and alphas[-1] <= 0.25
    weights = alphas[:, None, None, None]
    blend = weights * good.edited + (1 - weights) * good.source
    assert np.abs(bad.edited - blend).max() <= 0.51


@pytest.mark.parametrize("category", ["remove", "sepia"])
def test_first_frames_only_matches_source_after_k(category):
    good, bad = _pair(3, "first_frames_only", category=category)
    k = bad.record["broken_params"]["k"]
    assert 1 <= k < FRAMES
    assert np.array_equal(bad.edited[:k], good.edited[:k])
    assert np.array_equal(bad.edited[k:], good.source[k:])
    assert not np.array_equal(good.edited[k:], good.source[k:])


def test_motion_mismatch_reverses_or_shifts_the_edited_clip():
    modes = set()
    for seed in range(12):
        good, bad = _pair(seed, "motion_mismatch")
        params = bad.record["broken_params"]
        modes.add(params["mode"])
        if params["mode"] == "reverse":
            assert np.array_equal(bad.edited, good.edited[::-1])
        else:
            shift = params["shift"]
            assert shift >= 2
            assert np.array_equal(bad.edited[: FRAMES - shift], good.edited[shift:])
            assert all(np.array_equal(frame, good.edited[-1]) for frame in bad.edited[FRAMES - shift :])
        if modes == {"reverse", "shift"}:
            break
    assert modes == {"reverse", "shift"}


def test_wrong_attribute_recolors_to_another_colour():
    good, bad = _pair(4, "wrong_attribute", category="recolor")
    params = bad.record["broken_params"]
    assert params["instructed"] == good.record["edit"]["to_colour"]
    assert params["rendered"] not in (params["instructed"], good.record["edit"]["from_colour"])
    visible = good.source_labels == good.record["edit"]["object"]
    values, counts = np.unique(bad.edited[visible], axis=0, return_counts=True)
    assert tuple(values[counts.argmax()]) == OBJECT_COLOURS[params["rendered"]]
    assert np.array_equal(bad.edited[~good.mask], good.edited[~good.mask])


@pytest.mark.parametrize("category", ["remove", "add", "background", "grayscale"])
def test_wrong_attribute_for_other_categories(category):
    good, bad = _pair(6, "wrong_attribute", category=category)
    params = bad.record["broken_params"]
    assert params["instructed"] != params["rendered"]
    assert not np.array_equal(bad.edited, good.edited)


def test_blur_removes_detail():
    good, bad = _pair(7, "blur")

    def detail(frames: np.ndarray) -> float:
        return float(np.abs(np.diff(frames.astype(int), axis=2)).mean())

    assert detail(bad.edited) < 0.7 * detail(good.edited)
    assert bad.record["broken_params"]["sigma"] > 1


def test_blocking_is_blocky_and_quantised():
    _, bad = _pair(8, "blocking")
    block, levels = bad.record["broken_params"]["block"], bad.record["broken_params"]["levels"]
    height, width = SIZE
    for y in range(0, height, block):
        for x in range(0, width, block):
            tile = bad.edited[:, y : y + block, x : x + block]
            assert (tile == tile[:, :1, :1]).all()
    allowed = np.rint(np.arange(levels) * 255 / (levels - 1))
    assert np.isin(bad.edited, allowed).all()


def test_choose_broken_is_deterministic_nested_and_covers_every_kind():
    assert all(choose_broken(s, 0.0) is None for s in range(50))
    assert all(choose_broken(s, 1.0) in BROKEN_KINDS for s in range(50))
    for s in range(200):
        low = choose_broken(s, 0.3)
        assert low == choose_broken(s, 0.3)
        if low is not None:
            assert choose_broken(s, 0.6) == low
    share = np.mean([choose_broken(s, 0.5) is not None for s in range(400)])
    assert 0.4 < share < 0.6
    assert {choose_broken(s, 1.0) for s in range(200)} == set(BROKEN_KINDS)
