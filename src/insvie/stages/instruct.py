"""instruct: propose edit instructions for a kept clip or image; each proposal becomes an edit request.

Two sources. ``taxonomy`` (offline, no service) draws global edits from the procedural editor's
looks with phrasings a person would write. ``llm`` captions the first frame with a vision-language
model, then asks a language model for one edit per drawn category as strict JSON: a short
instruction, a 20-40 word description and the target caption. We draw the categories (seeded by the
item id), not the model, so the configured mix is the mix the dataset gets, on every executor.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from insvie.backends.procedural import CATEGORIES as LOOK_CATEGORIES
from insvie.backends.procedural import get_operator, list_operators
from insvie.engine import Child, Input, Need, Outcome, Stage, StageConfig, StageContext, StageStopped, Task
from insvie.engine.work import outcome_for_error
from insvie.stages.chat_model import ChatModelConfig, make_chat
from insvie.stages.frames import STORED_CLIP, item_frame
from insvie.stages.preflight import chat_needs
from insvie.stages.prompts import (
    CAPTION_PROMPT,
    CAPTION_SCHEMA,
    EDIT_CATEGORIES,
    proposal_prompt,
    proposal_schema,
)

LONG_WORDS = (20, 40)


class InstructConfig(StageConfig):
    source: Annotated[
        Literal["taxonomy", "llm"],
        Field(description="taxonomy: offline procedural looks; llm: caption + language model (issue 4)."),
    ] = "taxonomy"
    per_item: Annotated[int, Field(ge=1, le=16, description="Edit requests proposed per clip or image.")] = 1
    categories: Annotated[
        dict[str, float] | None,
        Field(description="Mix of edit categories (weights); default: every category of the source alike."),
    ] = None
    operators: Annotated[
        list[str] | None, Field(description="taxonomy: only these procedural operators (default: all).")
    ] = None
    chat: Annotated[ChatModelConfig, Field(description="llm: the captioning and instruction model.")] = (
        ChatModelConfig()
    )
    seed: int = 0

    @model_validator(mode="after")
    def _categories_of_source(self) -> InstructConfig:
        known = LOOK_CATEGORIES if self.source == "taxonomy" else EDIT_CATEGORIES
        weights = self.categories or {}
        unknown = sorted(set(weights) - set(known))
        if unknown:
            raise ValueError(f"unknown categories {unknown} for source {self.source!r}; known: {list(known)}")
        if weights and (not any(w > 0 for w in weights.values()) or any(w < 0 for w in weights.values())):
            raise ValueError("category weights must be non-negative with at least one positive")
        return self

    @field_validator("operators")
    @classmethod
    def _known_operators(cls, value: list[str] | None) -> list[str] | None:
        for name in value or []:
            try:
                get_operator(name)
            except KeyError as exc:
                raise ValueError(str(exc)) from None
        return value

    def mix(self) -> dict[str, float]:
        known = LOOK_CATEGORIES if self.source == "taxonomy" else EDIT_CATEGORIES
        return dict(self.categories) if self.categories else dict.fromkeys(known, 1.0)


def long_enough(text: str) -> bool:
    return LONG_WORDS[0] <= len(text.split()) <= LONG_WORDS[1]


class Instruct(Stage):
    name = "instruct"
    consumes = "clip"
    makes = "edit"
    after = ("clip_store",)
    section = "instruct"
    identity = "insvie.stages.instruct.Instruct"
    config_class = InstructConfig
    config: InstructConfig

    def __init__(self, config: InstructConfig | None = None) -> None:
        super().__init__(config)
        if self.config.source == "llm":
            # Items go to the endpoint concurrently, so a batch holds as many as may be in flight.
            self.batch_size = self.config.chat.concurrency

    def describe(self) -> dict:
        return {**super().describe(), "makes": self.makes}

    def reads(self) -> tuple[Input, ...]:
        return (STORED_CLIP,)

    def needs(self) -> list[Need]:
        return chat_needs(self.config.chat, "instruct.chat") if self.config.source == "llm" else []

    def setup(self, ctx: StageContext) -> None:
        self.ctx = ctx
        self.chat = None
        if self.config.source == "llm":
            self.chat = make_chat(self.config.chat, root=ctx.root, step=self.name)

    def process(self, batch: list[Task]) -> list[Outcome]:
        if self.config.source == "taxonomy":
            return [self._from_taxonomy(task) for task in batch]
        with ThreadPoolExecutor(self.config.chat.concurrency) as pool:
            futures = [pool.submit(self._from_llm, task) for task in batch]
        outcomes = []
        for task, future in zip(batch, futures, strict=True):
            try:
                outcomes.append(future.result())
            except StageStopped:
                raise
            except Exception as exc:
                outcomes.append(outcome_for_error(task, exc))
        return outcomes

    def _rng(self, task: Task) -> np.random.Generator:
        return np.random.default_rng(task.seed(f"instruct:{self.config.seed}"))

    def _child(self, task: Task, index: int, proposal: dict[str, Any]) -> Child:
        meta = {
            "source_file": task.meta.get("source_file", task.source),
            "source_name": task.meta.get("source_name", Path(task.source or task.item_id).stem),
            "clip_index": task.meta.get("clip_index", 0),
            **proposal,
            "edit_index": index,
        }
        return Child(f"{task.item_id}.e{index}", self.makes, meta)

    # -- offline taxonomy -------------------------------------------------------------------------

    def _from_taxonomy(self, task: Task) -> Outcome:
        mix = self.config.mix()
        allowed = set(self.config.operators or list_operators())
        pool = [get_operator(name) for name in list_operators() if name in allowed]
        pool = [op for op in pool if mix.get(op.category, 0) > 0]
        if not pool:
            return Outcome.rejected(task.item_id, "no_operator")
        rng = self._rng(task)
        # Each operator gets its category's weight split among that category's operators.
        per_category = {op.category: sum(o.category == op.category for o in pool) for op in pool}
        weights = np.array([mix[op.category] / per_category[op.category] for op in pool])
        count = min(self.config.per_item, len(pool))
        chosen = rng.choice(len(pool), size=count, replace=False, p=weights / weights.sum())
        proposals = []
        for pick in sorted(int(c) for c in chosen):
            op = pool[pick]
            proposals.append(
                {
                    "instruction": op.instruction(rng),
                    "category": op.category,
                    "operator": op.name,
                    "target_caption_suffix": op.caption,
                    "instruction_source": "taxonomy",
                }
            )
        children = [self._child(task, i, p) for i, p in enumerate(proposals)]
        return Outcome.done(task.item_id, {"proposals": proposals}, children=children)

    # -- language model ---------------------------------------------------------------------------

    def _from_llm(self, task: Task) -> Outcome:
        from insvie.backends.chat import image_part, text_part

        assert self.chat is not None
        mix = self.config.mix()
        names = [c for c in mix if mix[c] > 0]
        weights = np.array([mix[c] for c in names])
        rng = self._rng(task)
        wanted = [str(c) for c in rng.choice(names, size=self.config.per_item, p=weights / weights.sum())]
        frame = item_frame(task, self.ctx)
        seed = task.seed("llm") % (2**31)
        caption = self.chat.complete_json(
            [{"role": "user", "content": [text_part(CAPTION_PROMPT), image_part(frame)]}],
            CAPTION_SCHEMA,
            name="caption",
            seed=seed,
        ).data
        reply = self.chat.complete_json(
            [
                {
                    "role": "user",
                    "content": [text_part(proposal_prompt(caption["caption"], caption["objects"], wanted))],
                }
            ],
            proposal_schema(len(wanted), sorted(set(wanted))),
            name="edit_proposals",
            seed=seed,
        )
        proposals, dropped = [], []
        for want, edit in zip(wanted, reply.data["edits"], strict=True):
            problem = (
                f"asked for {want}, got {edit['category']}"
                if edit["category"] != want
                else None
                if long_enough(edit["long_instruction"])
                else f"long instruction has {len(edit['long_instruction'].split())} words, not {LONG_WORDS}"
            )
            if problem:
                dropped.append({**edit, "problem": problem})
                continue
            proposals.append(
                {
                    **edit,
                    "instruction": edit["instruction"].strip(),
                    "source_caption": caption["caption"],
                    "instruction_source": "llm",
                }
            )
        output = {
            "caption": caption,
            "categories": wanted,
            "proposals": proposals,
            "dropped": dropped,
            "model": {**self.chat.describe(), "served_by": reply.model},
        }
        if not proposals:
            return Outcome.rejected(task.item_id, "no_valid_proposal", output)
        children = [self._child(task, i, p) for i, p in enumerate(proposals)]
        return Outcome.done(task.item_id, output, children=children)


class ImageInstruct(Instruct):
    """Instructions for images: each kept image becomes an image edit request."""

    name = "image_instruct"
    consumes = "image"
    makes = "image_edit"
    after = ("image_dedup",)

    def reads(self) -> tuple[Input, ...]:
        return ()
