"""Data order: global batches split across processes, resume position, shape buckets, epochs."""

from __future__ import annotations

from itertools import islice

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("accelerate")
pytest.importorskip("peft")

from torch.utils.data import Dataset  # noqa: E402

from insvie.train.config import TrainStageConfig  # noqa: E402
from insvie.train.loop import train  # noqa: E402
from insvie.train.order import EpochItems, RankSampler, batch_keys  # noqa: E402


def _take(sampler: RankSampler, count: int) -> list[tuple[int, int]]:
    return list(islice(iter(sampler), count))


def test_processes_split_each_global_batch():
    ranks = [RankSampler(7, batch_size=2, rank=r, world=2, seed=3) for r in range(2)]
    draws = [_take(s, 6) for s in ranks]  # 3 micro-batches of 2 per process
    for micro in range(3):
        batch = draws[0][2 * micro : 2 * micro + 2] + draws[1][2 * micro : 2 * micro + 2]
        assert len({index for _, index in batch}) == 4  # one global batch: 4 distinct items
        assert len({epoch for epoch, _ in batch}) == 1
    # 7 items make one whole global batch of 4 per epoch: the 3 left over wait for another epoch
    assert [epoch for epoch, _ in draws[0]] == [0, 0, 1, 1, 2, 2]


def test_resume_position_continues_the_same_order():
    straight = _take(RankSampler(10, batch_size=3, rank=1, world=2, seed=0), 30)
    resumed = _take(RankSampler(10, batch_size=3, rank=1, world=2, seed=0, start=4), 18)
    assert resumed == straight[12:]


def test_bucket_keys_keep_a_global_batch_to_one_shape():
    keys = ["a", "b", "a", "a", "b", "c", "a", "b", "b", "a", "b"]
    ranks = [RankSampler(len(keys), batch_size=2, rank=r, world=2, seed=5, keys=keys) for r in range(2)]
    draws = [_take(s, 40) for s in ranks]
    for micro in range(20):
        batch = draws[0][2 * micro : 2 * micro + 2] + draws[1][2 * micro : 2 * micro + 2]
        assert len({keys[index] for _, index in batch}) == 1
        assert len({index for _, index in batch}) == 4
    assert "c" not in {keys[index] for _, index in draws[0] + draws[1]}  # one "c": never a full batch
    with pytest.raises(ValueError, match="largest group of same-shaped items has 5"):
        RankSampler(len(keys), batch_size=3, rank=0, world=2, seed=0, keys=keys)


class Shapes(Dataset):
    """Cached-mode items of two shapes (2 or 3 latent frames); records the epochs it is asked for."""

    uniform_shape = False

    def __init__(self):
        self.epoch, self.epochs = 0, []

    def __len__(self) -> int:
        return 8

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def bucket_key(self, index: int) -> int:
        return 2 + index % 2

    def __getitem__(self, index: int) -> dict:
        self.epochs.append(self.epoch)
        g = torch.Generator().manual_seed(index)
        frames = self.bucket_key(index)
        return {
            "source_latents": torch.randn(frames, 16, 4, 6, generator=g),
            "target_latents": torch.randn(frames, 16, 4, 6, generator=g),
            "prompt_embeds": torch.randn(16, 32, generator=g),
            "id": str(index),
        }


def test_epoch_items_pass_the_epoch_on():
    data = Shapes()
    items = EpochItems(data)
    items[(3, 1)]
    assert data.epochs == [3]
    assert batch_keys(data, 1) is None  # one item per batch: any shape goes
    assert batch_keys(data, 2) == [2, 3] * 4


def test_training_batches_items_of_mixed_shapes(tmp_path):
    from insvie.tiny import build_tiny_editor_pipeline

    model = build_tiny_editor_pipeline(tmp_path / "editor")
    data = Shapes()
    config = TrainStageConfig(
        model=model, output_dir=tmp_path / "out", steps=5, batch_size=2, lora={"rank": 4}, learning_rate=1e-3
    )
    train(config, data)
    assert (tmp_path / "out" / "final" / "model_index.json").is_file()
    assert max(data.epochs) >= 1  # 8 items, 2 per step: the fifth step is in the second epoch
