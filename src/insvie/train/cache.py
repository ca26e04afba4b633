"""A cache of VAE latents and T5 prompt embeddings, computed once and read by training.

``build_latent_cache`` walks a pixel :class:`~insvie.train.data.TripletDataset` (augmentations should be
off: they are applied again on the cached latents) and stores one safetensors file per item under
``entries/<key>.safetensors``, the key being sha256 of (item id, sha256 of both media files, the
dataset's config and ``key_config``). Entries already present are skipped, so a stopped build
resumes and a repeated build computes nothing; ``index.json`` lists the entries of the last build.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch.utils.data import Dataset

from insvie.train.augment import AugmentConfig, apply_latent_augment, draw_augment, item_rng

INDEX = "index.json"
ENTRIES = "entries"
_FILE_HASHES: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes, memoised by (path, size, mtime)."""
    stat = path.stat()
    memo = (str(path), stat.st_size, stat.st_mtime_ns)
    if memo not in _FILE_HASHES:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        _FILE_HASHES[memo] = digest.hexdigest()
    return _FILE_HASHES[memo]


def entry_key(item_id: str, media_shas: Sequence[str], key_config: Mapping[str, Any]) -> str:
    payload = json.dumps(
        {"id": item_id, "media": list(media_shas), "config": key_config}, sort_keys=True, default=str
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CacheReport:
    total: int
    computed: int
    skipped: int
    index: Path


def _write_atomically(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@torch.no_grad()
def encode_pixels(vae: Any, pixels: torch.Tensor) -> torch.Tensor:
    """Scaled latents (B, F, C, h, w) of pixels (B, T, 3, H, W) in [-1, 1] (the distribution's mode),
    each clip encoded in one pass as the editor encodes its source (:mod:`insvie.editor.vae_codec`)."""
    from insvie.editor.vae_codec import whole_clip

    param = next(vae.parameters())
    x = pixels.to(device=param.device, dtype=param.dtype).permute(0, 2, 1, 3, 4)
    with whole_clip(vae, x.shape[2]):
        latents = vae.encode(x).latent_dist.mode()
    return latents.permute(0, 2, 1, 3, 4) * vae.config.scaling_factor


@torch.no_grad()
def encode_prompts(
    text_encoder: Any, tokenizer: Any, prompts: list[str], max_sequence_length: int
) -> torch.Tensor:
    """T5 embeddings (B, L, D), padded to ``max_sequence_length`` as the pipeline does."""
    from insvie.editor.prompts import t5_embeddings

    return t5_embeddings(text_encoder, tokenizer, prompts, max_sequence_length)


def build_latent_cache(
    dataset: Any,
    *,
    vae: Any,
    text_encoder: Any,
    tokenizer: Any,
    out: str | Path,
    key_config: Mapping[str, Any],
    batch_size: int = 1,
    max_sequence_length: int = 226,
    dtype: torch.dtype = torch.float32,
) -> CacheReport:
    """Encode every item of ``dataset`` not cached yet and write the index; see the module docstring.

    Augmentations of a :class:`~insvie.train.data.TripletDataset` are switched off for the build
    (the cache holds clean clips; :class:`CachedTripletDataset` draws them again). ``dataset`` needs
    ``manifest`` (rows with ``id``, ``source``, ``target``) and items as
    :class:`~insvie.train.data.TripletDataset` gives them. Items of one batch must share a shape
    (consecutive items are batched while they do).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if hasattr(dataset, "with_augment"):
        dataset = dataset.with_augment(AugmentConfig.off())  # augmentations are drawn again on latents
    out = Path(out)
    entries = out / ENTRIES
    entries.mkdir(parents=True, exist_ok=True)
    config = {
        "key_config": dict(key_config),
        "dataset": dataset.config() if hasattr(dataset, "config") else None,
        "max_sequence_length": max_sequence_length,
        "dtype": str(dtype),
    }
    index: list[dict[str, str]] = []
    pending: list[tuple[int, str]] = []
    for position, row in enumerate(dataset.manifest):
        key = entry_key(row.id, [file_sha256(Path(row.source)), file_sha256(Path(row.target))], config)
        index.append({"key": key, "id": row.id, "file": f"{ENTRIES}/{key}.safetensors"})
        if not (entries / f"{key}.safetensors").is_file():
            pending.append((position, key))

    batch: list[tuple[str, dict[str, Any]]] = []

    def flush() -> None:
        if not batch:
            return
        source = encode_pixels(vae, torch.stack([item["source"] for _, item in batch]))
        target = encode_pixels(vae, torch.stack([item["target"] for _, item in batch]))
        embeds = encode_prompts(
            text_encoder, tokenizer, [item["prompt"] for _, item in batch], max_sequence_length
        )
        for offset, (key, item) in enumerate(batch):
            tensors = {
                "source_latents": source[offset].to(dtype).contiguous().cpu(),
                "target_latents": target[offset].to(dtype).contiguous().cpu(),
                "prompt_embeds": embeds[offset].to(dtype).contiguous().cpu(),
            }
            metadata = {"id": item["id"], "prompt": item["prompt"]}
            _write_atomically(
                entries / f"{key}.safetensors",
                lambda tmp, tensors=tensors, metadata=metadata: save_file(
                    tensors, str(tmp), metadata=metadata
                ),
            )
        batch.clear()

    for position, key in pending:
        item = dataset[position]
        if batch and (len(batch) >= batch_size or item["source"].shape != batch[0][1]["source"].shape):
            flush()
        batch.append((key, item))
    flush()

    index_path = out / INDEX
    document = {"config": config, "entries": index}
    _write_atomically(
        index_path, lambda tmp: tmp.write_text(json.dumps(document, indent=1), encoding="utf-8")
    )
    return CacheReport(
        total=len(index), computed=len(pending), skipped=len(index) - len(pending), index=index_path
    )


class CachedTripletDataset(Dataset):
    """Items ``{"source_latents", "target_latents", "prompt_embeds", "id", "drop_source", "drop_text"}``.

    Augmentations on latents (identity pairs, dropped text as zero embeddings, the ``drop_source``
    flag) are drawn per (seed, epoch, index) like the pixel dataset's; pixel noise cannot be applied.
    """

    def __init__(self, out: str | Path, *, augment: AugmentConfig | None = None, seed: int = 0) -> None:
        self.root = Path(out)
        document = json.loads((self.root / INDEX).read_text(encoding="utf-8"))
        self.entries: list[dict[str, str]] = document["entries"]
        self.config = document["config"]
        self.augment = AugmentConfig() if augment is None else augment
        self.seed = int(seed)
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.entries)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    @property
    def uniform_shape(self) -> bool:
        """Whether every entry has the same latent shape, as the build's dataset settings guarantee."""
        settings = self.config.get("dataset") or {}
        return settings.get("size") is not None and settings.get("short") == "resample"

    def bucket_key(self, index: int) -> tuple[int, ...]:
        from safetensors import safe_open

        with safe_open(str(self.root / self.entries[index]["file"]), framework="pt") as handle:
            return tuple(handle.get_slice("source_latents").get_shape())

    def __getitem__(self, index: int) -> dict[str, Any]:
        entry = self.entries[index]
        tensors = load_file(str(self.root / entry["file"]))
        draw = draw_augment(self.augment, item_rng(self.seed, self.epoch, index, 1))
        source, target, embeds = apply_latent_augment(
            tensors["source_latents"], tensors["target_latents"], tensors["prompt_embeds"], draw
        )
        return {
            "source_latents": source,
            "target_latents": target,
            "prompt_embeds": embeds,
            "id": entry["id"],
            "drop_source": draw.drop_source,
            "drop_text": draw.drop_text or draw.identity,
        }
