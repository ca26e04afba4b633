"""Stage configs: loading, path resolution and errors that name the key."""

from __future__ import annotations

import json

import pytest

from insvie.errors import ConfigError
from insvie.train.config import TrainStageConfig, load_train_config


def test_load_yaml_resolves_paths(tmp_path):
    (tmp_path / "prev" / "final").mkdir(parents=True)
    file = tmp_path / "stage2.yaml"
    file.write_text(
        "name: video\ninit_from: prev\noutput_dir: out\nsteps: 10\n"
        "data: {manifest: data/m.parquet, filters: {source_kind: [video], judge_min: 3.5}}\n"
        "lora: {rank: 128}\nmixed_precision: bf16\n"
    )
    config = load_train_config(file)
    assert config.output_dir == tmp_path / "out"
    assert config.start_weights() == tmp_path / "prev" / "final"
    assert config.data.manifest == tmp_path / "data" / "m.parquet"
    assert config.data.filters == {"source_kind": ["video"], "judge_min": 3.5}
    assert config.lora.target_modules == ["to_q", "to_k", "to_v", "to_out.0"]


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"model": "m", "output_dir": "o", "steps": 1, "lr": 1}, "lr"),
        ({"model": "m", "output_dir": "o", "steps": 0}, "steps"),
        ({"model": "m", "output_dir": "o", "steps": 1, "lora": {"rank": 0}}, "lora.rank"),
        ({"model": "m", "output_dir": "o", "steps": 1, "mixed_precision": "fp8"}, "mixed_precision"),
        ({"model": "m", "output_dir": "o"}, "steps"),
    ],
)
def test_errors_name_the_key(tmp_path, raw, key):
    file = tmp_path / "bad.json"
    file.write_text(json.dumps(raw))
    with pytest.raises(ConfigError, match=rf"bad\.json: .*{key}"):
        load_train_config(file)


def test_exactly_one_start():
    with pytest.raises(ValueError, match="exactly one"):
        TrainStageConfig(output_dir="o", steps=1)
    with pytest.raises(ValueError, match="exactly one"):
        TrainStageConfig(model="a", init_from="b", output_dir="o", steps=1)


def test_unreadable_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_train_config(tmp_path / "missing.yaml")
