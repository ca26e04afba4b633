"""Several spans of one video from one pass over its frames.

A step that needs many clips of a long source (split measuring them, clip_store encoding them) would
otherwise decode the source once per clip, each time from its start (decoders cannot jump to an
arbitrary frame), which costs about clips / 2 whole decodes. One pass from the first span's start to
the last span's end hands each span its frames as soon as they are all decoded, holding only the spans
in progress.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Mapping
from typing import TypeVar

_Key = TypeVar("_Key", bound=Hashable)
_Frame = TypeVar("_Frame")


def gather_spans(
    frames: Iterable[_Frame], spans: Mapping[_Key, tuple[int, int]], first: int = 0
) -> Iterator[tuple[_Key, list[_Frame]]]:
    """Each span's frames, ``(key, frames[start:end])``, as soon as its last frame has come.

    ``frames`` are numbered from ``first`` (where a decode that skipped the frames before the earliest
    span starts); ``spans`` are half-open ``(start, end)`` frame indices and may overlap. A span the
    frames end inside of comes last, with the frames it got: compare the length where that matters.
    """
    pending = {key: [] for key in spans}
    if not pending:
        return  # not one frame pulled: a lazy decode never opens its file
    for index, frame in enumerate(frames, first):
        for key, (start, end) in spans.items():
            if start <= index < end and key in pending:
                pending[key].append(frame)
                if index == end - 1:
                    yield key, pending.pop(key)
        if not pending:
            return
    yield from pending.items()
