"""``insvie build`` end to end on real clips, a real image, a pair list and bad inputs mixed in."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
from insvie_cli import run_cli_inheriting as run_cli
from PIL import Image
from ray_nodes import RAY_ENV, RayNodes, free_port

from insvie.store import Dataset

FAST_CONFIG = """
split: {clip_frames: 9, max_side: 256, clips_per_shot: 1}
instruct: {per_item: 1, seed: 3, operators: [night, sepia, teal_orange]}
edit: {strengths: [0.6, 0.8, 1.0]}
propagate: {flow_size: 160}
animate: {num_frames: 9, max_side: 256}
"""


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, shared_media: Path) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("inputs")
    media = root / "media"
    media.mkdir()
    shutil.copy(shared_media / "horse_gallop.mp4", media)
    shutil.copy(shared_media / "camping.png", media)
    (media / "notes.mp4").write_text("not a video at all\n")
    whole = (shared_media / "cat_grass.mp4").read_bytes()
    (media / "cut_short.mp4").write_bytes(whole[: len(whole) // 3])
    (media / "readme.txt").write_text("ignored\n")
    pairs = root / "pairs"
    pairs.mkdir()
    photo = np.asarray(Image.open(shared_media / "camping.png").convert("RGB").resize((320, 240)))
    Image.fromarray(photo).save(pairs / "before.png")
    Image.fromarray(255 - photo).save(pairs / "after.png")
    lines = [
        {"source": "before.png", "edited": "after.png", "instruction": "Invert the colours"},
        {"source": "before.png", "edited": "missing.png", "instruction": "Nothing"},
    ]
    (pairs / "pairs.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\nnot json\n")
    config = root / "fast.yaml"
    config.write_text(FAST_CONFIG)
    return {"media": media, "pairs": pairs / "pairs.jsonl", "config": config}


@pytest.fixture(scope="module")
def built(
    tmp_path_factory: pytest.TempPathFactory, inputs: dict[str, Path]
) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("build") / "ds"
    args = (
        "build",
        str(out),
        "-c",
        str(inputs["config"]),
        "-i",
        str(inputs["media"]),
        "--pairs",
        str(inputs["pairs"]),
    )
    return out, run_cli(*args)


def _status(out: Path) -> dict:
    result = run_cli("status", str(out), "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_build_goes_on_past_bad_inputs(built, inputs):
    out, result = built
    assert result.returncode == 0, result.stderr
    assert "readme.txt: not a video or image extension" in result.stderr
    assert "pairs.jsonl:2: missing image" in result.stderr
    assert "pairs.jsonl:3: not a pair record" in result.stderr
    steps = {step["stage"]: step for step in _status(out)["steps"]}
    split = steps["split"]
    assert split["total"] == 3 and split["kept"] == 1
    assert split["rejected"] == {"not-a-video": 1, "truncated": 1}
    with Dataset.open(out, create=False) as ds:
        reasons = {
            ds.get_item(r.item_id).meta["name"]: (r.reason, r.output["error"])
            for r in ds.latest_results("video")
            if r.stage == "split" and r.status == "rejected"
        }
    assert set(reasons) == {"notes.mp4", "cut_short.mp4"}
    assert all(error for _, error in reasons.values())


def test_every_branch_makes_triplets_with_provenance(built):
    out, _ = built
    status = _status(out)
    assert status["triplets"] >= 1
    with Dataset.open(out, create=False) as ds:
        triplets = list(ds.iter_items("triplet"))
        assert {t.meta["branch"] for t in triplets} == {"video", "image", "pair"}
        for triplet in triplets:
            assert ds.resolve(triplet.meta["source_media"]).is_file() and ds.resolve(triplet.media).is_file()
            assert triplet.meta["instruction"] and triplet.meta["source_file"]
        edits = [r for r in ds.latest_results() if r.stage in ("edit", "image_edit")]
        assert edits
        for result in edits:
            # every candidate is kept, with its strength, seed, scores and stored image
            assert len(result.output["candidates"]) == 3
            for candidate in result.output["candidates"]:
                assert {"strength", "seed", "change", "structure", "score"} <= set(candidate)
                assert ds.resolve(result.output[candidate["file"]]).is_file()
        refilter = [r for r in ds.latest_results("triplet") if r.stage == "refilter"]
        assert len(refilter) == len(triplets)
        assert all("motion_relative_epe" in r.output["metrics"] for r in refilter if r.output)
        build = json.loads((out / "build.json").read_text())
        for step in build["steps"]:
            assert ds.get_config(step["config_hash"])["stage"] == step["name"]


def test_rerun_of_a_finished_build_does_no_work(built, inputs):
    out, _ = built
    before = _status(out)
    again = run_cli(
        "build",
        str(out),
        "-c",
        str(inputs["config"]),
        "-i",
        str(inputs["media"]),
        "--pairs",
        str(inputs["pairs"]),
    )
    assert again.returncode == 0, again.stderr
    build = json.loads((out / "build.json").read_text())
    assert all(step["ran"] == 0 for step in build["steps"]), build["steps"]
    assert _status(out) == before


def test_exports_round_trip(built, tmp_path):
    out, _ = built
    accepted = _status(out)["triplets"]
    assert run_cli("export", str(out), "--format", "parquet", "--dest", str(tmp_path / "m")).returncode == 0
    duckdb = pytest.importorskip("duckdb")
    manifest = tmp_path / "m" / "manifest.parquet"
    rows = duckdb.sql(f"SELECT count(*) FROM '{manifest}' WHERE kind = 'triplet'").fetchall()[0][0]
    with Dataset.open(out, create=False) as ds:
        assert rows == len(list(ds.iter_items("triplet")))

    assert (
        run_cli(
            "export", str(out), "-f", "webdataset", "--dest", str(tmp_path / "wds"), "--shard-size", "2"
        ).returncode
        == 0
    )
    members: list[str] = []
    for shard in sorted((tmp_path / "wds").glob("shard-*.tar")):
        with tarfile.open(shard) as tar:
            members += tar.getnames()
            for name in tar.getnames():
                if name.endswith(".json"):
                    record = json.load(tar.extractfile(name))
                    assert record["instruction"] and record["id"]
    assert len(members) == 3 * accepted
    assert all(name.count(".") == 2 if name.endswith(".mp4") else name.count(".") == 1 for name in members)

    assert run_cli("export", str(out), "-f", "insvie-csv", "--dest", str(tmp_path / "csv")).returncode == 0
    lines = (tmp_path / "csv" / "metadata.csv").read_text().splitlines()
    assert lines[0] == "video,instruct" and len(lines) == accepted + 1
    for line in lines[1:]:
        name = line.split(",")[0]
        assert (tmp_path / "csv" / "source" / name).is_file() and (
            tmp_path / "csv" / "edited" / name
        ).is_file()


def test_review_rejection_is_honoured_by_exports(built, tmp_path):
    out, _ = built
    accepted = _status(out)["triplets"]
    with Dataset.open(out, create=False) as ds:
        from insvie.store import accepted_triplets

        first = next(accepted_triplets(ds)).item.id
        ds.set_review(first, "reject", reason="looks wrong")
    try:
        assert _status(out)["triplets"] == accepted - 1
        assert (
            run_cli("export", str(out), "-f", "insvie-csv", "--dest", str(tmp_path / "csv")).returncode == 0
        )
        assert len((tmp_path / "csv" / "metadata.csv").read_text().splitlines()) == accepted
    finally:
        with Dataset.open(out, create=False) as ds:
            ds.set_review(first, "accept")


def test_bad_config_fails_before_any_work(tmp_path, inputs):
    config = tmp_path / "bad.yaml"
    config.write_text("split: {clip_frame: 9}\nedit: {strengths: [2.0]}\n")
    result = run_cli("build", str(tmp_path / "ds"), "-c", str(config), "-i", str(inputs["media"]))
    assert result.returncode == 2
    assert "split.clip_frame" in result.stderr and "edit.strengths" in result.stderr
    assert not (tmp_path / "ds").exists()


def _decisions(out: Path) -> dict[tuple[str, str], tuple[str, str | None]]:
    with Dataset.open(out, create=False) as ds:
        return {(r.stage, r.item_id): (r.status, r.reason) for r in ds.latest_results()}


@pytest.mark.slow
@pytest.mark.xdist_group("ray")
def test_ray_build_makes_the_same_decisions_as_local(built, inputs, tmp_path):
    pytest.importorskip("ray")
    local, _ = built
    out = tmp_path / "ray"
    result = run_cli(
        "build",
        str(out),
        "-c",
        str(inputs["config"]),
        "-i",
        str(inputs["media"]),
        "--pairs",
        str(inputs["pairs"]),
        "--executor",
        "ray",
        "--workers",
        "2",
    )
    assert result.returncode == 0, result.stderr
    assert _decisions(out) == _decisions(local)
    with Dataset.open(out, create=False) as ray_ds, Dataset.open(local, create=False) as local_ds:
        assert {i.id: i.meta for i in ray_ds.iter_items("triplet")} == {
            i.id: i.meta for i in local_ds.iter_items("triplet")
        }


@pytest.fixture
def ray_cluster():
    """A Ray head started the way a user starts one (`ray start`), on loopback, and stopped exactly
    (``ray_nodes.RayNodes``: never a machine-wide ``ray stop``).

    Token authentication is switched off for this throwaway loopback cluster: the driver and the head
    then need no shared token file.
    """
    pytest.importorskip("ray")
    pytest.importorskip("psutil")
    env = {**os.environ, **RAY_ENV, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    nodes = RayNodes()
    port = free_port()
    try:
        nodes.start(
            [
                "--head",
                "--node-ip-address=127.0.0.1",
                f"--port={port}",
                "--num-cpus=2",
                f"--temp-dir={nodes.root}",
                "--include-dashboard=false",
                f"--dashboard-port={free_port()}",
                f"--ray-client-server-port={free_port()}",
                f"--dashboard-agent-listen-port={free_port()}",
                "--disable-usage-stats",
            ],
            env={"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"},
        )
        yield f"127.0.0.1:{port}", env
    finally:
        nodes.stop()


@pytest.mark.slow
@pytest.mark.xdist_group("ray")
def test_ray_build_joins_an_existing_cluster(built, inputs, tmp_path, ray_cluster):
    local, _ = built
    address, env = ray_cluster
    out = tmp_path / "joined"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "insvie",
            "build",
            str(out),
            "-c",
            str(inputs["config"]),
            "-i",
            str(inputs["media"]),
            "--pairs",
            str(inputs["pairs"]),
            "--executor",
            "ray",
            "--ray-address",
            address,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert _decisions(out) == _decisions(local)
