"""What the benchmark scripts share: best-of-N timing and the raw-decode baseline they divide by.

Imported by the scripts beside it (a script's own folder is first on ``sys.path``), so every ratio
to "raw decode" in ``benchmarks/`` is taken against the same thing: PyAV decoding every frame and
converting it to an RGB array, nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import av


def best_seconds(run: Callable[[], object], repeat: int) -> float:
    """The fastest of ``repeat`` runs: on a shared machine the slower runs measure the neighbours."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def pyav_decode(path: Path, limit: int | None = None, *, threaded: bool = True) -> int:
    """Raw PyAV: decode and convert to RGB arrays (threaded unless told), nothing else; the frame count."""
    count = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if threaded:
            stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            frame.to_ndarray(format="rgb24")
            count += 1
            if limit is not None and count >= limit:
                break
    return count
