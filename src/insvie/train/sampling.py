"""Frame sampling to 4k+1 frames and aspect-bucket batching.

Clips shorter than the requested window are never padded with a frozen last frame: with
``short="shorten"`` they give the largest 4k+1 window that fits (the bucket key then carries the
length, so a batch still shares one shape); with ``short="resample"`` the frames are resampled evenly
in time to the requested count (each frame repeated about equally often, a slow-motion clip).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler

from insvie.media import largest_valid_length

SHORT_MODES = ("resample", "shorten")


def check_length(num_frames: int) -> int:
    if num_frames < 1 or num_frames % 4 != 1:
        raise ValueError(f"num_frames must be 4k+1 (1, 5, 9, ..., 49), got {num_frames}")
    return num_frames


def output_length(available: int, num_frames: int, short: str = "resample") -> int:
    """How many frames an item of ``available`` frames gives."""
    if short not in SHORT_MODES:
        raise ValueError(f"short must be one of {SHORT_MODES}, got {short!r}")
    if available >= num_frames or short == "resample":
        return num_frames
    return largest_valid_length(available)


def sample_frame_indices(
    available: int,
    num_frames: int,
    rng: np.random.Generator,
    *,
    strides: Sequence[int] = (1,),
    short: str = "resample",
    random_start: bool = True,
) -> np.ndarray:
    """Frame indices (sorted, into ``[0, available)``) of one training window of 4k+1 frames.

    A stride is drawn from ``strides`` among those whose window fits; if none fits the clip is short
    and handled as ``short`` says. The start is random (or 0 when ``random_start`` is false).
    """
    check_length(num_frames)
    if short not in SHORT_MODES:
        raise ValueError(f"short must be one of {SHORT_MODES}, got {short!r}")
    if available < 1:
        raise ValueError("a clip without frames")
    if not strides or any(s < 1 for s in strides):
        raise ValueError(f"strides must be positive, got {list(strides)}")
    fitting = [s for s in strides if (num_frames - 1) * s + 1 <= available]
    if fitting:
        stride = int(fitting[int(rng.integers(len(fitting)))])
        span = (num_frames - 1) * stride + 1
        start = int(rng.integers(0, available - span + 1)) if random_start else 0
        return start + stride * np.arange(num_frames)
    length = output_length(available, num_frames, short)
    if short == "shorten":
        start = int(rng.integers(0, available - length + 1)) if random_start else 0
        return start + np.arange(length)
    # Resample: evenly spaced positions over the whole clip, each frame repeated about equally often.
    return np.floor(np.arange(num_frames) * available / num_frames).astype(np.int64)


def nearest_bucket(height: int, width: int, buckets: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """The bucket (H, W) whose aspect ratio is closest (in log space) to the clip's."""
    if not buckets:
        raise ValueError("no buckets")
    aspect = math.log(width / height)
    return min(buckets, key=lambda b: (abs(math.log(b[1] / b[0]) - aspect), -b[0] * b[1]))


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of indices sharing one bucket key (e.g. (H, W) or (T, H, W)), for ``batch_sampler=``.

    Shuffled per epoch from ``seed`` (call :meth:`set_epoch`), reproducible; with ``drop_last`` the
    incomplete batch of each bucket is left out. Batches of different buckets are interleaved randomly.
    """

    def __init__(
        self,
        keys: Sequence[Hashable] | Callable[[int], Hashable],
        batch_size: int,
        *,
        num_items: int | None = None,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int = 0,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if callable(keys):
            if num_items is None:
                raise ValueError("num_items is needed with a key function")
            keys = [keys(i) for i in range(num_items)]
        self.keys = list(keys)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _batches(self) -> list[list[int]]:
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.epoch, 0xB0C]))
        groups: dict[Hashable, list[int]] = {}
        for index, key in enumerate(self.keys):
            groups.setdefault(key, []).append(index)
        batches: list[list[int]] = []
        for key in sorted(groups, key=repr):
            members = groups[key]
            if self.shuffle:
                members = [members[i] for i in rng.permutation(len(members))]
            for start in range(0, len(members), self.batch_size):
                batch = members[start : start + self.batch_size]
                if len(batch) == self.batch_size or not self.drop_last:
                    batches.append(batch)
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self._batches())

    def __len__(self) -> int:
        return len(self._batches())
