"""The editor's command options map onto EditSettings in one place, for `insvie edit` and `eval bench`."""

from __future__ import annotations

import pytest

from insvie.cli.editor_options import edit_settings
from insvie.cli.eval.bench import EditorArgs
from insvie.editor.runner import EditSettings
from insvie.errors import ConfigError


def test_options_map_by_name_and_the_rest_is_left_out() -> None:
    options = {"model": "m", "out": "edited.mp4", "steps": 3, "seed": 2, "frames": 9, "long_video": "first"}
    assert edit_settings(options) == EditSettings(steps=3, seed=2, frames=9, long_video="first")


def test_bench_editor_options_map_as_the_edit_options_do() -> None:
    args = EditorArgs(
        steps=4,
        text_guidance=5.0,
        schedule="constant",
        seed=1,
        height=32,
        width=48,
        edit_fps=6.0,
        dtype="float32",
    )
    assert args.settings() == EditSettings(
        steps=4, text_guidance=5.0, schedule="constant", seed=1, height=32, width=48, fps=6.0
    )


def test_unusable_options_are_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="steps must be"):
        edit_settings({"steps": 0})
    with pytest.raises(ConfigError, match="source latent 'median'"):
        EditorArgs(source_latent="median").settings()  # type: ignore[arg-type]
