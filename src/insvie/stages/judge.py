"""judge: a vision-language model scores every first-frame candidate; the best that clears the bar wins.

InsViE's first filter: GPT-4o grades each candidate against written guidelines and the best one above
a threshold is kept. Ours scores instruction following, preservation of what was not to change, and
realism (1-5 each) plus an overall score and a one-sentence rationale, one request per candidate so
scores do not depend on which other candidates were shown. Every score and rationale is kept, the
rejected candidates' too, with the judge's model name as the endpoint reported it.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Annotated, Any, ClassVar

import numpy as np
from PIL import Image
from pydantic import Field

from insvie.engine import (
    Input,
    Need,
    Outcome,
    Resources,
    Stage,
    StageConfig,
    StageContext,
    StageStopped,
    Task,
)
from insvie.engine.work import outcome_for_error
from insvie.stages.chat_model import ChatModelConfig, make_chat
from insvie.stages.frames import choice, request_frame, request_source
from insvie.stages.preflight import chat_needs
from insvie.stages.prompts import JUDGE_GUIDELINE, JUDGE_SCHEMA

SCORES = ("instruction_following", "preservation", "realism", "overall")


class JudgeConfig(StageConfig):
    enabled: Annotated[
        bool, Field(description="Judge candidates with a model (else the edit step picks).")
    ] = False
    chat: ChatModelConfig = ChatModelConfig()
    min_instruction_following: Annotated[int, Field(ge=1, le=5)] = 3
    min_preservation: Annotated[int, Field(ge=1, le=5)] = 3
    min_realism: Annotated[int, Field(ge=1, le=5)] = 3
    min_overall: Annotated[int, Field(ge=1, le=5)] = 3
    max_side: Annotated[int, Field(ge=64, description="Images are sent at most this large.")] = 768
    video_positions: Annotated[
        tuple[float, ...],
        Field(description="Second round: frames judged, as fractions of the propagated clip (empty: off)."),
    ] = (0.5, 1.0)


def passes(scores: dict, config: JudgeConfig) -> bool:
    return all(scores[key] >= getattr(config, f"min_{key}") for key in SCORES)


Pair = tuple[dict, np.ndarray, np.ndarray, int]  # (label, before, after, seed)


def judge_pairs(
    chat: Any, config: JudgeConfig, instruction: str, pairs: Sequence[Pair], pool: Executor
) -> Future[dict]:
    """Score (label, before, after, seed) image pairs against the guideline on ``pool`` (a pool of
    ``chat.concurrency`` threads shared by a whole batch of items, so requests never wait on one item).

    Each pair is its own request, so a score never depends on what else was shown. The future holds the
    judgements (each label plus the scores and whether they clear the thresholds) and the judge's
    provenance, with the model name the endpoint reported; a failed request fails it.
    """
    from insvie.backends.chat import image_part, text_part

    prompt = JUDGE_GUIDELINE.format(instruction=instruction)

    def score(pair: Pair) -> tuple[dict, str]:
        label, before, after, seed = pair
        content = [
            text_part(prompt),
            image_part(before, max_side=config.max_side),
            image_part(after, max_side=config.max_side),
        ]
        reply = chat.complete_json(
            [{"role": "user", "content": content}], JUDGE_SCHEMA, name="edit_judgement", seed=seed
        )
        return {**label, **reply.data, "passes": passes(reply.data, config)}, reply.model

    return _gathered([pool.submit(score, pair) for pair in pairs], chat)


def _gathered(requests: list[Future[tuple[dict, str]]], chat: Any) -> Future[dict]:
    """One future for an item's requests: its judgements in order, or the first request's error."""
    done: Future[dict] = Future()

    def finish(_: Future) -> None:
        if done.done() or not all(request.done() for request in requests):
            return
        try:
            results = [request.result() for request in requests]
        except BaseException as exc:
            done.set_exception(exc)
            return
        served_by = results[-1][1] if results else None
        done.set_result(
            {
                "judgements": [judgement for judgement, _ in results],
                "judge": {**chat.describe(), "served_by": served_by},
            }
        )

    for request in requests:
        request.add_done_callback(finish)
    if not requests:
        finish(done)
    return done


class _ChatJudge(Stage):
    """What both judging rounds share: the judge's settings, its chat client kept in an actor, and one
    request round per item, the requests of a whole batch of items in flight together."""

    section = "judge"
    config_class = JudgeConfig
    config: JudgeConfig

    def __init__(self, config: JudgeConfig | None = None) -> None:
        super().__init__(config)
        # An item holds a few requests; a batch of this many keeps every request slot busy between items.
        self.batch_size = self.config.chat.concurrency

    def resources(self) -> Resources:
        return Resources(cpus=1, actor=True)  # keeps its client (and a local model) between batches

    def needs(self) -> list[Need]:
        return chat_needs(self.config.chat, "judge.chat")

    def setup(self, ctx: StageContext) -> None:
        self.ctx = ctx
        self.chat = make_chat(self.config.chat, root=ctx.root, step=self.name)

    def process(self, batch: list[Task]) -> list[Outcome]:
        """Every item's requests go to one pool; an item whose images cannot be read or whose request
        failed gets its own outcome, and the others go on."""
        outcomes: list[Outcome | None] = [None] * len(batch)
        waiting: list[tuple[int, Future[dict]]] = []
        with ThreadPoolExecutor(self.config.chat.concurrency) as pool:
            for index, task in enumerate(batch):
                try:
                    pairs = self._pairs(task)
                    waiting.append(
                        (index, judge_pairs(self.chat, self.config, task.meta["instruction"], pairs, pool))
                    )
                except StageStopped:
                    raise
                except Exception as exc:
                    outcomes[index] = outcome_for_error(task, exc)
            for index, judged in waiting:
                try:
                    outcomes[index] = self._decide(batch[index], judged.result())
                except StageStopped:
                    raise
                except Exception as exc:
                    outcomes[index] = outcome_for_error(batch[index], exc)
        return [outcome for outcome in outcomes if outcome is not None]

    @abstractmethod
    def _pairs(self, task: Task) -> list[Pair]:
        """The (label, before, after, seed) pairs to score for the item."""

    @abstractmethod
    def _decide(self, task: Task, output: dict) -> Outcome:
        """The item's outcome from its judged pairs (``judge_pairs``' result)."""


class Judge(_ChatJudge):
    name = "judge"
    consumes = "edit"
    after = ("clip_prefilter", "edit")
    identity = "insvie.stages.judge.Judge"
    edit_step: ClassVar[str] = "edit"
    prefilter: ClassVar[str] = "clip_prefilter"

    def __init__(self, config: JudgeConfig | None = None, *, prefiltered: bool = False) -> None:
        super().__init__(config)
        self.prefilter_step = self.prefilter if prefiltered else None

    @classmethod
    def from_build(cls, build: Any) -> Stage | None:
        """Only the candidates the CLIP pre-filter passed are judged, when the build has one."""
        return cls(build.judge, prefiltered=build.prefilter.enabled) if build.judge.enabled else None

    def describe(self) -> dict:
        return {**super().describe(), "edit_step": self.edit_step, "prefilter_step": self.prefilter_step}

    def reads(self) -> tuple[Input, ...]:
        prefilter = (Input(self.prefilter_step, ("passing",)),) if self.prefilter_step else ()
        return (Input(self.edit_step), *prefilter, *request_source(self.consumes))

    def _pairs(self, task: Task) -> list[Pair]:
        edit = task.inputs[self.edit_step]
        source = request_frame(task, self.ctx)
        # Only candidates the CLIP pre-filter passed cost a judge request.
        indices = (
            task.inputs[self.prefilter_step]["passing"]
            if self.prefilter_step
            else range(len(edit["candidates"]))
        )
        return [
            (
                {"candidate": index},
                source,
                np.asarray(
                    Image.open(self.ctx.resolve(edit[edit["candidates"][index]["file"]])).convert("RGB")
                ),
                task.seed(f"judge:{index}") % (2**31),
            )
            for index in indices
        ]

    def _decide(self, task: Task, output: dict) -> Outcome:
        judged = output["judgements"]
        eligible = [j for j in judged if j["passes"]]
        if not eligible:
            return Outcome.rejected(task.item_id, "judge_rejected", output)
        best = max(
            eligible, key=lambda j: (*(j[k] for k in ("overall", "instruction_following")), -j["candidate"])
        )
        output.update(choice(task.inputs[self.edit_step], best["candidate"]))
        return Outcome.done(task.item_id, output)


class ImageJudge(Judge):
    """The same judge over the image branch's candidates."""

    name = "image_judge"
    consumes = "image_edit"
    after = ("image_clip_prefilter", "image_edit")
    edit_step = "image_edit"
    prefilter = "image_clip_prefilter"


class VideoJudge(_ChatJudge):
    """The second filtering round: the same judge on sampled frames of the propagated video.

    Propagation can drift, wash out or break the edit later in the clip; the frame-one judgement
    cannot see that. Each sampled (source frame, edited frame) pair is scored with the same guideline
    and thresholds, and the triplet passes only if every sampled frame does.
    """

    name = "video_judge"
    consumes = "triplet"
    after = ("refilter",)

    @classmethod
    def from_build(cls, build: Any) -> Stage | None:
        """Only with the judge on and frames to sample."""
        return cls(build.judge) if build.judge.enabled and build.judge.video_positions else None

    def _pairs(self, task: Task) -> list[Pair]:
        from insvie.media import read_frames

        source = read_frames(self.ctx.resolve(task.meta["source_media"]))
        edited = read_frames(task.media)
        count = len(edited)
        picks = sorted({min(count - 1, round(p * (count - 1))) for p in self.config.video_positions})
        return [
            ({"frame": frame}, source[frame], edited[frame], task.seed(f"video_judge:{frame}") % (2**31))
            for frame in picks
        ]

    def _decide(self, task: Task, output: dict) -> Outcome:
        if all(j["passes"] for j in output["judgements"]):
            return Outcome.done(task.item_id, output)
        return Outcome.rejected(task.item_id, "judge_rejected_video", output)
