"""VLM judge protocols over an OpenAI-compatible endpoint, as :class:`~insvie.eval.sample.Metric` objects.

- ``pairs`` (:class:`PairsJudge`): three (source, edited) frame pairs at 0, 1/3 and 2/3 of each video
  (the moments EditVerseBench's judge looks at), one request per pair so a pair's score never
  depends on the others; each pair is scored 0-3 on instruction following, edit quality and
  background consistency. Reported: each criterion's mean over the pairs and ``total``, the mean
  pair sum (0-9).
- ``scores`` (:class:`ScoresJudge`): one request showing ``frames`` evenly spaced frames of the source
  then of the edited video, scored 1-5 on instruction compliance, consistency and detail fidelity,
  visual quality and stability (OpenVE-Bench's criteria); ``overall`` is their mean. OpenVE-Bench's
  judge watches whole videos; endpoints that take only images see frames here, so our numbers are
  comparable in kind, not digit for digit.

Replies are cached on disk by content (a rerun sends nothing), validated against a schema with the
score ranges, and a bad reply is retried once with the error shown to the model; after that the
sample fails with :class:`~insvie.backends.chat.ChatError` (an ``InsvieError``) for the runner to
record, and evaluation goes on. ``meta()`` names the protocol, prompt version, endpoint, requested
model and every model name the endpoint reported serving (it may pin a dated version of an alias);
the API key is read from the environment by the client and never recorded.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from insvie.backends.chat import ChatClient, image_part, text_part
from insvie.errors import ConfigError
from insvie.eval.judge_prompts import (
    PAIR_CRITERIA,
    PAIR_SCHEMA,
    PROMPTS_VERSION,
    VIDEO_CRITERIA,
    VIDEO_SCHEMA,
    pair_prompt,
    video_prompt,
)
from insvie.eval.sample import EvalSample, Metric, SampleFrames

PROTOCOLS = ("pairs", "scores")
PAIR_COUNT = 3


def pair_indices(length: int, count: int = PAIR_COUNT) -> list[int]:
    """Frames at 0, 1/count, 2/count ... of a video of ``length`` frames (repeats when it is shorter)."""
    return [index * length // count for index in range(count)]


def spread_indices(length: int, count: int) -> list[int]:
    """``count`` frames evenly spread from the first to the last."""
    return [round(value) for value in np.linspace(0, length - 1, count)]


class _ChatJudge:
    """What both protocols share: the client, one validated request, and provenance of who answered."""

    protocol: str

    def __init__(self, chat: Any, *, name: str, max_side: int) -> None:
        if max_side < 64:
            raise ConfigError(f"max_side must be at least 64, got {max_side}")
        self.chat = chat
        self.name = name
        self.max_side = max_side
        self._served: set[str] = set()
        self._lock = threading.Lock()

    def _image(self, frame: np.ndarray) -> dict[str, Any]:
        return image_part(frame, max_side=self.max_side, format="jpeg")

    def _ask(self, content: list[dict[str, Any]], schema: dict, *, schema_name: str, seed: int) -> dict:
        reply = self.chat.complete_json(
            [{"role": "user", "content": content}], schema, name=schema_name, seed=seed
        )
        with self._lock:
            self._served.add(
                f"{reply.model} ({reply.system_fingerprint})" if reply.system_fingerprint else reply.model
            )
        return reply.data

    def meta(self) -> dict[str, str]:
        with self._lock:
            served = ",".join(sorted(self._served))
        described = self.chat.describe()
        return {
            "protocol": self.protocol,
            "prompts_version": PROMPTS_VERSION,
            "backend": str(described.get("backend", "")),
            "base_url": str(described.get("base_url", "")),
            "model": str(described.get("model", "")),
            "served_by": served,
        }


class PairsJudge(_ChatJudge):
    """Three frame pairs scored 0-3 on three criteria; keys are the criteria and ``total`` (0-9)."""

    protocol = "pairs"

    def __init__(self, chat: Any, *, name: str = "judge_pairs", max_side: int = 768) -> None:
        super().__init__(chat, name=name, max_side=max_side)

    def _pair(self, instruction: str, source: np.ndarray, edited: np.ndarray, seed: int) -> dict:
        content = [text_part(pair_prompt(instruction)), self._image(source), self._image(edited)]
        return self._ask(content, PAIR_SCHEMA, schema_name="frame_pair_judgement", seed=seed)

    def score(self, sample: EvalSample, frames: SampleFrames) -> dict[str, float]:
        moments = zip(pair_indices(len(frames.source)), pair_indices(len(frames.edited)), strict=True)
        with ThreadPoolExecutor(PAIR_COUNT) as pool:
            futures = [
                pool.submit(self._pair, sample.instruction, frames.source[s], frames.edited[e], seed)
                for seed, (s, e) in enumerate(moments)
            ]
            replies = [future.result() for future in futures]
        scores = {key: float(np.mean([reply[key] for reply in replies])) for key in PAIR_CRITERIA}
        scores["total"] = float(np.mean([sum(reply[key] for key in PAIR_CRITERIA) for reply in replies]))
        return scores


class ScoresJudge(_ChatJudge):
    """Three 1-5 scores for the whole edit from ``frames`` frames of each video; plus ``overall``."""

    protocol = "scores"

    def __init__(
        self, chat: Any, *, name: str = "judge_scores", max_side: int = 512, frames: int = 4
    ) -> None:
        if frames < 1:
            raise ConfigError(f"frames must be at least 1, got {frames}")
        super().__init__(chat, name=name, max_side=max_side)
        self.frames = frames

    def score(self, sample: EvalSample, frames: SampleFrames) -> dict[str, float]:
        content = [text_part(video_prompt(sample.instruction, self.frames)), text_part("Original video:")]
        content += [self._image(frames.source[i]) for i in spread_indices(len(frames.source), self.frames)]
        content.append(text_part("Edited video:"))
        content += [self._image(frames.edited[i]) for i in spread_indices(len(frames.edited), self.frames)]
        reply = self._ask(content, VIDEO_SCHEMA, schema_name="video_edit_judgement", seed=0)
        scores = {key: float(reply[key]) for key in VIDEO_CRITERIA}
        scores["overall"] = float(np.mean(list(scores.values())))
        return scores


def make_judge_metric(
    protocol: str,
    *,
    model: str,
    base_url: str | None,
    cache_dir: Path | None,
    api_key_env: str = "OPENAI_API_KEY",
    name: str | None = None,
    timeout: float = 120.0,
) -> Metric:
    """A judge metric for ``protocol`` (``pairs`` or ``scores``) asking ``model`` at ``base_url``.

    ``base_url`` None follows ``$OPENAI_BASE_URL``, else OpenAI; the key comes from ``$api_key_env``
    (optional for local servers). Replies are cached under ``cache_dir`` when given. ``name`` (default
    ``judge_<protocol>``) prefixes the score keys, so two judges can be compared in one report.
    """
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown judge protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")
    chat = ChatClient(
        model,
        base_url=base_url,
        api_key_env=api_key_env,
        timeout=timeout,
        max_retries=1,  # one more try for a bad or out-of-range reply, then the sample fails
        cache_dir=cache_dir,
    )
    name = name or f"judge_{protocol}"
    if protocol == "pairs":
        return PairsJudge(chat, name=name)
    return ScoresJudge(chat, name=name)
