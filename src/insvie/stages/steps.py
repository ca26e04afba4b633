"""Every step of the InsViE pipeline, one line each, in the order the runner runs them.

The list is all the pipeline knows of its steps: each stage class declares the rest (its config
section, whether the config leaves it out, what it reads, the steps it may follow), and
``pipeline.build_steps`` assembles a build from those declarations. Adding a step is one new module
and one line here. The build config reads this list too, to check the step names it is given.
"""

from __future__ import annotations

from insvie.engine import Stage
from insvie.stages.animate import Animate, AnimatePairs
from insvie.stages.clip_prefilter import ClipPrefilter, ImageClipPrefilter
from insvie.stages.clip_store import ClipStore
from insvie.stages.dedup import ClipDedup, ImageDedup
from insvie.stages.edit import Edit, ImageEdit
from insvie.stages.filter import ClipFilter, ImageFilter
from insvie.stages.instruct import ImageInstruct, Instruct
from insvie.stages.instruction_dedup import ImageInstructionDedup, InstructionDedup
from insvie.stages.judge import ImageJudge, Judge, VideoJudge
from insvie.stages.propagate import Propagate
from insvie.stages.refilter import Refilter
from insvie.stages.split import Split

PIPELINE: tuple[type[Stage], ...] = (
    Split,
    ClipFilter,
    ClipDedup,
    ClipStore,
    ImageFilter,
    ImageDedup,
    Instruct,
    ImageInstruct,
    InstructionDedup,
    Edit,
    ClipPrefilter,
    Judge,
    Propagate,
    ImageInstructionDedup,
    ImageEdit,
    ImageClipPrefilter,
    ImageJudge,
    Animate,
    AnimatePairs,
    Refilter,
    VideoJudge,
)
