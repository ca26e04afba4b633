"""Benchmark readers: the generic manifest, the published layouts, SynthEdit folders, and bad rows.

Readers only check that named files exist (decoding is the runner's job), so most layouts are built
from placeholder files; the SynthEdit test uses the real ``insvie synth`` writer.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from insvie.eval.bench import read_benchmark, synthedit_benchmark, write_benchmark
from insvie.eval.bench_rows import BenchmarkError
from insvie.eval.sample import EvalSample
from insvie.synth import write_synth_dataset


def touch(root: Path, *relpaths: str) -> None:
    for relpath in relpaths:
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"placeholder")


def write_csv(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# -- generic manifest ---------------------------------------------------------------------------------


def test_generic_csv_minimal_and_full_rows(tmp_path: Path) -> None:
    touch(tmp_path, "videos/cat.mp4", "videos/dog.mp4", "masks/dog.mp4", "gt/dog.mp4")
    write_csv(
        tmp_path / "benchmark.csv",
        [
            "id,video,instruction,target_caption,category,mask,ground_truth,edited,difficulty",
            ",videos/cat.mp4,make it snow,,,,,,",
            "d1,videos/dog.mp4,turn the dog red,a red dog,recolor,masks/dog.mp4,gt/dog.mp4,,hard",
        ],
    )
    cat, dog = read_benchmark(tmp_path)
    root = tmp_path.resolve()
    assert cat == EvalSample("cat", root / "videos/cat.mp4", "make it snow")
    assert dog.sample_id == "d1"
    assert (dog.mask, dog.ground_truth, dog.edited) == (root / "masks/dog.mp4", root / "gt/dog.mp4", None)
    assert (dog.target_caption, dog.source_caption, dog.category) == ("a red dog", None, "recolor")
    assert dog.extra == {"difficulty": "hard"}


def test_generic_jsonl_keeps_json_extras_and_numeric_ids(tmp_path: Path) -> None:
    touch(tmp_path, "a.mp4", "b.mp4")
    lines = [
        json.dumps({"id": 7, "video": "a.mp4", "instruction": "add a hat", "tags": ["x", "y"]}),
        "",
        json.dumps({"video": "b.mp4", "instruction": "remove the car", "edited": "a.mp4"}),
    ]
    manifest = tmp_path / "set.jsonl"
    manifest.write_text("\n".join(lines), encoding="utf-8")
    first, second = read_benchmark(manifest)
    assert (first.sample_id, first.extra) == ("7", {"tags": ["x", "y"]})
    assert (second.sample_id, second.edited) == ("b", tmp_path.resolve() / "a.mp4")


@pytest.mark.parametrize("name", ["out.jsonl", "out.csv"])
def test_write_benchmark_round_trips(tmp_path: Path, name: str) -> None:
    touch(tmp_path, "src/a.mp4", "gt/a.mp4", "src/b.mp4")
    root = tmp_path.resolve()
    samples = [
        EvalSample(
            "a",
            root / "src/a.mp4",
            'say "hi", <b>',
            target_caption="t",
            category="add",
            ground_truth=root / "gt/a.mp4",
            extra={"level": "easy"},
        ),
        EvalSample("b", root / "src/b.mp4", "second"),
    ]
    path = write_benchmark(samples, tmp_path / name)
    assert read_benchmark(path) == samples
    text = path.read_text(encoding="utf-8")
    assert str(root) not in text  # paths are stored relative, so the folder can move


def test_write_benchmark_refuses_files_outside_the_folder(tmp_path: Path) -> None:
    touch(tmp_path, "outside.mp4")
    sample = EvalSample("x", tmp_path.resolve() / "outside.mp4", "do it")
    with pytest.raises(BenchmarkError, match="outside the benchmark folder"):
        write_benchmark([sample], tmp_path / "bench" / "benchmark.jsonl")


# -- bad rows -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("../escape.mp4,go", "contains '..'"),
        ("/etc/passwd,go", "absolute"),
        ("missing.mp4,go", "'missing.mp4' is not a file"),
        ("ok.mp4,", "'instruction' is missing or empty"),
        ("ok.mp4,go,extra", "more values than header columns"),
    ],
)
def test_bad_generic_row_names_file_line_and_reason(tmp_path: Path, row: str, reason: str) -> None:
    bench = tmp_path / "bench"
    touch(bench, "ok.mp4")
    touch(tmp_path, "escape.mp4")
    manifest = write_csv(bench / "benchmark.csv", ["video,instruction", "ok.mp4,fine", row])
    with pytest.raises(BenchmarkError) as caught:
        read_benchmark(bench)
    assert str(caught.value).startswith(f"{manifest.resolve()}: line 3: ")
    assert reason in str(caught.value)


def test_symlink_out_of_the_benchmark_is_refused(tmp_path: Path) -> None:
    bench = tmp_path / "bench"
    touch(tmp_path, "secret.mp4")
    bench.mkdir()
    os.symlink(tmp_path / "secret.mp4", bench / "link.mp4")
    write_csv(bench / "benchmark.csv", ["video,instruction", "link.mp4,go"])
    with pytest.raises(BenchmarkError, match=r"line 2: .*outside"):
        read_benchmark(bench)


def test_header_duplicate_ids_bad_json_and_empty(tmp_path: Path) -> None:
    touch(tmp_path, "a.mp4")
    write_csv(tmp_path / "h.csv", ["clip,instruction", "a.mp4,go"])
    with pytest.raises(BenchmarkError, match=r"h\.csv: line 1: header lacks column\(s\) \['video'\]"):
        read_benchmark(tmp_path / "h.csv")
    write_csv(tmp_path / "d.csv", ["video,instruction", "a.mp4,one", "a.mp4,two"])
    with pytest.raises(BenchmarkError, match="line 3: duplicate id 'a' \\(first at line 2\\)"):
        read_benchmark(tmp_path / "d.csv")
    (tmp_path / "j.jsonl").write_text('{"video": "a.mp4", "instruction": "x"}\n{oops\n', encoding="utf-8")
    with pytest.raises(BenchmarkError, match="line 2: not valid JSON"):
        read_benchmark(tmp_path / "j.jsonl")
    write_csv(tmp_path / "e.csv", ["video,instruction"])
    with pytest.raises(BenchmarkError, match="no samples"):
        read_benchmark(tmp_path / "e.csv")


def test_unknown_kind_and_folder_without_manifest(tmp_path: Path) -> None:
    with pytest.raises(BenchmarkError, match="unknown benchmark kind 'vbench'"):
        read_benchmark(tmp_path, kind="vbench")
    with pytest.raises(BenchmarkError, match="no benchmark manifest found"):
        read_benchmark(tmp_path)
    with pytest.raises(BenchmarkError, match="no such benchmark"):
        read_benchmark(tmp_path / "nowhere")


# -- published layouts ------------------------------------------------------------------------------


def test_insvie_layout_as_exported(tmp_path: Path) -> None:
    # What `insvie export --format insvie-csv` writes: source/, edited/ and a video,instruct CSV.
    touch(tmp_path, "source/clip_0_0_0.mp4", "edited/clip_0_0_0.mp4", "source/clip_1_0_0.mp4")
    write_csv(
        tmp_path / "metadata.csv",
        ["video,instruct", "clip_0_0_0.mp4,make the sky pink", "clip_1_0_0,add snow"],
    )
    first, second = read_benchmark(tmp_path)
    root = tmp_path.resolve()
    assert first == EvalSample(
        "clip_0_0_0",
        root / "source/clip_0_0_0.mp4",
        "make the sky pink",
        edited=root / "edited/clip_0_0_0.mp4",
    )
    assert (second.sample_id, second.source, second.edited) == (
        "clip_1_0_0",
        root / "source/clip_1_0_0.mp4",
        None,
    )


def test_editverse_layout(tmp_path: Path) -> None:
    touch(tmp_path, "videos/1.mp4", "videos/2.mp4", "images/hat.png")
    entries = {
        "0": {
            "<text>": "<video1> Add a small golden crown on the woman's head.",
            "<video1>": "videos/1.mp4",
            "<video1> link": "https://example.org/1",
            "direction": "horizontal",
            "target_prompt": "A woman wearing a golden crown.",
            "type": "add object",
            "source_prompt": "A woman.",
        },
        "1": {
            "<text>": "Put the hat from <image1> on the man in <video1>.",
            "<video1>": "videos/2.mp4",
            "<image1>": "images/hat.png",
            "type": "reference insert",
        },
    }
    (tmp_path / "test.json").write_text(json.dumps(entries), encoding="utf-8")
    crown, hat = read_benchmark(tmp_path)
    root = tmp_path.resolve()
    assert (crown.sample_id, crown.source, crown.category) == ("0", root / "videos/1.mp4", "add object")
    assert crown.instruction == "Add a small golden crown on the woman's head."
    assert (crown.source_caption, crown.target_caption) == ("A woman.", "A woman wearing a golden crown.")
    assert crown.extra["direction"] == "horizontal"
    assert hat.instruction == "Put the hat from <image1> on the man in the video."
    assert hat.extra["conditions"] == {"<image1>": str(root / "images/hat.png")}

    entries["1"].pop("<video1>")
    (tmp_path / "test.json").write_text(json.dumps(entries), encoding="utf-8")
    with pytest.raises(BenchmarkError, match=r"test\.json: entry '1': column '<video1>' is missing"):
        read_benchmark(tmp_path, kind="editverse")


def test_openve_layout(tmp_path: Path) -> None:
    name = "0054_global_style_Apply_the_Chinese_In"
    touch(tmp_path, f"videos/{name}.mp4", "videos/0100_local_add_x.mp4")
    write_csv(
        tmp_path / "benchmark_videos.csv",
        [
            "edited_type,prompt,original_video",
            f'global_style,"Apply an ink-wash style, with brushstrokes.",OpenVE-Bench/videos/{name}.mp4',
            "local_add,Add a red kite in the sky.,videos/0100_local_add_x.mp4",
        ],
    )
    style, kite = read_benchmark(tmp_path)
    assert (style.sample_id, style.category) == (name, "global_style")
    assert style.source == tmp_path.resolve() / f"videos/{name}.mp4"
    assert style.instruction == "Apply an ink-wash style, with brushstrokes."
    assert (kite.sample_id, kite.category) == ("0100_local_add_x", "local_add")


# -- SynthEdit ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synth_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    folder = tmp_path_factory.mktemp("synth")
    records = write_synth_dataset(folder, 6, 0, size=(16, 24), num_frames=3, fps=4, broken_fraction=0.5)
    assert any(r["broken"] for r in records) and not all(r["broken"] for r in records)
    return folder, records


def test_synthedit_folder_is_a_ground_truth_benchmark(synth_folder: tuple[Path, list[dict]]) -> None:
    folder, records = synth_folder
    clean = [r for r in records if not r["broken"]]
    samples = read_benchmark(folder)
    assert samples == synthedit_benchmark(folder) == read_benchmark(folder / "records.jsonl")
    assert [s.sample_id for s in samples] == [r["id"] for r in clean]
    root = folder.resolve()
    for sample, record in zip(samples, clean, strict=True):
        assert sample.source == root / record["source"]
        assert sample.ground_truth == root / record["edited"]
        assert sample.mask == root / record["mask"]
        assert sample.edited is None
        assert (sample.instruction, sample.category) == (record["instruction"], record["category"])
        assert sample.target_caption == record["target_caption"]
        assert sample.extra["broken"] is None and "scene" not in sample.extra


def test_synthedit_with_broken_edits_as_predictions(synth_folder: tuple[Path, list[dict]]) -> None:
    folder, records = synth_folder
    samples = synthedit_benchmark(folder, include_broken=True, as_predictions=True)
    assert len(samples) == len(records)
    for sample, record in zip(samples, records, strict=True):
        assert sample.edited == folder.resolve() / record["edited"]
        # A broken sample's edited video is the wrong edit: it has no ground truth on disk.
        assert (sample.ground_truth is None) == bool(record["broken"])
        assert sample.extra["broken"] == record["broken"]


def test_synthedit_round_trips_through_the_generic_manifest(synth_folder: tuple[Path, list[dict]]) -> None:
    folder, _ = synth_folder
    samples = synthedit_benchmark(folder)
    path = write_benchmark(samples, folder / "benchmark.jsonl")
    try:
        assert read_benchmark(path) == samples
    finally:
        path.unlink()
