"""How samples are grouped into denoising loops: by shape, in order, at most ``max_batch`` per loop."""

from __future__ import annotations

import pytest

from insvie.backends.batching import Loops
from insvie.backends.propagation.i2v.settings import AUTO_WINDOWS


def _run(max_batch, jobs: list[tuple[str, int]]) -> tuple[list[int], list[list[int]]]:
    calls: list[list[int]] = []

    def run(chunk: list[tuple[str, int]]) -> list[int]:
        calls.append([number for _, number in chunk])
        return [number * 10 for _, number in chunk]

    loops = Loops(max_batch, "cpu", off_cuda=AUTO_WINDOWS, unit="windows")
    return loops.run(jobs, lambda job: job[0], run), calls


def test_jobs_of_one_shape_share_loops_and_results_keep_the_jobs_order() -> None:
    jobs = [("a", 0), ("b", 1), ("a", 2), ("a", 3), ("b", 4)]
    results, calls = _run(None, jobs)
    assert results == [0, 10, 20, 30, 40]
    assert calls == [[0, 2, 3], [1, 4]]
    assert _run(2, jobs)[1] == [[0, 2], [3], [1, 4]]
    assert _run(1, jobs)[1] == [[0], [2], [3], [1], [4]]


def test_auto_off_cuda_takes_the_fixed_number() -> None:
    jobs = [("a", n) for n in range(AUTO_WINDOWS + 1)]
    assert [len(call) for call in _run("auto", jobs)[1]] == [AUTO_WINDOWS, 1]


def test_a_loop_must_answer_every_window() -> None:
    with pytest.raises(RuntimeError, match="returned 1 results"):
        Loops(None, "cpu", unit="windows").run([1, 2], lambda _: 0, lambda chunk: chunk[:1])


def test_auto_on_cuda_measures_one_sample_per_size_then_fills_four_fifths_of_the_free_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda device: None)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device: 100)
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device: 110)  # one sample: 10 bytes
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (50, 1000))  # 0.8 * 50 / 10 = 4
    reported: list[tuple[str, int]] = []
    loops = Loops("auto", "cuda:0", off_cuda=1, report=lambda key, count: reported.append((key, count)))
    # (size, steps, number): loops split by size and steps, memory measured by size alone
    jobs = [("s", 1, n) for n in range(7)] + [("s", 2, 7), ("s", 2, 8), ("t", 1, 9), ("t", 1, 10)]
    calls: list[list[int]] = []
    afters: list[int] = []

    def run(chunk: list[tuple[str, int, int]]) -> list[int]:
        calls.append([number for *_, number in chunk])
        return [number for *_, number in chunk]

    made = loops.run(
        jobs, lambda job: job[:2], run, sized_by=lambda job: job[0], after=lambda: afters.append(len(calls))
    )
    assert made == list(range(11))
    assert calls == [[0], [1, 2, 3, 4], [5, 6], [7, 8], [9], [10]]
    assert reported == [("s", 4), ("t", 4)]
    assert afters == [1, 2, 3, 4, 5, 6]  # after every loop
