"""Training data: manifests and filters, 4k+1 sampling, aligned crops, buckets, augmentation rates."""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from insvie.errors import InsvieError  # noqa: E402
from insvie.synth import write_synth_dataset  # noqa: E402
from insvie.train.augment import (  # noqa: E402
    AugmentConfig,
    apply_latent_augment,
    apply_pixel_augment,
    draw_augment,
    item_rng,
)
from insvie.train.data import (  # noqa: E402
    TripletDataset,
    TripletManifest,
    aligned_crop_pair,
    collate,
    row_matches,
)
from insvie.train.sampling import BucketBatchSampler, nearest_bucket, sample_frame_indices  # noqa: E402

OFF = AugmentConfig.off()


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("synth")
    write_synth_dataset(folder, 6, seed=3, size=(48, 64), num_frames=9)
    return folder


def binomial_ok(hits: int, n: int, p: float, sigmas: float = 5.0) -> bool:
    return abs(hits - n * p) <= sigmas * math.sqrt(n * p * (1 - p)) + 1


# -- manifests ------------------------------------------------------------------------------------


def test_from_synth_rows(synth):
    manifest = TripletManifest.from_synth(synth)
    assert len(manifest) == 6
    row = manifest[0]
    assert row.id == "synth-00000" and row.source.is_file() and row.target.is_file()
    assert row.prompt and "category" in row.meta
    categories = {r.meta["category"] for r in manifest}
    chosen = next(iter(categories))
    selected = manifest.select({"category": [chosen]})
    assert 0 < len(selected) <= 6 and all(r.meta["category"] == chosen for r in selected)


def test_from_insvie_csv(synth, tmp_path):
    rows = TripletManifest.from_synth(synth)[:3]
    for sub in ("source", "edited"):
        (tmp_path / sub).mkdir()
    with open(tmp_path / "metadata.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["video", "instruct"])
        for row in rows:
            shutil.copyfile(row.source, tmp_path / "source" / f"{row.id}.mp4")
            shutil.copyfile(row.target, tmp_path / "edited" / f"{row.id}.mp4")
            writer.writerow([f"{row.id}.mp4", row.prompt])
    manifest = TripletManifest.from_insvie_csv(tmp_path)
    assert [r.id for r in manifest] == [r.id for r in rows]
    assert [r.prompt for r in manifest] == [r.prompt for r in rows]
    assert manifest[1].source == tmp_path.resolve() / "source" / f"{rows[1].id}.mp4"


def _write_parquet(path: Path, records: list[dict]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {key: [r.get(key) for r in records] for key in ("id", "kind", "media", "meta")}
    columns["meta_branch"] = [json.loads(r["meta"]).get("branch") for r in records]
    pq.write_table(pa.table(columns), path)


def test_from_parquet_filters_and_paths(synth, tmp_path):
    def meta(i, branch, score):
        return json.dumps(
            {
                "source_media": f"source/synth-0000{i}.mp4",
                "instruction": f"edit {i}",
                "branch": branch,
                "category": "recolour",
                "judge": {"score": score},
            }
        )

    records = [
        {"id": "t0", "kind": "triplet", "media": "edited/synth-00000.mp4", "meta": meta(0, "video", 8)},
        {"id": "t1", "kind": "triplet", "media": "edited/synth-00001.mp4", "meta": meta(1, "image", 5)},
        {"id": "t2", "kind": "triplet", "media": "edited/synth-00002.mp4", "meta": meta(2, "video", 3)},
        {"id": "c0", "kind": "clip", "media": "source/synth-00003.mp4", "meta": "{}"},
    ]
    _write_parquet(tmp_path / "m.parquet", records)
    manifest = TripletManifest.from_parquet(tmp_path / "m.parquet", root=synth)
    assert [r.id for r in manifest] == ["t0", "t1", "t2"]
    assert manifest[1].prompt == "edit 1" and manifest[1].source.name == "synth-00001.mp4"
    assert [r.id for r in manifest.select({"branch": ["video"]})] == ["t0", "t2"]
    assert [r.id for r in manifest.select({"judge.score": {"min": 5}})] == ["t0", "t1"]
    assert [r.id for r in manifest.select({"branch": ["video"], "judge.score": {"max": 4}})] == ["t2"]
    assert [r.id for r in manifest.select({"kind": "triplet", "missing": [1]})] == []

    escaping = [{"id": "x", "kind": "triplet", "media": "../outside.mp4", "meta": meta(0, "video", 1)}]
    _write_parquet(tmp_path / "bad.parquet", escaping)
    with pytest.raises(InsvieError):
        TripletManifest.from_parquet(tmp_path / "bad.parquet", root=synth)


def test_row_matches_rules():
    meta = {"a": 1, "b": "x", "flag": True}
    assert row_matches(meta, {"a": {"min": 1, "max": 1}, "b": ["x", "y"], "flag": True})
    assert not row_matches(meta, {"a": {"min": 2}})
    assert not row_matches(meta, {"flag": {"min": 0}})  # booleans are not scores
    with pytest.raises(ValueError):
        row_matches(meta, {"a": {"above": 0}})


# -- sampling -------------------------------------------------------------------------------------


@pytest.mark.parametrize("available", [1, 3, 5, 9, 12, 30, 49, 100])
def test_frame_indices_are_4k_plus_1_and_in_range(available):
    rng = np.random.default_rng(0)
    for short in ("resample", "shorten"):
        for _ in range(20):
            indices = sample_frame_indices(available, 17, rng, strides=(1, 2, 3), short=short)
            assert len(indices) % 4 == 1 and np.all(np.diff(indices) >= 0)
            assert indices.min() >= 0 and indices.max() < available
            if available >= 17:
                assert len(indices) == 17 and len(set(np.diff(indices))) == 1
            elif short == "shorten":
                assert len(indices) == (available - 1) // 4 * 4 + 1 and np.all(np.diff(indices) == 1)
            else:
                # Resampled: every frame is used and none is repeated more than its fair share.
                counts = np.bincount(indices, minlength=available)
                assert len(indices) == 17 and counts.min() >= 1 and counts.max() <= math.ceil(17 / available)


def test_frame_indices_validate():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError):
        sample_frame_indices(10, 8, rng)
    with pytest.raises(ValueError):
        sample_frame_indices(10, 9, rng, short="freeze")


def test_nearest_bucket():
    buckets = [(32, 48), (48, 32), (32, 32)]
    assert nearest_bucket(480, 720, buckets) == (32, 48)
    assert nearest_bucket(720, 480, buckets) == (48, 32)
    assert nearest_bucket(100, 110, buckets) == (32, 32)


def test_bucket_sampler_batches_share_keys_and_reproduce():
    keys = [(9, 32, 48)] * 7 + [(9, 48, 32)] * 5 + [(5, 32, 48)] * 3
    sampler = BucketBatchSampler(keys, 2, seed=1)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(len(keys)))
    assert all(len({keys[i] for i in b}) == 1 for b in batches)
    assert batches == list(BucketBatchSampler(keys, 2, seed=1))
    sampler.set_epoch(1)
    assert list(sampler) != batches
    dropped = list(BucketBatchSampler(keys, 2, seed=1, drop_last=True))
    assert all(len(b) == 2 for b in dropped) and len(dropped) == 3 + 2 + 1


# -- crops and items ------------------------------------------------------------------------------


def test_aligned_crop_keeps_pairs_aligned():
    rng = np.random.default_rng(0)
    video = rng.integers(0, 200, (5, 40, 60, 3), dtype=np.uint8)
    shifted = video + np.uint8(50)  # a value-shifted copy: any misalignment breaks the difference
    positions = set()
    for seed in range(10):
        a, b = aligned_crop_pair(video, shifted, (32, 32), np.random.default_rng(seed))
        assert a.shape == (5, 32, 32, 3)
        assert np.array_equal(b.astype(int) - a.astype(int), np.full(a.shape, 50))
        positions.add(a[0, 0, 0].tobytes())
    assert len(positions) > 1  # the window moves between seeds


def test_dataset_items_shapes_ranges_and_identity_alignment(synth):
    manifest = TripletManifest.from_synth(synth)
    dataset = TripletDataset(manifest, num_frames=9, size=(32, 48), strides=(1,), augment=OFF, seed=0)
    item = dataset[0]
    assert set(item) >= {"source", "target", "prompt", "id", "drop_source"}
    assert item["source"].shape == item["target"].shape == (9, 3, 32, 48)
    assert item["source"].dtype == torch.float32
    assert item["source"].min() >= -1 and item["source"].max() <= 1
    assert item["prompt"] == manifest[0].prompt and item["id"] == manifest[0].id
    assert item["drop_source"] is False

    # Source and target the same file: an aligned crop gives identical clips.
    same = [type(row)(row.id, row.source, row.source, row.prompt, row.meta) for row in manifest]
    twin = TripletDataset(same, num_frames=5, size=(32, 32), augment=OFF, seed=4)
    for index in range(3):
        got = twin[index]
        assert got["source"].shape == (5, 3, 32, 32)
        assert torch.equal(got["source"], got["target"])

    # Reproducible per (seed, epoch, index); a new epoch draws a new window.
    again = TripletDataset(manifest, num_frames=5, size=(32, 32), augment=OFF, seed=0)
    first = again[1]["source"]
    assert torch.equal(first, again[1]["source"])
    differs = False
    for epoch in range(1, 6):
        again.set_epoch(epoch)
        differs |= not torch.equal(first, again[1]["source"])
    assert differs


def test_short_clip_is_resampled_not_frozen(synth):
    manifest = TripletManifest.from_synth(synth)
    dataset = TripletDataset(manifest, num_frames=17, size=(32, 48), augment=OFF)
    item = dataset[0]
    assert item["source"].shape[0] == 17
    # 9 frames to 17: each frame appears about twice; the last frame is not held for half the clip.
    last = item["source"][-1]
    held = sum(torch.equal(frame, last) for frame in item["source"])
    assert held <= 3
    shorten = TripletDataset(manifest, num_frames=17, size=(32, 48), short="shorten", augment=OFF)
    assert shorten[0]["source"].shape[0] == 9 and shorten.bucket_key(0) == (9, 32, 48)


def test_buckets_with_loader(synth):
    manifest = TripletManifest.from_synth(synth)
    dataset = TripletDataset(manifest, num_frames=5, buckets=[(32, 48), (48, 32)], augment=OFF)
    keys = [dataset.bucket_key(i) for i in range(len(dataset))]
    assert set(keys) == {(5, 32, 48)}  # 48x64 sources are landscape
    sampler = BucketBatchSampler(dataset.bucket_key, 4, num_items=len(dataset), seed=0)
    loader = torch.utils.data.DataLoader(dataset, batch_sampler=sampler, collate_fn=collate)
    batches = list(loader)
    assert sum(len(b["id"]) for b in batches) == 6
    batch = batches[0]
    assert batch["source"].shape[1:] == (5, 3, 32, 48) and batch["drop_source"].dtype == torch.bool
    assert isinstance(batch["prompt"], list)


def test_collate_refuses_mixed_shapes():
    items = [{"source": torch.zeros(5, 3, 8, 8), "id": "a"}, {"source": torch.zeros(5, 3, 8, 16), "id": "b"}]
    with pytest.raises(ValueError, match="bucket"):
        collate(items)


# -- augmentations --------------------------------------------------------------------------------


def test_augment_rates_and_noise_distribution():
    config = AugmentConfig()
    n = 20000
    draws = [draw_augment(config, item_rng(7, 0, i, 1)) for i in range(n)]
    assert binomial_ok(sum(d.drop_text for d in draws), n, 0.10)
    assert binomial_ok(sum(d.drop_source for d in draws), n, 0.05)
    assert binomial_ok(sum(d.identity for d in draws), n, 0.05)
    logs = np.log([d.noise_sigma for d in draws])
    assert abs(logs.mean() + 3.0) < 0.03 and abs(logs.std() - 0.5) < 0.03
    assert draws == [draw_augment(config, item_rng(7, 0, i, 1)) for i in range(n)]
    assert draws != [draw_augment(config, item_rng(8, 0, i, 1)) for i in range(n)]
    custom = AugmentConfig(text_drop=0.5, source_drop=0.0, identity=1.0, noise=False)
    custom_draws = [draw_augment(custom, item_rng(7, 0, i, 1)) for i in range(2000)]
    assert binomial_ok(sum(d.drop_text for d in custom_draws), 2000, 0.5)
    assert not any(d.drop_source for d in custom_draws) and all(d.identity for d in custom_draws)
    assert all(d.noise_sigma == 0 for d in custom_draws)
    with pytest.raises(ValueError):
        AugmentConfig(text_drop=1.5)


def test_apply_pixel_augment():
    source = torch.linspace(-1, 1, 2 * 3 * 4 * 4).reshape(2, 3, 4, 4)
    target = -source
    draw = draw_augment(AugmentConfig(identity=1.0, text_drop=0.0), item_rng(0, 0, 0))
    noisy, tgt, prompt = apply_pixel_augment(source, target, "make it red", draw)
    assert prompt == "" and torch.equal(tgt, source)  # identity: target is the clean source
    assert not torch.equal(noisy, source) and noisy.min() >= -1 and noisy.max() <= 1
    residual = (noisy - source)[source.abs() < 0.8]
    assert residual.std() < 10 * draw.noise_sigma
    same, _, _ = apply_pixel_augment(source, target, "x", draw)
    assert torch.equal(same, noisy)  # the noise is seeded by the draw
    latents = apply_latent_augment(torch.ones(2, 4, 2, 2), torch.zeros(2, 4, 2, 2), torch.ones(3, 5), draw)
    assert torch.equal(latents[1], latents[0]) and not latents[2].any()


def test_dataset_augment_rates_over_items(synth):
    manifest = TripletManifest.from_synth(synth)
    config = AugmentConfig(text_drop=0.3, source_drop=0.2, identity=0.0, noise=False)
    dataset = TripletDataset(manifest[:1], num_frames=1, size=(32, 32), augment=config, seed=5)
    n = 300
    prompts, drops = [], []
    for epoch in range(n):
        dataset.set_epoch(epoch)
        item = dataset[0]
        prompts.append(item["prompt"])
        drops.append(item["drop_source"])
    assert binomial_ok(sum(p == "" for p in prompts), n, 0.3)
    assert binomial_ok(sum(drops), n, 0.2)


def test_stage_config_sets_the_augmentations(synth, tmp_path):
    from insvie.errors import ConfigError
    from insvie.train.config import load_train_config
    from insvie.train.run import dataset_for

    file = tmp_path / "stage.yaml"
    file.write_text(
        f"model: m\noutput_dir: out\nsteps: 1\ndata: {{manifest: {synth}, options: {{num_frames: 5}},"
        " augment: {text_drop: 1.0, identity: 0.0, noise: false}}\n"
    )
    dataset = dataset_for(load_train_config(file))
    assert dataset.augment == AugmentConfig(text_drop=1.0, identity=0.0, noise=False)
    assert all(dataset[i]["prompt"] == "" for i in range(len(dataset)))  # every instruction dropped

    file.write_text(
        f"model: m\noutput_dir: out\nsteps: 1\ndata: {{manifest: {synth}, augment: {{text_drop: 2}}}}\n"
    )
    with pytest.raises(ConfigError, match=r"data\.augment.*text_drop must be within \[0, 1\]"):
        load_train_config(file)
    file.write_text(
        f"model: m\noutput_dir: out\nsteps: 1\ndata: {{manifest: {synth}, options: {{augment: {{}}}}}}\n"
    )
    with pytest.raises(ConfigError, match=r"augment belongs in data\.augment"):
        load_train_config(file)
