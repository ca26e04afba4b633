"""One SynthEdit sample in memory: source video, edited video, ground-truth mask and its record.

Randomness is split by purpose (scene, edit, breakage, the broken-or-not draw) into independent
streams of one seed, so forcing a broken kind or a broken fraction never changes which scene and
which edit a seed gives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from insvie.errors import ConfigError, InsvieError
from insvie.synth.broken import BROKEN_KINDS, break_video
from insvie.synth.edits import CATEGORIES, Edit, make_edit, misapply
from insvie.synth.generate import random_scene
from insvie.synth.render import Rendered, render
from insvie.synth.scene import Scene

GENERATOR = "synthedit-1"  # bump when the same seed would render differently
_SCENE, _EDIT, _BREAK, _DRAW = range(4)
_SCENE_TRIES = 12
_EDIT_TRIES = 4
MIN_SIDE = 8


@dataclass(frozen=True)
class SynthSample:
    """``source``/``edited`` (T, H, W, 3) uint8, ``mask`` (T, H, W) bool, ``record`` JSON-ready.

    ``clean_edited`` is the correct edit; it equals ``edited`` unless the sample is broken. ``mask``
    always describes the correct edit (what the instruction asks to change).
    """

    source: np.ndarray
    edited: np.ndarray
    mask: np.ndarray
    record: dict[str, Any]
    scene: Scene
    edited_scene: Scene
    edit: Edit
    clean_edited: np.ndarray
    source_labels: np.ndarray


def _rng(seed: int, purpose: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(purpose,)))


def _check_seed(seed: int) -> None:
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")


def sample_seed(seed: int, index: int) -> int:
    """The seed of sample ``index`` of a dataset with base ``seed``: independent of the dataset size.
    53 bits, so it survives JSON readers that use doubles."""
    _check_seed(seed)
    _check_seed(index)
    state = np.random.SeedSequence([int(seed), int(index)]).generate_state(1, np.uint64)[0]
    return int(state) >> 11


def choose_broken(seed: int, fraction: float) -> str | None:
    """Which broken kind (or None) sample ``seed`` gets at ``fraction``; a sample broken at some
    fraction stays broken, with the same kind, at any higher fraction."""
    if not 0.0 <= fraction <= 1.0:
        raise ConfigError(f"broken fraction must be within [0, 1], got {fraction}")
    rng = _rng(seed, _DRAW)
    draw, kind = rng.random(), BROKEN_KINDS[int(rng.integers(len(BROKEN_KINDS)))]
    return kind if draw < fraction else None


def changed_pixels(source: np.ndarray, edited: np.ndarray) -> np.ndarray:
    """(T, H, W) bool: pixels where any channel differs."""
    return (source != edited).any(axis=-1)


def _visible_counts(rendered: Rendered, count: int) -> np.ndarray:
    labels = rendered.labels
    return (
        np.stack([(labels == i).sum(axis=(1, 2)) for i in range(count)], axis=1)
        if count
        else np.zeros((labels.shape[0], 0), dtype=np.int64)
    )


def _draw(
    seed: int, size: tuple[int, int], num_frames: int, category: str | None
) -> tuple[Scene, Rendered, Edit, Rendered, np.ndarray]:
    """A scene and an edit whose change shows in every frame (best effort: the first visible one)."""
    scene_rng, edit_rng = _rng(seed, _SCENE), _rng(seed, _EDIT)
    fallback = None
    for _ in range(_SCENE_TRIES):
        scene = random_scene(scene_rng, size, num_frames)
        source = render(scene)
        visible = _visible_counts(source, len(scene.objects))
        for _ in range(_EDIT_TRIES):
            edit = make_edit(scene, edit_rng, category=category, visible=visible)
            if edit is None:
                break
            edited = render(edit.scene)
            changed = changed_pixels(source.frames, edited.frames)
            # A global look marks every pixel (a grey pixel stays grey, yet the instruction covers it).
            mask = changed if edit.is_local else np.ones(changed.shape, dtype=bool)
            found = (scene, source, edit, edited, mask)
            if changed.any(axis=(1, 2)).all():
                return found
            if fallback is None and changed.any():
                fallback = found
    if fallback is None:
        raise InsvieError(f"synth seed {seed}: no visible {category or 'edit'} found at size {size}")
    return fallback


def generate_sample(
    seed: int,
    *,
    size: tuple[int, int] = (240, 360),
    num_frames: int = 17,
    category: str | None = None,
    broken: str | None = None,
) -> SynthSample:
    """Render sample ``seed``: a random scene, an edit (of ``category`` if given, else drawn) and,
    if ``broken`` names a kind from BROKEN_KINDS, the edited video broken that way."""
    _check_seed(seed)
    height, width = (int(side) for side in size)
    if min(height, width) < MIN_SIDE:
        raise ConfigError(f"size must be at least {MIN_SIDE}x{MIN_SIDE}, got {height}x{width}")
    if num_frames < 1:
        raise ConfigError(f"num_frames must be at least 1, got {num_frames}")
    if category is not None and category not in CATEGORIES:
        raise ConfigError(f"unknown edit category {category!r}; choose from {', '.join(CATEGORIES)}")
    if broken is not None and broken not in BROKEN_KINDS:
        raise ConfigError(f"unknown broken kind {broken!r}; choose from {', '.join(BROKEN_KINDS)}")

    scene, source, edit, clean, mask = _draw(seed, (height, width), int(num_frames), category)
    edited, edited_scene, broken_params = clean.frames, edit.scene, None
    if broken == "wrong_attribute":
        edited_scene, broken_params = misapply(edit, scene, _rng(seed, _BREAK))
        edited = render(edited_scene).frames
    elif broken is not None:
        edited, broken_params = break_video(broken, source.frames, clean.frames, _rng(seed, _BREAK))

    record: dict[str, Any] = {
        "seed": int(seed),
        "generator": GENERATOR,
        "instruction": edit.instruction,
        "category": edit.category,
        "local": edit.is_local,
        "source_caption": edit.source_caption,
        "target_caption": edit.target_caption,
        "edit": edit.params,
        "broken": broken,
        "broken_params": broken_params,
        "size": [height, width],
        "num_frames": int(num_frames),
        "changed_fraction": round(float(mask.mean()), 6),
        "scene": scene.to_dict(),
        "edited_scene": edit.scene.to_dict(),
    }
    record = json.loads(json.dumps(record))  # tuples to lists: equal to what a JSONL reader gets back
    return SynthSample(
        source=source.frames,
        edited=edited,
        mask=mask,
        record=record,
        scene=scene,
        edited_scene=edited_scene,
        edit=edit,
        clean_edited=clean.frames,
        source_labels=source.labels,
    )
