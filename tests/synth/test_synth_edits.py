"""SynthEdit ground truth: masks equal the changed pixels, instructions name what is rendered."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from insvie.errors import ConfigError
from insvie.synth import CATEGORIES, GLOBAL_CATEGORIES, LOCAL_CATEGORIES, generate_sample, render
from insvie.synth.colours import OBJECT_COLOURS
from insvie.synth.edits import PHRASINGS

SIZE = (48, 64)
FRAMES = 9
SEEDS = range(14)  # includes every camera kind


def _samples(category: str):
    return [generate_sample(seed, size=SIZE, num_frames=FRAMES, category=category) for seed in SEEDS]


def _dominant(pixels: np.ndarray) -> tuple[int, ...]:
    values, counts = np.unique(pixels.reshape(-1, 3), axis=0, return_counts=True)
    return tuple(int(v) for v in values[counts.argmax()])


@pytest.fixture(scope="module")
def by_category():
    return {category: _samples(category) for category in CATEGORIES}


def test_every_category_is_reachable_and_records_say_which(by_category):
    for category, samples in by_category.items():
        for sample in samples:
            assert sample.record["category"] == category
            assert sample.record["local"] == (category in LOCAL_CATEGORIES)
            assert sample.edit.scene.camera == sample.scene.camera  # same camera path
            assert sample.source.shape == (FRAMES, *SIZE, 3) == sample.edited.shape
            assert sample.mask.shape == (FRAMES, *SIZE) and sample.mask.dtype == bool


@pytest.mark.parametrize("category", LOCAL_CATEGORIES)
def test_local_mask_is_exactly_the_changed_pixels(by_category, category):
    for sample in by_category[category]:
        changed = (sample.source != sample.edited).any(axis=-1)
        assert np.array_equal(sample.mask, changed)
        assert sample.mask.any(axis=(1, 2)).all()  # the edit shows in every frame
        assert np.array_equal(sample.source[~sample.mask], sample.edited[~sample.mask])


@pytest.mark.parametrize("category", GLOBAL_CATEGORIES)
def test_global_mask_is_everything(by_category, category):
    for sample in by_category[category]:
        assert sample.mask.all()
        assert (sample.source != sample.edited).any(axis=-1).any(axis=(1, 2)).all()
        assert sample.edit.scene.objects == sample.scene.objects


def test_cameras_vary_across_ground_truth_samples(by_category):
    kinds = {sample.scene.camera.kind for samples in by_category.values() for sample in samples}
    assert kinds == {"static", "pan", "zoom", "rotate"}


def test_targets_are_unique_and_named_in_the_instruction(by_category):
    for category in ("recolor", "remove"):
        for sample in by_category[category]:
            params = sample.record["edit"]
            names = [obj.name for obj in sample.scene.objects]
            assert names.count(params["target"]) == 1
            assert names[params["object"]] == params["target"]
            assert params["target"] in sample.record["instruction"].lower()
    for sample in by_category["add"]:
        target = sample.record["edit"]["target"]
        assert target not in [obj.name for obj in sample.scene.objects]
        assert target in sample.record["instruction"].lower()


def test_recolor_names_the_rendered_colours_and_shape(by_category):
    for sample in by_category["recolor"]:
        params = sample.record["edit"]
        index = params["object"]
        visible = sample.source_labels == index
        assert np.array_equal(visible, sample.mask)  # every visible pixel of it, and nothing else
        assert _dominant(sample.source[visible]) == OBJECT_COLOURS[params["from_colour"]]
        assert _dominant(sample.edited[visible]) == OBJECT_COLOURS[params["to_colour"]]
        assert sample.scene.objects[index].shape == params["shape"]
        assert params["to_colour"] in sample.record["instruction"]
        assert params["to_colour"] in sample.record["target_caption"]


def test_remove_changes_only_the_named_object(by_category):
    for sample in by_category["remove"]:
        index = sample.record["edit"]["object"]
        visible = sample.source_labels == index
        assert not sample.mask[~visible].any()
        assert sample.mask.sum() >= 0.9 * visible.sum()
        assert _dominant(sample.source[sample.mask]) == OBJECT_COLOURS[sample.record["edit"]["colour"]]
        assert len(sample.edit.scene.objects) == len(sample.scene.objects) - 1


def test_add_changes_only_the_added_object(by_category):
    for sample in by_category["add"]:
        params = sample.record["edit"]
        labels = render(sample.edit.scene).labels
        added = labels == params["object"]
        assert not sample.mask[~added].any()
        assert _dominant(sample.edited[sample.mask]) == OBJECT_COLOURS[params["colour"]]
        assert sample.edit.scene.objects[params["object"]].shape == params["shape"]


def test_background_changes_only_the_background(by_category):
    for sample in by_category["background"]:
        background = sample.source_labels == -1
        assert not sample.mask[~background].any()
        assert sample.mask.sum() >= 0.5 * background.sum()
        params = sample.record["edit"]
        assert params["from"] != params["to"]
        assert params["to_description"] in sample.record["instruction"]
        assert params["to_description"] in sample.record["target_caption"]


def test_captions_describe_source_and_target(by_category):
    for samples in by_category.values():
        for sample in samples:
            record = sample.record
            assert record["source_caption"] != record["target_caption"]
            for obj in sample.scene.objects:
                assert f"{obj.colour} {obj.shape}" in record["source_caption"]
    assert all("black and white" in s.record["target_caption"] for s in by_category["grayscale"])
    assert all("sepia" in s.record["target_caption"] for s in by_category["sepia"])


def test_instructions_use_several_phrasings():
    for category in CATEGORIES:
        phrasings = {
            generate_sample(s, size=(24, 32), num_frames=2, category=category).record["instruction"]
            for s in range(12)
        }
        assert len(phrasings) >= 3, category
    assert all(len(options) >= 4 for options in PHRASINGS.values())


def test_unforced_categories_are_mixed():
    counts = Counter(generate_sample(s, size=(24, 32), num_frames=3).record["category"] for s in range(60))
    assert set(counts) == set(CATEGORIES)


def test_bad_arguments_are_config_errors():
    with pytest.raises(ConfigError, match="category"):
        generate_sample(0, category="explode")
    with pytest.raises(ConfigError, match="broken"):
        generate_sample(0, broken="melted")
    with pytest.raises(ConfigError, match="seed"):
        generate_sample(-1)
