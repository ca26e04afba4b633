"""From stage configs to training runs: the dataset a config names, the latent cache, stage chaining.

A stage config names its data by path: a Parquet manifest exported by ``insvie export`` (the triplets
of a built dataset), the released InsViE folder layout (``metadata.csv``), or a SynthEdit folder
(``records.jsonl``). With ``data.cache_dir`` holding a latent cache, training reads the cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from insvie.errors import ConfigError
from insvie.train.config import TrainStageConfig, load_train_config


def manifest_for(config: TrainStageConfig) -> Any:
    """The triplet rows the config's ``data`` section names, filtered by ``data.filters``."""
    from insvie.train.data import TripletManifest

    path = config.data.manifest
    if path is None:
        raise ConfigError(f"stage {config.name!r}: data.manifest is required")
    if path.suffix == ".parquet":
        # `insvie export` writes OUT/exports/manifest.parquet; its paths are relative to OUT
        root = config.data.root or (path.parent.parent if path.parent.name == "exports" else None)
        if root is None:
            raise ConfigError(f"stage {config.name!r}: set data.root, the dataset folder {path} belongs to")
        manifest = TripletManifest.from_parquet(path, root=root)
    elif (path / "records.jsonl").is_file():
        manifest = TripletManifest.from_synth(path)
    elif (path / "metadata.csv").is_file():
        manifest = TripletManifest.from_insvie_csv(path)
    else:
        raise ConfigError(
            f"stage {config.name!r}: data.manifest {path} is not a .parquet manifest, a SynthEdit folder "
            "(records.jsonl) or an InsViE folder (metadata.csv)"
        )
    if config.data.filters:
        manifest = manifest.select(config.data.filters)
    if not len(manifest):
        raise ConfigError(f"stage {config.name!r}: no triplets left in {path} after data.filters")
    return manifest


def dataset_for(config: TrainStageConfig) -> Any:
    """The training dataset: the latent cache when one exists for this config, else decoded pixels."""
    from insvie.train.cache import CachedTripletDataset

    cache = config.data.cache_dir
    if cache is not None and (cache / "index.json").is_file():
        return CachedTripletDataset(cache, augment=config.data.augment, seed=config.seed)
    return pixel_dataset(config)


def pixel_dataset(config: TrainStageConfig) -> Any:
    """Decoded training items of the stage's manifest, shaped by ``data.options``."""
    from insvie.train.data import TripletDataset

    options = dict(config.data.options)
    if options.get("size") is not None:
        options["size"] = tuple(options["size"])  # YAML gives a list
    try:
        return TripletDataset(manifest_for(config), augment=config.data.augment, seed=config.seed, **options)
    except TypeError as exc:
        raise ConfigError(f"stage {config.name!r}: data.options: {exc}") from exc


def build_cache(config: TrainStageConfig) -> Any:
    """Encode the stage's data once (VAE latents, T5 embeddings) into ``data.cache_dir``; resumable."""
    import torch

    from insvie.editor import InsViEEditPipeline
    from insvie.train.cache import build_latent_cache

    if config.data.cache_dir is None:
        raise ConfigError(f"stage {config.name!r}: set data.cache_dir to build a latent cache")
    pipe = InsViEEditPipeline.from_pretrained(config.start_weights(), dtype=torch.float32)
    return build_latent_cache(
        pixel_dataset(config),
        vae=pipe.vae,
        text_encoder=pipe.text_encoder,
        tokenizer=pipe.tokenizer,
        out=config.data.cache_dir,
        key_config={"model": str(config.start_weights())},
        # prompt embeddings must be as long as the model's text positions (226 for the real ones)
        max_sequence_length=pipe.transformer.config.max_text_seq_length,
    )


def run_stages(paths: Sequence[str | Path]) -> list[Path]:
    """Train the stage configs in order; a stage with ``init_from`` starts from the one before it."""
    from insvie.train.loop import train

    finals = []
    configs = [load_train_config(path) for path in paths]  # all validated before any training starts
    for config in configs:
        finals.append(train(config, dataset_for(config)))
    return finals
