"""The InsViE pipeline: every step, one line each, in the order the runner runs them.

Videos: split -> clip_filter -> clip_dedup -> clip_store -> instruct -> edit [-> judge] -> propagate ->
refilter (split records spans; clip_store encodes only the clips the filters kept).
Images: image_filter -> image_dedup -> image_instruct -> image_edit [-> image_judge] -> animate -> refilter.
Existing image pairs: animate_pairs -> refilter. Every branch ends in ``triplet`` items that the one
refilter step judges (then, with the judge enabled, ``video_judge`` on sampled frames), so all
triplets pass the same checks whatever made them.

Nothing here is specific to a step: each stage class declares its section of the build config,
whether the config leaves it out, what it reads and the steps it may follow (the first of them
present in the pipeline feeds it). Adding a step is one new module and one line in ``steps.py``.
"""

from __future__ import annotations

from insvie.engine import Stage, Step
from insvie.errors import ConfigError
from insvie.stages.config import BuildConfig
from insvie.stages.steps import PIPELINE


def build_steps(config: BuildConfig, pipeline: tuple[type[Stage], ...] = PIPELINE) -> list[Step]:
    """The steps a build runs under ``config``: those it enables, each after the first step of its
    ``after`` that is present (a step with no ``after`` reads every item of its kind)."""
    steps: list[Step] = []
    for stage_class in pipeline:
        stage = stage_class.from_build(config)
        if stage is None:
            continue
        present = {step.name for step in steps}
        after = next((name for name in stage.after if name in present), None)
        if stage.after and after is None:
            raise ConfigError(f"step {stage.name} follows one of {stage.after}, and none is in the pipeline")
        steps.append(Step(stage, after=after))
    return steps


def final_step(config: BuildConfig) -> str:
    """The step whose kept triplets are the dataset (the last to judge them): exports and status read
    its results."""
    return [step.name for step in build_steps(config) if step.stage.consumes == "triplet"][-1]
