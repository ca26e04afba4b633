"""VLM judge protocols against the loopback OpenAI-compatible server: requests, parsing, cache, provenance."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
from fakes import FakeReply, sequence
from PIL import Image

from insvie.backends.chat import ChatError
from insvie.errors import ConfigError
from insvie.eval.judge_protocols import make_judge_metric, pair_indices, spread_indices
from insvie.eval.sample import EvalSample, SampleFrames

INSTRUCTION = 'Make the "red" car blue'
SAMPLE = EvalSample("s1", Path("/bench/s1.mp4"), INSTRUCTION)


@pytest.fixture(autouse=True)
def _no_openai_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def constant_video(levels: list[int]) -> np.ndarray:
    """Frame ``i`` is flat grey at ``levels[i]``: which frame was sent can be read back from the image."""
    return np.stack([np.full((24, 32, 3), level, dtype=np.uint8) for level in levels])


FRAMES = SampleFrames(
    source=constant_video([10 * i for i in range(9)]),  # 0, 10, ..., 80
    edited=constant_video([200 + 5 * i for i in range(9)]),  # 200, 205, ..., 240
)


def texts(request: dict) -> list[str]:
    return [part["text"] for part in request["messages"][0]["content"] if part["type"] == "text"]


def image_levels(request: dict) -> list[int]:
    """The grey level of every image in the request, in order."""
    levels = []
    for part in request["messages"][0]["content"]:
        if part["type"] != "image_url":
            continue
        header, payload = part["image_url"]["url"].split(",", 1)
        assert header == "data:image/jpeg;base64"
        image = np.asarray(Image.open(io.BytesIO(base64.b64decode(payload))))
        levels.append(round(float(image.mean())))
    return levels


PAIR_REPLIES = {  # by the request's seed (the pair index)
    0: {"rationale": "done", "instruction_following": 3, "edit_quality": 2, "background_consistency": 1},
    1: {"rationale": "ok", "instruction_following": 2, "edit_quality": 2, "background_consistency": 2},
    2: {"rationale": "weak", "instruction_following": 1, "edit_quality": 0, "background_consistency": 3},
}


def test_frame_choices() -> None:
    assert pair_indices(9) == [0, 3, 6]
    assert pair_indices(2) == [0, 0, 1]
    assert spread_indices(9, 4) == [0, 3, 5, 8]
    assert spread_indices(1, 3) == [0, 0, 0]


def test_pairs_requests_parsing_and_totals(fake_openai, tmp_path: Path) -> None:
    fake_openai.responder = lambda request: PAIR_REPLIES[request["seed"]]
    metric = make_judge_metric(
        "pairs", model="judge-model", base_url=fake_openai.base_url, cache_dir=tmp_path
    )
    scores = metric.score(SAMPLE, FRAMES)

    requests = sorted((r.json for r in fake_openai.chat_requests), key=lambda r: r["seed"])
    assert len(requests) == 3
    for index, request in enumerate(requests):
        assert request["model"] == "judge-model"
        assert request["response_format"]["json_schema"]["name"] == "frame_pair_judgement"
        [prompt] = texts(request)
        assert json.dumps(INSTRUCTION) in prompt
        # The source frame, then the edited frame, at 0, 1/3 and 2/3 of the clip.
        source, edited = image_levels(request)
        assert abs(source - 30 * index) <= 2 and abs(edited - (200 + 15 * index)) <= 2
    assert metric.name == "judge_pairs"
    assert scores == pytest.approx(
        {
            "instruction_following": 2.0,
            "edit_quality": 4 / 3,
            "background_consistency": 2.0,
            "total": (6 + 6 + 4) / 3,
        }
    )


def test_scores_request_and_parsing(fake_openai) -> None:
    reply = {
        "rationale": "blue, slight flicker",
        "instruction_compliance": 4,
        "consistency_detail_fidelity": 3,
        "visual_quality_stability": 2,
    }
    fake_openai.responder = sequence(reply)
    metric = make_judge_metric("scores", model="judge-model", base_url=fake_openai.base_url, cache_dir=None)
    scores = metric.score(SAMPLE, FRAMES)

    [request] = [r.json for r in fake_openai.chat_requests]
    prompt, original_label, edited_label = texts(request)
    assert json.dumps(INSTRUCTION) in prompt and "4 frames" in prompt
    assert (original_label, edited_label) == ("Original video:", "Edited video:")
    levels = image_levels(request)
    assert len(levels) == 8
    assert np.allclose(levels, [0, 30, 50, 80, 200, 215, 225, 240], atol=2)
    assert scores == {
        "instruction_compliance": 4.0,
        "consistency_detail_fidelity": 3.0,
        "visual_quality_stability": 2.0,
        "overall": 3.0,
    }


def test_rerun_is_served_from_the_cache(fake_openai, tmp_path: Path) -> None:
    fake_openai.responder = lambda request: PAIR_REPLIES[request["seed"]]
    first = make_judge_metric("pairs", model="judge-model", base_url=fake_openai.base_url, cache_dir=tmp_path)
    scores = first.score(SAMPLE, FRAMES)
    fake_openai.reset()
    again = make_judge_metric("pairs", model="judge-model", base_url=fake_openai.base_url, cache_dir=tmp_path)
    assert again.score(SAMPLE, FRAMES) == scores
    assert fake_openai.chat_requests == []
    assert again.meta()["served_by"] == "judge-model"  # provenance survives the cache


def test_model_version_recorded_and_key_never_written(fake_openai, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-123")
    fake_openai.responder = lambda request: FakeReply(
        content=json.dumps(PAIR_REPLIES[request["seed"]]),
        model="gpt-4o-2024-11-20",
        system_fingerprint="fp_44709d6fcb",
    )
    metric = make_judge_metric("pairs", model="gpt-4o", base_url=fake_openai.base_url, cache_dir=tmp_path)
    assert metric.meta()["served_by"] == ""
    metric.score(SAMPLE, FRAMES)
    meta = metric.meta()
    assert meta == {
        "protocol": "pairs",
        "prompts_version": "1",
        "backend": "openai-compatible",
        "base_url": fake_openai.base_url,
        "model": "gpt-4o",
        "served_by": "gpt-4o-2024-11-20 (fp_44709d6fcb)",
    }
    assert all(r.headers["authorization"] == "Bearer sk-test-secret-123" for r in fake_openai.chat_requests)
    written = "".join(path.read_text(encoding="utf-8") for path in tmp_path.rglob("*.json"))
    assert written and "sk-test-secret-123" not in written + json.dumps(meta)


def test_out_of_range_reply_is_retried_once(fake_openai) -> None:
    good = {
        "rationale": "r",
        "instruction_compliance": 5,
        "consistency_detail_fidelity": 5,
        "visual_quality_stability": 4,
    }
    fake_openai.responder = sequence({**good, "instruction_compliance": 7}, good)
    metric = make_judge_metric("scores", model="m", base_url=fake_openai.base_url, cache_dir=None)
    assert metric.score(SAMPLE, FRAMES)["instruction_compliance"] == 5.0
    _, second = (r.json for r in fake_openai.chat_requests)
    # The retry shows the model its bad reply and what was wrong with it.
    assert len(second["messages"]) == 3 and "instruction_compliance" in second["messages"][2]["content"]


@pytest.mark.parametrize(
    ("replies", "reason"),
    [
        (["not json at all", "still not json"], "invalid_json"),
        ([{"rationale": "r", "instruction_compliance": 0}] * 2, "schema_mismatch"),
    ],
)
def test_bad_replies_fail_the_sample_after_one_retry(fake_openai, tmp_path: Path, replies, reason) -> None:
    fake_openai.responder = sequence(*replies)
    metric = make_judge_metric("scores", model="m", base_url=fake_openai.base_url, cache_dir=tmp_path)
    with pytest.raises(ChatError) as caught:
        metric.score(SAMPLE, FRAMES)
    assert caught.value.reason == reason
    assert len(fake_openai.chat_requests) == 2
    assert not list(tmp_path.rglob("*.json"))  # a failure is not cached: a rerun asks again


def test_one_bad_pair_fails_the_whole_sample(fake_openai) -> None:
    def respond(request: dict) -> dict | str:
        return "garbage" if request["seed"] == 1 else PAIR_REPLIES[request["seed"]]

    fake_openai.responder = respond
    metric = make_judge_metric("pairs", model="m", base_url=fake_openai.base_url, cache_dir=None)
    with pytest.raises(ChatError, match="invalid_json"):
        metric.score(SAMPLE, FRAMES)


def test_unknown_protocol() -> None:
    with pytest.raises(ConfigError, match="unknown judge protocol 'likert'"):
        make_judge_metric("likert", model="m", base_url="http://127.0.0.1:9/v1", cache_dir=None)
