"""The InsViE pipeline as engine steps, assembled from a build config.

Videos: split -> clip_filter -> clip_dedup -> clip_store -> instruct -> edit [-> judge] -> propagate ->
refilter (split records spans; clip_store encodes only the clips the filters kept).
Images: image_filter -> image_dedup -> image_instruct -> image_edit [-> image_judge] -> animate -> refilter.
Existing image pairs: animate_pairs -> refilter. Every branch ends in ``triplet`` items that the one
refilter step judges (then, with the judge enabled, ``video_judge`` on sampled frames), so all
triplets pass the same checks whatever made them.
"""

from __future__ import annotations

from insvie.engine import Step
from insvie.stages.animate import Animate
from insvie.stages.clip_store import ClipStore
from insvie.stages.config import BuildConfig
from insvie.stages.dedup import Dedup, DedupConfig
from insvie.stages.edit import Edit
from insvie.stages.instruct import Instruct
from insvie.stages.instruction_dedup import InstructionDedup
from insvie.stages.judge import Judge, VideoJudge
from insvie.stages.prefilter import ClipPrefilter
from insvie.stages.propagate import Propagate
from insvie.stages.quality_gate import ClipGate, ImageGate
from insvie.stages.refilter import Refilter
from insvie.stages.split import Split


def build_steps(config: BuildConfig) -> list[Step]:
    """The steps of a build, in the order the runner runs them."""
    image_dedup = DedupConfig(**{**config.dedup.model_dump(), "hash_from": "image_filter"})
    deduped = config.instruction_dedup.enabled
    video_edit = [
        *([Step(InstructionDedup(config.instruction_dedup), after="instruct")] if deduped else []),
        Step(Edit(config.edit), after="instruction_dedup" if deduped else "instruct"),
        *_selection(config, edit_step="edit", prefix=""),
        Step(Propagate(config.propagate), after=_chooser(config, "")),
    ]
    image_edit = [
        *(
            [
                Step(
                    InstructionDedup(
                        config.instruction_dedup, name="image_instruction_dedup", consumes="image_edit"
                    ),
                    after="image_instruct",
                )
            ]
            if deduped
            else []
        ),
        Step(
            Edit(config.edit, name="image_edit", consumes="image_edit"),
            after="image_instruction_dedup" if deduped else "image_instruct",
        ),
        *_selection(config, edit_step="image_edit", prefix="image_"),
        Step(Animate(config.animate), after=_chooser(config, "image_")),
    ]
    return [
        Step(Split(config.split)),
        Step(ClipGate(config.clip_filter), after="split"),
        Step(Dedup(config.dedup, name="clip_dedup", consumes="clip"), after="clip_filter"),
        Step(ClipStore(), after="clip_dedup"),
        Step(ImageGate(config.image_filter)),
        Step(Dedup(image_dedup, name="image_dedup", consumes="image"), after="image_filter"),
        Step(Instruct(config.instruct), after="clip_store"),
        Step(
            Instruct(config.instruct, name="image_instruct", consumes="image", makes="image_edit"),
            after="image_dedup",
        ),
        *video_edit,
        *image_edit,
        Step(Animate(config.animate, name="animate_pairs", consumes="pair")),
        Step(Refilter(config.refilter)),
        *([Step(VideoJudge(config.judge), after="refilter")] if _video_judged(config) else []),
    ]


def _selection(config: BuildConfig, *, edit_step: str, prefix: str) -> list[Step]:
    """The optional CLIP pre-filter and judge that choose among an edit step's candidates."""
    kind = "edit" if not prefix else "image_edit"
    steps = []
    if config.prefilter.enabled:
        steps.append(
            Step(
                ClipPrefilter(
                    config.prefilter, name=f"{prefix}clip_prefilter", consumes=kind, edit_step=edit_step
                ),
                after=edit_step,
            )
        )
    if config.judge.enabled:
        prefilter = f"{prefix}clip_prefilter" if config.prefilter.enabled else None
        judge = Judge(
            config.judge, name=f"{prefix}judge", consumes=kind, edit_step=edit_step, prefilter_step=prefilter
        )
        steps.append(Step(judge, after=prefilter or edit_step))
    return steps


def _chooser(config: BuildConfig, prefix: str) -> str:
    """The step whose kept requests go on to propagation or animation."""
    if config.judge.enabled:
        return f"{prefix}judge"
    if config.prefilter.enabled:
        return f"{prefix}clip_prefilter"
    return f"{prefix}edit" if prefix else "edit"


def _video_judged(config: BuildConfig) -> bool:
    return config.judge.enabled and bool(config.judge.video_positions)


def final_step(config: BuildConfig) -> str:
    """The step whose kept triplets are the dataset: exports and status read its results."""
    return "video_judge" if _video_judged(config) else "refilter"
