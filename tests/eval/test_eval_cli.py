"""``insvie eval`` end to end: a SynthEdit benchmark with predictions and tiny CLIP, the tiny editor,
a built dataset, the calibration table, and clear refusals."""

from __future__ import annotations

import json
import shutil
from functools import partial
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from insvie.cli.main import app
from insvie.synth import write_synth_dataset

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def invoke(*args: str):
    return CliRunner().invoke(app, ["eval", *args])


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bench") / "synth"
    write_synth_dataset(folder, 3, 0, size=(32, 48), num_frames=9, lossless=True)
    return folder


def test_a_synthedit_benchmark_with_predictions_and_tiny_clip(synth: Path, tmp_path: Path) -> None:
    from insvie.tiny import build_tiny_clip

    clip = build_tiny_clip(tmp_path / "clip")
    predictions = tmp_path / "pred"
    predictions.mkdir()
    shutil.copy(synth / "edited" / "synth-00000.mp4", predictions / "synth-00000.mp4")  # the exact edit
    shutil.copy(synth / "source" / "synth-00001.mp4", predictions / "synth-00001.mp4")  # identity
    out = tmp_path / "report"
    args = ["--bench", str(synth), "--out", str(out), "--predictions", str(predictions)]
    result = invoke(*args, "--metrics", "gt,preserve,motion,warp,clip_t,clip_f", "--clip-model", str(clip))
    assert result.exit_code == 0, result.output
    assert "gt.psnr" in result.output and "report.html" in result.output
    assert "synth-00002" in result.output and "no prediction" in result.output  # named, run went on
    assert {"scores.jsonl", "scores.json", "scores.csv", "report.html"} <= {p.name for p in out.iterdir()}
    rows = {
        json.loads(line)["sample_id"]: json.loads(line)
        for line in (out / "scores.jsonl").read_text().splitlines()
    }
    assert rows["synth-00000"]["scores"]["gt.psnr"] == 100.0
    assert rows["synth-00001"]["scores"]["gt.psnr"] < 40
    assert rows["synth-00000"]["meta"]["clip_t"]["model"] == str(clip)
    assert "synth-00000" in (out / "report.html").read_text()


def test_real_clips_in_a_generic_manifest_with_predictions_named_like_the_sources(
    shared_media: Path, tmp_path: Path
) -> None:
    bench, predictions = tmp_path / "bench", tmp_path / "pred"
    bench.mkdir()
    predictions.mkdir()
    for name in ("horse_gallop.mp4", "cat_grass.mp4"):
        shutil.copy(shared_media / name, bench / name)
    shutil.copy(shared_media / "horse_gallop.mp4", predictions / "horse_gallop.mp4")  # identity edit
    shutil.copy(shared_media / "horse_gallop.mp4", predictions / "cat_grass.mp4")  # the wrong video
    lines = [
        {"id": "horse", "video": "horse_gallop.mp4", "instruction": "make the horse golden"},
        {"id": "cat", "video": "cat_grass.mp4", "instruction": "make the grass snowy"},
    ]
    (bench / "benchmark.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = tmp_path / "report"
    args = ["--bench", str(bench), "--out", str(out), "--predictions", str(predictions)]
    result = invoke(*args, "--max-frames", "9", "--max-size", "96")
    assert result.exit_code == 0, result.output
    rows = {row["sample_id"]: row for row in map(json.loads, (out / "scores.jsonl").read_text().splitlines())}
    assert rows["horse"]["scores"]["motion.epe"] == 0.0 and rows["horse"]["scores"]["warp.ratio"] == 1.0
    assert rows["cat"]["scores"]["motion.relative_epe"] > 0.5  # another clip's motion entirely
    assert rows["cat"]["declined"]["gt"] == "no ground-truth edit for this sample"


def test_a_model_run_writes_predictions_and_scores_them(synth: Path, tmp_path: Path) -> None:
    from insvie.tiny import build_tiny_editor_pipeline

    editor = build_tiny_editor_pipeline(tmp_path / "editor")
    out = tmp_path / "report"
    result = invoke(
        "--bench", str(synth), "--out", str(out), "--model", str(editor), "--metrics", "gt,warp",
        "--steps", "2", "--height", "32", "--width", "48", "--dtype", "float32", "--device", "cpu",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out / "predictions").glob("*.mp4")) == [
        f"synth-0000{i}.mp4" for i in range(3)
    ]
    scores = json.loads((out / "scores.json").read_text())
    assert "gt.psnr" in json.dumps(scores)


def test_a_vlm_judge_scores_every_sample_with_its_model_recorded(
    synth: Path, tmp_path: Path, fake_openai
) -> None:
    reply = {
        "rationale": "fine",
        "instruction_compliance": 4,
        "consistency_detail_fidelity": 3,
        "visual_quality_stability": 5,
    }
    fake_openai.responder = lambda request: reply
    predictions = tmp_path / "pred"
    shutil.copytree(synth / "edited", predictions)
    out = tmp_path / "report"
    result = invoke(
        "--bench", str(synth), "--out", str(out), "--predictions", str(predictions), "--metrics", "gt",
        "--judge", "scores", "--judge-model", "judge-model", "--judge-base-url", fake_openai.base_url,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (out / "scores.jsonl").read_text().splitlines()]
    assert [row["scores"]["judge_scores.overall"] for row in rows] == [4.0, 4.0, 4.0]
    assert all(row["meta"]["judge_scores"]["model"] == "judge-model" for row in rows)
    assert len(fake_openai.chat_requests) == 3 and any((out / "cache").rglob("*"))


def _tiny_dataset(root: Path, clip: Path) -> None:
    """A dataset as `insvie build` leaves it: two sources, three triplets judged by the refilter."""
    from insvie.store import Dataset

    with Dataset.open(root) as ds:
        source = ds.put_file(clip)
        metrics = {"motion_relative_epe": 0.1, "flicker_ratio": 1.0, "persistence": 0.9}
        for index, (category, status, reason) in enumerate(
            [("colour_grade", "done", None), ("style", "done", None), ("style", "rejected", "flicker")]
        ):
            item = f"clip{index}.e0.t"
            meta = {"source_media": source, "instruction": f"edit {index}", "category": category}
            ds.add_item(item, "triplet", media=source, meta=meta)
            ds.record_result("refilter", item, "h1", status, output={"metrics": metrics}, reason=reason)
            ds.record_result("propagate", item, "h0", "done")
    steps = [{"name": "propagate", "config_hash": "h0"}, {"name": "refilter", "config_hash": "h1"}]
    (root / "build.json").write_text(json.dumps({"steps": steps, "final_step": "refilter"}))


def test_a_built_dataset_gets_its_funnel_and_quality_per_category(synth: Path, tmp_path: Path) -> None:
    _tiny_dataset(tmp_path / "ds", synth / "source" / "synth-00000.mp4")
    out = tmp_path / "report"
    result = invoke("--dataset", str(tmp_path / "ds"), "--out", str(out), "--metrics", "warp")
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "dataset.json").read_text())
    assert summary["accepted"] == 2 and summary["triplets"] == 3
    assert summary["categories"]["style"] == {"triplets": 2, "accepted": 1, "rejected": {"flicker": 1}}
    assert [step["kept"] for step in summary["funnel"]] == [3, 2]
    style = summary["quality"]["categories"]["style"]["scores"]
    assert style["refilter.accepted"]["mean"] == 0.5
    scored = {
        row["sample_id"]: row for row in map(json.loads, (out / "scores.jsonl").read_text().splitlines())
    }
    assert set(scored) == {"clip0.e0.t", "clip1.e0.t"}  # only accepted triplets are re-scored
    assert (out / "report.html").is_file()


def test_the_calibration_table(tmp_path: Path) -> None:
    out = tmp_path / "cal"
    result = invoke(
        "--calibration", "--out", str(out), "--seeds", "1", "--synth-size", "32x48", "--synth-frames", "9"
    )
    assert result.exit_code == 0, result.output
    table = json.loads((out / "calibration.json").read_text())
    checks = {check["check"]: check for check in table["checks"]}
    assert {"motion_mismatch", "flicker", "edit_faded", "refilter"} <= set(checks)
    assert set(checks["refilter"]["rejected"]) >= {"clean", "drift", "motion_mismatch"}
    assert table["samples"]["clean"] == 1 and "targets met" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "exactly one of --bench, --dataset or --calibration"),
        (["--bench", "B", "--predictions", "P", "--model", "M"], "--predictions or --model, not both"),
        (["--bench", "B", "--metrics", "motion,bogus"], "unknown metric(s) bogus"),
        (["--bench", "B", "--judge", "pairs"], "--judge needs --judge-model"),
        (["--dataset", "B", "--model", "M"], "--predictions and --model go with --bench"),
    ],
)
def test_refusals_name_the_fix(synth: Path, tmp_path: Path, args: list[str], message: str) -> None:
    args = [str(synth) if arg == "B" else str(tmp_path) if arg == "P" else arg for arg in args]
    result = invoke("--out", str(tmp_path / "r"), *args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def _scores(out: Path) -> dict[str, dict]:
    return {
        row["sample_id"]: row["scores"]
        for row in map(json.loads, (out / "scores.jsonl").read_text().splitlines())
    }


def test_each_verb_is_a_subcommand_and_the_flag_form_runs_it_with_a_note(synth: Path, tmp_path: Path) -> None:
    predictions = tmp_path / "pred"
    shutil.copytree(synth / "edited", predictions)
    new, old = tmp_path / "new", tmp_path / "old"
    result = invoke(
        "bench", str(synth), "--out", str(new), "--predictions", str(predictions), "--metrics", "gt"
    )
    assert result.exit_code == 0, result.output
    assert "deprecated" not in result.output
    result = invoke(
        "--bench", str(synth), "--out", str(old), "--predictions", str(predictions), "--metrics", "gt"
    )
    assert result.exit_code == 0, result.output
    note = " ".join(result.stderr.split())
    assert "deprecated" in note and f"insvie eval bench {synth} --out {old} --predictions" in note
    assert _scores(new) == _scores(old) and _scores(new)["synth-00000"]["gt.psnr"] == 100.0

    _tiny_dataset(tmp_path / "ds", synth / "source" / "synth-00000.mp4")
    for args, note in [
        (["dataset", str(tmp_path / "ds")], None),
        (["--dataset", str(tmp_path / "ds")], f"insvie eval dataset {tmp_path / 'ds'} --out"),
        ([f"--dataset={tmp_path / 'ds'}"], f"insvie eval dataset {tmp_path / 'ds'} --out"),
    ]:
        out = tmp_path / f"ds-report-{len(args)}-{args[0][:4]}"
        result = invoke(*args, "--out", str(out))
        assert result.exit_code == 0, result.output
        assert json.loads((out / "dataset.json").read_text())["accepted"] == 2
        assert (note is None) == ("deprecated" not in result.stderr)
        assert note is None or note in " ".join(result.stderr.split())


def test_calibration_as_a_subcommand(tmp_path: Path) -> None:
    out = tmp_path / "cal"
    result = invoke(
        "calibration", "--out", str(out), "--seeds", "1", "--synth-size", "32x48", "--synth-frames", "9"
    )
    assert result.exit_code == 0, result.output
    assert json.loads((out / "calibration.json").read_text())["samples"]["clean"] == 1
    assert "deprecated" not in result.output


@pytest.mark.parametrize(
    ("verb", "has", "lacks"),
    [
        ("bench", ["--predictions", "--model", "--steps", "--edit-fps", "--clip-model", "--judge", "--fps"],
         ["--seeds", "--workers", "--calibration"]),
        ("dataset", ["--metrics", "--clip-model", "--judge-model", "--max-size", "--title"],
         ["--predictions", "--model", "--steps", "--bench-kind", "--seeds"]),
        ("calibration", ["--seeds", "--synth-size", "--synth-frames", "--workers"],
         ["--metrics", "--judge", "--model", "--max-frames", "--title"]),
    ],
)  # fmt: skip
def test_each_subcommand_has_its_own_help_with_only_its_options(
    verb: str, has: list[str], lacks: list[str]
) -> None:
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["eval", verb, "--help"])
    assert result.exit_code == 0, result.output
    assert all(option in result.output for option in has)
    assert not [option for option in lacks if option in result.output]


def test_the_eval_help_lists_the_verbs_and_the_deprecated_form() -> None:
    for args in (["eval", "--help"], ["eval"]):
        result = CliRunner(env={"COLUMNS": "200"}).invoke(app, args)
        assert all(verb in result.output for verb in ("bench", "dataset", "calibration"))
        assert "deprecated" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["dataset", "B", "--model", "M"], "No such option: --model"),
        (["bench", "B", "--seeds", "3"], "No such option: --seeds"),
        (["calibration", "--metrics", "gt"], "No such option: --metrics"),
        (["bench", "B", "--predictions", "P", "--model", "M"], "--predictions or --model, not both"),
        (["dataset", "B", "--judge", "pairs"], "--judge needs --judge-model"),
        (["--bench", "B", "--dataset", "B"], "exactly one of --bench, --dataset or --calibration"),
        (["--calibration", "--predictions", "P"], "--predictions and --model go with --bench"),
        (["bench"], "Missing argument"),
    ],
)
def test_subcommand_refusals(synth: Path, tmp_path: Path, args: list[str], message: str) -> None:
    args = [str(synth) if arg == "B" else str(tmp_path) if arg == "P" else arg for arg in args]
    result = invoke(*args, "--out", str(tmp_path / "r"))
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_the_flag_form_is_rewritten_option_by_option() -> None:
    from insvie.cli.eval import eval_command
    from insvie.cli.eval.legacy import from_flag_form

    commands = typer.main.get_command(eval_command).commands  # type: ignore[attr-defined]
    rewrite = partial(from_flag_form, commands=commands, help_names=["--help", "-h"])
    # a value that looks like a verb flag stays a value; the verb flag's own value may follow `=`
    assert rewrite(["--title", "--bench", "--bench=b", "-o", "r"]) == [
        "bench",
        "b",
        "--title",
        "--bench",
        "-o",
        "r",
    ]
    assert rewrite(["--calibration", "--seeds", "2", "--out", "r"]) == [
        "calibration",
        "--seeds",
        "2",
        "--out",
        "r",
    ]
    assert rewrite(["--bench", "-odd", "--out", "r"]) == ["bench", "--out", "r", "--", "-odd"]
    assert rewrite(["--out", "r", "-h"]) == ["-h"]  # no verb, asking for help: the group's help
