"""Training data: triplet manifests, selection by filters, and the pixel dataset.

Manifests come from our Parquet export (``TripletManifest.from_parquet``), the released InsViE
folder layout (``from_insvie_csv``) or a SynthEdit folder (``from_synth``). Items of
:class:`TripletDataset` are ``{"source", "target": (T, 3, H, W) float in [-1, 1], "prompt", "id",
"drop_source", "drop_text"}``; the loop zeroes the source latents when ``drop_source`` is set and
may use ``drop_text`` to give all-zero text embeddings (the sampler's "no text") for an empty prompt.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from insvie.media import aligned_random_crop, probe, read_frames, resize
from insvie.store.paths import resolve_inside
from insvie.train.augment import AugmentConfig, apply_pixel_augment, draw_augment, item_rng
from insvie.train.sampling import check_length, nearest_bucket, output_length, sample_frame_indices

_MISSING = object()


@dataclass(frozen=True)
class TripletRow:
    """One (source video, edited video, instruction) with its metadata for filtering."""

    id: str
    source: Path
    target: Path
    prompt: str
    meta: dict[str, Any] = field(default_factory=dict)


def _lookup(meta: Mapping[str, Any], key: str) -> Any:
    if key in meta:
        return meta[key]
    value: Any = meta
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def row_matches(meta: Mapping[str, Any], filters: Mapping[str, Any]) -> bool:
    """Whether ``meta`` passes every filter.

    A filter is ``key: [allowed values]`` (membership), ``key: {"min": a, "max": b}`` (inclusive
    range; either bound optional) or ``key: value`` (equality). Keys may be dotted to reach nested
    meta (``"judge.score"``). An item without the key fails the filter, unless the list of allowed
    values holds ``None`` (``review: [accept, null]``: accepted or not reviewed).
    """
    for key, rule in filters.items():
        value = _lookup(meta, key)
        if value is _MISSING or value is None:
            if isinstance(rule, (list, tuple, set, frozenset)) and None in rule:
                continue
            return False
        if isinstance(rule, Mapping):
            unknown = set(rule) - {"min", "max"}
            if unknown:
                raise ValueError(f"filter {key!r}: unknown bounds {sorted(unknown)} (use min/max)")
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return False
            if "min" in rule and value < rule["min"]:
                return False
            if "max" in rule and value > rule["max"]:
                return False
        elif isinstance(rule, (list, tuple, set, frozenset)):
            if value not in rule:
                return False
        elif value != rule:
            return False
    return True


class TripletManifest(Sequence[TripletRow]):
    """An ordered list of triplet rows."""

    def __init__(self, rows: Sequence[TripletRow]) -> None:
        self.rows = list(rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return TripletManifest(self.rows[index])
        return self.rows[index]

    def __iter__(self) -> Iterator[TripletRow]:
        return iter(self.rows)

    def select(self, filters: Mapping[str, Any] | None = None) -> TripletManifest:
        """The rows passing ``filters`` (see :func:`row_matches`); None or {} keeps all."""
        if not filters:
            return TripletManifest(self.rows)
        return TripletManifest([row for row in self.rows if row_matches(row.meta, filters)])

    # -- loaders ----------------------------------------------------------------------------------

    @classmethod
    def from_parquet(
        cls, path: str | Path, *, root: str | Path, kinds: Sequence[str] = ("triplet",)
    ) -> TripletManifest:
        """Triplets of an exported manifest (``insvie export parquet``), paths resolved inside ``root``.

        Row meta for filters: the item's meta JSON, plus ``kind``, ``source``, ``parent``, ``review``
        and the ``status_<stage>`` columns. Rows lacking edited media, source_media or instruction are
        skipped; a path escaping ``root`` raises ``PathEscapeError``.
        """
        import pyarrow.parquet as pq

        base = Path(root).resolve()
        table = pq.read_table(path).to_pylist()
        rows = []
        for record in table:
            if record.get("kind") not in kinds:
                continue
            meta = json.loads(record.get("meta") or "{}")
            source_rel, instruction = meta.get("source_media"), meta.get("instruction")
            if not record.get("media") or not source_rel or not instruction:
                continue
            extra = {
                key: value
                for key, value in record.items()
                if key in ("kind", "source", "parent", "review") or key.startswith("status_")
            }
            rows.append(
                TripletRow(
                    id=record["id"],
                    source=resolve_inside(base, source_rel),
                    target=resolve_inside(base, record["media"]),
                    prompt=str(instruction),
                    meta={**meta, **extra},
                )
            )
        return cls(rows)

    @classmethod
    def from_insvie_csv(cls, folder: str | Path, *, csv_name: str = "metadata.csv") -> TripletManifest:
        """The released layout: ``metadata.csv`` (``video,instruct``), ``source/NAME`` and ``edited/NAME``."""
        base = Path(folder).resolve()
        rows = []
        with open(base / csv_name, newline="", encoding="utf-8") as handle:
            for record in csv.DictReader(handle):
                name = record["video"].strip()
                if not name.endswith(".mp4"):
                    name = f"{name}.mp4"
                rows.append(
                    TripletRow(
                        id=name.removesuffix(".mp4"),
                        source=resolve_inside(base, f"source/{name}"),
                        target=resolve_inside(base, f"edited/{name}"),
                        prompt=record["instruct"],
                        meta={"video": name},
                    )
                )
        return cls(rows)

    @classmethod
    def from_synth(cls, folder: str | Path, *, include_broken: bool = False) -> TripletManifest:
        """A SynthEdit folder (``records.jsonl``); labelled broken edits are left out unless asked for."""
        base = Path(folder).resolve()
        rows = []
        for line in (base / "records.jsonl").read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            if record.get("broken") and not include_broken:
                continue
            rows.append(
                TripletRow(
                    id=record["id"],
                    source=resolve_inside(base, record["source"]),
                    target=resolve_inside(base, record["edited"]),
                    prompt=record["instruction"],
                    meta={k: v for k, v in record.items() if k not in ("source", "edited", "mask")},
                )
            )
        return cls(rows)


def to_unit_tensor(frames: np.ndarray) -> torch.Tensor:
    """uint8 (T, H, W, 3) to float32 (T, 3, H, W) in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)


def aligned_crop_pair(
    source: np.ndarray,
    target: np.ndarray,
    size: tuple[int, int],
    rng: np.random.Generator,
    *,
    crop_scale: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Scale both clips to cover ``size`` x ``crop_scale`` (aspect kept) and cut the same random window."""
    if crop_scale < 1.0:
        raise ValueError(f"crop_scale must be at least 1, got {crop_scale}")
    in_height, in_width = source.shape[-3:-1]
    height, width = size
    scale = max(height / in_height, width / in_width) * crop_scale
    cover = (max(height, round(in_height * scale)), max(width, round(in_width * scale)))
    return aligned_random_crop(resize(source, cover), resize(target, cover), size, rng)


def _floor_to(value: int, multiple: int) -> int:
    return max(multiple, value // multiple * multiple)


class TripletDataset(Dataset):
    """Pixel training items of a manifest: 4k+1 frames, aligned crops, augmentations.

    ``size`` fixes one (H, W) for all items; ``buckets`` instead sends each item to the bucket of the
    closest aspect ratio (use :meth:`bucket_key` with :class:`BucketBatchSampler`); with neither, an
    item keeps its own size floored to a multiple of 16. Randomness (window, crop, augmentations)
    comes from (``seed``, epoch, index): call :meth:`set_epoch` each epoch.
    """

    def __init__(
        self,
        manifest: Sequence[TripletRow],
        *,
        num_frames: int = 49,
        size: tuple[int, int] | None = None,
        buckets: Sequence[tuple[int, int]] | None = None,
        strides: Sequence[int] = (1,),
        short: str = "resample",
        crop_scale: float = 1.0,
        random_crop: bool = True,
        augment: AugmentConfig | None = None,
        seed: int = 0,
    ) -> None:
        if size is not None and buckets:
            raise ValueError("give size or buckets, not both")
        self.manifest = list(manifest)
        self.num_frames = check_length(num_frames)
        self.size = None if size is None else (int(size[0]), int(size[1]))
        self.buckets = [tuple(b) for b in buckets] if buckets else None
        self.strides = tuple(strides)
        self.short = short
        output_length(num_frames, num_frames, short)  # validates ``short``
        self.crop_scale = crop_scale
        self.random_crop = random_crop
        self.augment = AugmentConfig() if augment is None else augment
        self.seed = int(seed)
        self.epoch = 0
        self._info: dict[int, tuple[int, int, int]] = {}

    def __len__(self) -> int:
        return len(self.manifest)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def with_augment(self, augment: AugmentConfig) -> TripletDataset:
        clone = replace_dataset(self)
        clone.augment = augment
        return clone

    def config(self) -> dict[str, Any]:
        """What determines the items besides the media (for cache keys)."""
        return {
            "num_frames": self.num_frames,
            "size": self.size,
            "buckets": self.buckets,
            "strides": list(self.strides),
            "short": self.short,
            "crop_scale": self.crop_scale,
            "random_crop": self.random_crop,
            "augment": self.augment.to_dict(),
            "seed": self.seed,
        }

    def info(self, index: int) -> tuple[int, int, int]:
        """(frames usable in both videos, height, width) of the source, probed once."""
        if index not in self._info:
            row = self.manifest[index]
            src, tgt = probe(row.source), probe(row.target)
            self._info[index] = (min(src.num_frames, tgt.num_frames), src.height, src.width)
        return self._info[index]

    def output_size(self, index: int) -> tuple[int, int]:
        if self.size is not None:
            return self.size
        _, height, width = self.info(index)
        if self.buckets is not None:
            return nearest_bucket(height, width, self.buckets)
        return _floor_to(height, 16), _floor_to(width, 16)

    @property
    def uniform_shape(self) -> bool:
        """Whether every item has the same (T, H, W), known without probing the files."""
        return self.size is not None and self.short == "resample"

    def bucket_key(self, index: int) -> tuple[int, int, int]:
        """(T, H, W) of item ``index``: items with equal keys stack into one batch."""
        available = self.info(index)[0]
        return (output_length(available, self.num_frames, self.short), *self.output_size(index))

    def load(self, index: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Decoded, time-sampled, cropped uint8 (T, H, W, 3) source and target clips."""
        row = self.manifest[index]
        available = self.info(index)[0]
        indices = sample_frame_indices(
            available, self.num_frames, rng, strides=self.strides, short=self.short
        )
        start, end = int(indices.min()), int(indices.max()) + 1
        local = indices - start
        source = read_frames(row.source, start=start, end=end)
        target = read_frames(row.target, start=start, end=end)
        source, target = source[local], target[local]
        if target.shape[1:3] != source.shape[1:3]:
            target = resize(target, source.shape[1:3])
        size = self.output_size(index)
        if not self.random_crop:
            # Centre crop: cover, then cut the middle.
            in_h, in_w = source.shape[1:3]
            scale = max(size[0] / in_h, size[1] / in_w)
            cover = (max(size[0], round(in_h * scale)), max(size[1], round(in_w * scale)))
            top, left = (cover[0] - size[0]) // 2, (cover[1] - size[1]) // 2
            source, target = resize(source, cover), resize(target, cover)
            window = (slice(None), slice(top, top + size[0]), slice(left, left + size[1]))
            return source[window], target[window]
        return aligned_crop_pair(source, target, size, rng, crop_scale=self.crop_scale)

    def __getitem__(self, index: int) -> dict[str, Any]:
        row = self.manifest[index]
        source_np, target_np = self.load(index, item_rng(self.seed, self.epoch, index, 0))
        draw = draw_augment(self.augment, item_rng(self.seed, self.epoch, index, 1))
        source, target, prompt = apply_pixel_augment(
            to_unit_tensor(source_np), to_unit_tensor(target_np), row.prompt, draw
        )
        return {
            "source": source,
            "target": target,
            "prompt": prompt,
            "id": row.id,
            "drop_source": draw.drop_source,
            "drop_text": prompt == "",
        }


def replace_dataset(dataset: TripletDataset) -> TripletDataset:
    clone = object.__new__(TripletDataset)
    clone.__dict__.update(dataset.__dict__)
    clone._info = dataset._info
    return clone


def collate(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Stack tensors, turn booleans into a bool tensor, list everything else (strings)."""
    if not items:
        raise ValueError("an empty batch")
    batch: dict[str, Any] = {}
    for key in items[0]:
        values = [item[key] for item in items]
        first = values[0]
        if isinstance(first, torch.Tensor):
            shapes = {tuple(v.shape) for v in values}
            if len(shapes) > 1:
                raise ValueError(f"{key!r}: items of different shapes {sorted(shapes)}; use bucket batches")
            batch[key] = torch.stack(values)
        elif isinstance(first, bool):
            batch[key] = torch.tensor(values, dtype=torch.bool)
        else:
            batch[key] = values
    return batch


__all__ = [
    "TripletDataset",
    "TripletManifest",
    "TripletRow",
    "aligned_crop_pair",
    "collate",
    "row_matches",
    "to_unit_tensor",
]
