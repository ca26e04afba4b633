"""The model-backed recipe end to end: LLM instructions and a VLM judge over a real (fake) endpoint.

The OpenAI-compatible server is a real HTTP server on loopback (tests/fakes) that answers like a
model would: a caption, one edit per requested category, and judge scores. The build must send
structured-output requests, validate replies, keep every score, choose by the scores, and never
write the API key anywhere in the dataset.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fakes.judge import scored_by_image
from fakes.openai_server import FakeOpenAIServer

from insvie.store import Dataset

SECRET = "sk-test-0123456789abcdef-must-not-leak"
LOOKS = {
    "style": "Turn it into a pop art poster",
    "colour_attribute": "Give it a sepia look",
    "weather_season_time": "Make it look like a winter day",
}


def _edit(category: str) -> dict:
    words = "keep the subject, its pose, the camera framing and the layout of the scene exactly as they are"
    return {
        "category": category,
        "instruction": LOOKS[category],
        "long_instruction": f"{LOOKS[category]} across the whole frame while you {words} in every frame.",
        "target_caption": f"the same scene, {category.replace('_', ' ')} changed",
    }


def respond(request: dict) -> dict:
    name = request["response_format"]["json_schema"]["name"]
    if name == "caption":
        return {
            "caption": "A rider gallops a horse across a plain white background.",
            "objects": ["horse", "rider"],
        }
    if name == "edit_proposals":
        prompt = request["messages"][0]["content"][0]["text"]
        wanted = re.findall(r"^\d+\. (\w+):", prompt, flags=re.MULTILINE)
        return {"edits": [_edit(category) for category in wanted]}
    return scored_by_image(request)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, shared_media: Path):
    root = tmp_path_factory.mktemp("models")
    media = root / "media"
    media.mkdir()
    shutil.copy(shared_media / "horse_gallop.mp4", media)
    shutil.copy(shared_media / "camping.png", media)
    with FakeOpenAIServer(respond) as server:
        chat = {"backend": "openai", "model": "fake-gpt", "base_url": server.base_url, "max_retries": 1}
        config = {
            "split": {"clip_frames": 9, "max_side": 256, "clips_per_shot": 1},
            "instruct": {
                "source": "llm",
                "per_item": 2,
                "categories": {k: 1 for k in LOOKS},
                "chat": chat,
            },
            "edit": {"strengths": [0.6, 0.8, 1.0]},
            "judge": {"enabled": True, "chat": chat, "min_overall": 3},
            "propagate": {"flow_size": 160},
            "animate": {"num_frames": 9, "max_side": 256},
        }
        (root / "config.yaml").write_text(json.dumps(config))
        out = root / "ds"
        env = {"OPENAI_API_KEY": SECRET, "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "insvie",
                "build",
                str(out),
                "-c",
                str(root / "config.yaml"),
                "-i",
                str(media),
            ],
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
        )
        requests = list(server.chat_requests)
    return out, result, requests


def test_requests_use_structured_output_and_the_key(built):
    _, result, requests = built
    assert result.returncode == 0, result.stderr
    names = {r.json["response_format"]["json_schema"]["name"] for r in requests}
    assert names == {"caption", "edit_proposals", "edit_judgement"}
    judged_frames = [r for r in requests if len(r.json["messages"][0]["content"]) == 3]
    assert judged_frames
    for request in requests:
        assert request.headers["authorization"] == f"Bearer {SECRET}"
        assert request.json["model"] == "fake-gpt"
        assert request.json["response_format"]["json_schema"]["strict"] is True
    assert SECRET not in result.stdout + result.stderr


def test_instructions_come_from_the_llm_with_the_configured_mix(built):
    out, _, _ = built
    with Dataset.open(out, create=False) as ds:
        edits = list(ds.iter_items("edit")) + list(ds.iter_items("image_edit"))
        assert edits
        for item in edits:
            assert item.meta["instruction_source"] == "llm"
            assert item.meta["category"] in LOOKS
            assert item.meta["instruction"] == LOOKS[item.meta["category"]]
            assert 20 <= len(item.meta["long_instruction"].split()) <= 40
            assert item.meta["source_caption"].startswith("A rider")
        outputs = [r.output for r in ds.latest_results() if r.stage in ("instruct", "image_instruct")]
        assert all(o["model"]["served_by"] and o["model"]["model"] == "fake-gpt" for o in outputs)


def test_judge_keeps_every_score_and_picks_the_best(built):
    out, _, _ = built
    with Dataset.open(out, create=False) as ds:
        judged = [r for r in ds.latest_results() if r.stage in ("judge", "image_judge")]
        assert judged
        for result in judged:
            scores = result.output["judgements"]
            assert len(scores) == 3 and all(s["rationale"] for s in scores)
            if result.status == "done":
                passing = [s for s in scores if s["passes"]]
                best = max(passing, key=lambda s: (s["overall"], s["instruction_following"], -s["candidate"]))
                assert result.output["chosen"] == best["candidate"]
            else:
                assert result.reason == "judge_rejected" and not any(s["passes"] for s in scores)
        propagated = [r for r in ds.latest_results() if r.stage == "propagate" and r.status == "done"]
        assert propagated and any(r.status == "done" for r in judged if r.stage == "image_judge")
        for result in propagated:
            assert (
                result.output["edited_frame"]
                == ds.get_result(
                    "judge",
                    result.item_id,
                    next(r.config_hash for r in judged if r.item_id == result.item_id),
                ).output["edited_frame"]
            )


def test_the_key_is_written_nowhere(built):
    out, _, _ = built
    needle = SECRET.encode()
    for path in out.rglob("*"):
        if path.is_file():
            assert needle not in path.read_bytes(), path


def test_budget_stops_the_step_cleanly_and_a_rerun_continues(tmp_path: Path, shared_media: Path):
    media = tmp_path / "media"
    media.mkdir()
    shutil.copy(shared_media / "horse_gallop.mp4", media)
    out = tmp_path / "ds"

    def build(max_requests: int, server: FakeOpenAIServer) -> subprocess.CompletedProcess:
        chat = {
            "model": "fake-gpt",
            "base_url": server.base_url,
            "concurrency": 1,
            "max_requests": max_requests,
        }
        config = {
            "split": {"clip_frames": 9, "max_side": 128, "clips_per_shot": 2},
            "instruct": {"source": "llm", "per_item": 1, "categories": {"style": 1}, "chat": chat},
            "propagate": {"flow_size": 96},
        }
        (tmp_path / "config.yaml").write_text(json.dumps(config))
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "insvie",
                "build",
                str(out),
                "-c",
                str(tmp_path / "config.yaml"),
                "-i",
                str(media),
            ],
            capture_output=True,
            text=True,
            timeout=600,
            env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"},
        )

    with FakeOpenAIServer(respond) as server:
        first = build(2, server)  # one clip's caption + proposals, then the cap
        assert first.returncode == 0, first.stderr
        assert "instruct stopped: budget reached: 2 of 2 requests" in first.stderr
        assert len(server.chat_requests) == 2
        with Dataset.open(out, create=False) as ds:
            done = [r for r in ds.latest_results("clip") if r.stage == "instruct"]
            assert len(done) == 1 and done[0].status == "done"  # the other clip is left pending, not failed
            assert len(list(ds.iter_items("clip"))) == 2
            digest = done[0].config_hash
        second = build(10, server)
        assert second.returncode == 0, second.stderr
        assert "stopped" not in second.stderr
        assert len(server.chat_requests) == 4  # only the pending clip was asked about
        with Dataset.open(out, create=False) as ds:
            # a budget is not part of the config hash: the same step resumed, nothing was redone
            results = ds.results("instruct", digest)
            assert len(results) == 2 and all(r.attempts == 1 for r in results)


def test_second_round_judges_sampled_frames_of_the_video(built):
    out, _, _ = built
    build = json.loads((out / "build.json").read_text())
    assert build["final_step"] == "video_judge"
    with Dataset.open(out, create=False) as ds:
        rounds = [r for r in ds.latest_results("triplet") if r.stage == "video_judge"]
        refiltered = [r for r in ds.latest_results("triplet") if r.stage == "refilter" and r.status == "done"]
        assert len(rounds) == len(refiltered) > 0
        for result in rounds:
            frames = [j["frame"] for j in result.output["judgements"]]
            assert frames == [4, 8]  # the middle and last of 9 frames
            assert (result.status == "done") == all(j["passes"] for j in result.output["judgements"])
        from insvie.store import accepted_triplets

        accepted = {t.item.id for t in accepted_triplets(ds, final_stage="video_judge")}
        assert accepted == {r.item_id for r in rounds if r.status == "done"}


def test_malformed_replies_are_recorded_as_failures_never_guessed(tmp_path: Path, shared_media: Path):
    from fakes.openai_server import FakeReply

    media = tmp_path / "media"
    media.mkdir()
    shutil.copy(shared_media / "horse_gallop.mp4", media)

    def broken(request: dict):
        name = request["response_format"]["json_schema"]["name"]
        if name == "edit_proposals":
            return FakeReply(content='{"edits": [{"category": "style", "instruction": "half a repl')
        return respond(request)

    with FakeOpenAIServer(broken) as server:
        chat = {"model": "fake-gpt", "base_url": server.base_url, "max_retries": 1, "concurrency": 1}
        config = {
            "split": {"clip_frames": 9, "max_side": 128, "clips_per_shot": 1},
            "run": {"max_attempts": 1},
            "instruct": {"source": "llm", "per_item": 1, "categories": {"style": 1}, "chat": chat},
        }
        (tmp_path / "config.yaml").write_text(json.dumps(config))
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "insvie",
                "build",
                str(tmp_path / "ds"),
                "-c",
                str(tmp_path / "config.yaml"),
                "-i",
                str(media),
            ],
            capture_output=True,
            text=True,
            timeout=600,
            env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"},
        )
        proposals = [
            r
            for r in server.chat_requests
            if r.json["response_format"]["json_schema"]["name"] == "edit_proposals"
        ]
    # The only clip's instruction failed, so the step failed every item: the build says so and exits 1.
    assert result.returncode == 1, result.stderr
    assert "failed for every item: instruct" in result.stderr
    assert len(proposals) == 2  # the first try and one retry with the parse error fed back
    assert (
        "invalid_json" in json.dumps(proposals[1].json["messages"]) or len(proposals[1].json["messages"]) > 1
    )
    with Dataset.open(tmp_path / "ds", create=False) as ds:
        (failed,) = [r for r in ds.latest_results("clip") if r.stage == "instruct"]
        assert failed.status == "failed" and "invalid_json" in failed.error
        assert not list(ds.iter_items("edit"))  # nothing was made up from the broken reply


def respond_any(request: dict) -> dict:
    """Valid replies for any category the recipe asks for, and judge scores that pass the paper's bar."""
    name = request["response_format"]["json_schema"]["name"]
    if name == "edit_proposals":
        prompt = request["messages"][0]["content"][0]["text"]
        wanted = re.findall(r"^\d+\. (\w+):", prompt, flags=re.MULTILINE)
        words = "while the subject, its motion, the framing and every other part of the scene stay the same"
        edits = [
            {
                "category": c,
                "instruction": f"apply a {c.replace('_', ' ')} edit",
                "long_instruction": f"Apply a clear {c.replace('_', ' ')} edit to the main subject {words}.",
                "target_caption": f"the same scene after a {c.replace('_', ' ')} edit",
            }
            for c in wanted
        ]
        return {"edits": edits}
    if name == "edit_judgement":
        return {"instruction_following": 4, "preservation": 4, "realism": 4, "overall": 4, "rationale": "ok"}
    return respond(request)


def test_paper_recipe_runs_end_to_end_on_tiny_models(tiny: Path, tmp_path: Path, shared_media: Path):
    """tiny.yaml (the session's `insvie tiny-models`, which names no endpoint) built with the endpoint
    given by $OPENAI_BASE_URL; test_tiny_models_cli checks the --base-url way of naming it."""
    pytest.importorskip("diffusers")
    media = tmp_path / "media"
    media.mkdir()
    shutil.copy(shared_media / "cat_grass.mp4", media)
    shutil.copy(shared_media / "camping.png", media)
    with FakeOpenAIServer(respond_any) as server:
        env = {
            "PATH": "/usr/bin:/bin",
            "HF_HUB_OFFLINE": "1",
            "OPENAI_API_KEY": SECRET,
            "OPENAI_BASE_URL": server.base_url,
        }
        out = tmp_path / "ds"
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "insvie",
                "build",
                str(out),
                "-c",
                str(tiny / "tiny.yaml"),
                "-i",
                str(media),
            ],
            capture_output=True,
            text=True,
            timeout=900,
            env=env,
        )
    assert result.returncode == 0, result.stderr
    build = json.loads((out / "build.json").read_text())
    ran = {step["name"] for step in build["steps"] if step["ran"]}
    for step in (
        "instruct",
        "instruction_dedup",
        "edit",
        "clip_prefilter",
        "judge",
        "propagate",
        "image_edit",
        "image_judge",
        "animate",
        "refilter",
        "video_judge",
    ):
        assert step in ran, step
    with Dataset.open(out, create=False) as ds:
        edits = [r for r in ds.latest_results() if r.stage == "edit" and r.status == "done"]
        assert edits
        for result in edits:
            assert result.output["backend"] == "instruct_pix2pix"
            assert result.output["model"] == str((tiny / "instruct_pix2pix").resolve())
            assert [c["text_guidance"] for c in result.output["candidates"]] == [3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
            assert all(c["image_guidance"] == 1.5 and c["steps"] == 2 for c in result.output["candidates"])
        propagated = [r for r in ds.latest_results() if r.stage == "propagate" and r.status == "done"]
        assert propagated and all(r.output["backend"] == "svd" for r in propagated)  # the paper's way
        assert all(len(r.output["window_drift"]["colour"]) >= 1 for r in propagated)
        assert [t for t in ds.iter_items("triplet") if t.meta["branch"] == "video"]
        assert [t for t in ds.iter_items("triplet") if t.meta["branch"] == "image"]
    for path in out.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_judge_requests_are_concurrent_but_bounded(tmp_path: Path, shared_media: Path):
    import threading
    import time

    import numpy as np
    from PIL import Image

    from insvie.engine import StageContext, Task
    from insvie.media import read_frames
    from insvie.stages.chat_model import ChatModelConfig
    from insvie.stages.judge import Judge, JudgeConfig

    lock, state = threading.Lock(), {"now": 0, "peak": 0}

    def slow(request: dict) -> dict:
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(0.1)
        with lock:
            state["now"] -= 1
        return respond_any(request)

    frame = read_frames(shared_media / "horse_gallop.mp4", end=1, max_size=64)[0]
    (tmp_path / "tmp").mkdir()
    files = {}
    for i in range(6):
        Image.fromarray(np.roll(frame, i, axis=1)).save(tmp_path / f"c{i}.png")
        files[f"candidate_{i}"] = f"c{i}.png"
    edit = {**files, "candidates": [{"file": f"candidate_{i}", "strength": 0.5} for i in range(6)]}
    clip = tmp_path / "clip.mp4"
    from insvie.media import write_video

    write_video(clip, read_frames(shared_media / "horse_gallop.mp4", end=3, max_size=64), 8)
    with FakeOpenAIServer(slow) as server:
        chat = ChatModelConfig(model="fake-gpt", base_url=server.base_url, concurrency=2)
        judge = Judge(JudgeConfig(enabled=True, chat=chat))
        judge.setup(StageContext(tmp_path, tmp_path / "tmp"))
        task = Task(
            "r", "edit", None, None, {"instruction": "do it"}, parent_media=clip, inputs={"edit": edit}
        )
        outcome = judge.process([task])[0]
    assert outcome.status == "done" and len(outcome.output["judgements"]) == 6
    assert state["peak"] == 2


def test_a_batch_of_items_shares_the_request_slots_and_a_bad_item_fails_alone(
    tmp_path: Path, shared_media: Path
):
    import threading
    import time

    from PIL import Image

    from insvie.engine import StageContext, Task
    from insvie.media import read_frames, write_video
    from insvie.stages.chat_model import ChatModelConfig
    from insvie.stages.judge import Judge, JudgeConfig

    lock, in_flight, together = threading.Lock(), [], set()

    def slow(request: dict) -> dict:
        item = request["messages"][0]["content"][0]["text"].split("instruction", 1)[-1][:60]
        with lock:
            in_flight.append(item)
            together.add(frozenset(in_flight))
        time.sleep(0.1)
        with lock:
            in_flight.remove(item)
        return respond_any(request)

    frame = read_frames(shared_media / "horse_gallop.mp4", end=1, max_size=64)[0]
    (tmp_path / "tmp").mkdir()
    clip = tmp_path / "clip.mp4"
    write_video(clip, read_frames(shared_media / "horse_gallop.mp4", end=3, max_size=64), 8)
    tasks = []
    for name in ("first", "broken", "third"):
        files = {}
        for i in range(3):
            if name != "broken":
                Image.fromarray(frame).save(tmp_path / f"{name}{i}.png")
            files[f"candidate_{i}"] = f"{name}{i}.png"
        edit = {**files, "candidates": [{"file": f"candidate_{i}", "strength": 0.5} for i in range(3)]}
        meta = {"instruction": f"make the {name} one red"}
        tasks.append(Task(name, "edit", None, None, meta, parent_media=clip, inputs={"edit": edit}))
    with FakeOpenAIServer(slow) as server:
        chat = ChatModelConfig(model="fake-gpt", base_url=server.base_url, concurrency=2)
        judge = Judge(JudgeConfig(enabled=True, chat=chat))
        assert judge.batch_size == 2  # as many items as requests in flight
        judge.setup(StageContext(tmp_path, tmp_path / "tmp"))
        outcomes = judge.process(tasks)
    assert [o.item_id for o in outcomes] == ["first", "broken", "third"]
    assert [o.status for o in outcomes] == ["done", "failed", "done"]
    assert "broken0.png" in outcomes[1].error
    # three requests per item on two slots: the first item's last request shares them with the third's
    assert max(len(group) for group in together) == 2
    assert any(len({text.split(" one")[0] for text in group}) == 2 for group in together)
