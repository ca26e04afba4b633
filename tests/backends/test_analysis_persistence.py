"""Edit persistence: ~1 when the first frame's edit lasts, ~0 when it fades or changes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_analysis_scenes import moving_square, pan, steps_to_positions, tint, wobble_steps

from insvie.backends.analysis.persistence import edit_persistence

SOURCE = pan(steps_to_positions(wobble_steps(25, amplitude=3)), size=(120, 180))
GRADE = (30, -10, -25)


def fading(frames: np.ndarray, shift: tuple[int, int, int]) -> np.ndarray:
    """The edit at full strength on frame 0, fading linearly to nothing on the last frame."""
    last = len(frames) - 1
    return np.stack(
        [tint(f, tuple(round(c * (1 - t / last)) for c in shift)) for t, f in enumerate(frames)]  # type: ignore[arg-type]
    )


def test_a_constant_global_edit_persists() -> None:
    result = edit_persistence(SOURCE, tint(SOURCE, GRADE))
    assert result.persistence > 0.95
    assert result.head_strength > 10
    assert result.agreement > 0.95
    json.dumps(result.as_dict())


def test_an_edit_only_in_the_first_frames_does_not() -> None:
    edited = SOURCE.copy()
    edited[:5] = tint(SOURCE[:5], GRADE)
    result = edit_persistence(SOURCE, edited)
    assert result.persistence < 0.05
    assert result.tail_strength == pytest.approx(0.0, abs=0.5)


def test_a_fading_edit_scores_low() -> None:
    result = edit_persistence(SOURCE, fading(SOURCE, GRADE))
    assert result.persistence < 0.2
    assert result.strength_ratio < 0.2


def test_an_edit_that_turns_into_another_edit_scores_low() -> None:
    edited = np.concatenate([tint(SOURCE[:12], GRADE), tint(SOURCE[12:], (-25, -10, 30))])
    result = edit_persistence(SOURCE, edited)
    assert result.strength_ratio > 0.8  # as strong as ever ...
    assert result.agreement < 0.2  # ... but a different colour change
    assert result.persistence < 0.2


def test_a_local_edit_on_a_moving_object_persists_and_can_vanish() -> None:
    positions = [(5 * t - 30, (t % 3) - 1) for t in range(13)]
    source = moving_square(positions, side=40)
    edited = moving_square(positions, side=40, colour_shift=(70, -30, -30))
    kept = edit_persistence(source, edited)
    assert kept.persistence > 0.9
    lost = edited.copy()
    lost[3:] = source[3:]
    assert edit_persistence(source, lost).persistence < 0.05


def test_an_object_added_over_changing_background_colours_persists() -> None:
    # A square crossing a colour gradient changes different source colours at the head and at the
    # tail: as a colour mapping the two ends disagree, but the mapping explains little of the edit
    # (most pixels of those colours are unchanged), so the edit is judged by its strength.
    ramp = np.linspace(0, 1, 180, dtype=np.float32)[None, :, None]
    background = (np.array([40, 110, 100]) * (1 - ramp) + np.array([200, 190, 150]) * ramp).astype(np.uint8)
    source = np.repeat(np.repeat(background, 120, axis=0)[None], 13, axis=0)
    edited = source.copy()
    for t in range(len(edited)):
        edited[t, 50:80, 10 + 10 * t : 40 + 10 * t] = (40, 40, 200)
    kept = edit_persistence(source, edited)
    assert kept.coherence < 0.3
    assert kept.persistence > 0.7  # it read 0 when coherence was a colour mapping's norm over strength
    lost = edited.copy()
    lost[4:] = source[4:]
    assert edit_persistence(source, lost).persistence < 0.05


def test_no_edit_counts_as_persistent_and_bad_spans_are_refused() -> None:
    result = edit_persistence(SOURCE, SOURCE.copy())
    assert result.persistence == 1.0
    assert result.head_strength == 0.0
    with pytest.raises(ValueError, match="span"):
        edit_persistence(SOURCE, SOURCE, span=0.0)
    with pytest.raises(ValueError, match="differ in shape"):
        edit_persistence(SOURCE, SOURCE[:3])
    single = edit_persistence(SOURCE[:1], tint(SOURCE[:1], GRADE))
    assert single.persistence == pytest.approx(1.0)
