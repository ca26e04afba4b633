"""The runner at scale: pending work read a page at a time, only declared outputs loaded, results
recorded in bulk in groups bounded by time, and nothing loaded when nothing is pending."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_toy import ReadBack, Square, SquareConfig

from insvie.engine import LocalExecutor, Runner, Step, recording, tasks
from insvie.engine.recording import Recorder
from insvie.engine.stage import Outcome
from insvie.errors import StoreError
from insvie.store import Dataset, NewItem, NewResult


def _numbers(ds: Dataset, count: int) -> None:
    ds.add_items([NewItem(f"n{n:04d}", "number", meta={"n": n}) for n in range(1, count + 1)])


def test_pages_smaller_than_the_step_give_the_same_results_as_one_page(tmp_path: Path, monkeypatch):
    decisions = []
    for page in (tasks.PAGE, 7):
        monkeypatch.setattr(tasks, "PAGE", page)
        with Dataset.open(tmp_path / f"page{page}") as ds:
            _numbers(ds, 40)
            reports = Runner(ds, LocalExecutor()).run(
                [Step(Square(SquareConfig())), Step(ReadBack(), after="square")]
            )
            assert [r.pending for r in reports] == [40, 32]  # 8 multiples of 5 rejected
            decisions.append(sorted((r.stage, r.item_id, r.status, r.reason) for r in ds.latest_results()))
            assert len({r.item_id for r in ds.latest_results() if r.stage == "readback"}) == 32
    assert decisions[0] == decisions[1]


def test_a_finished_build_finds_nothing_pending_without_loading_an_item(tmp_path: Path, monkeypatch):
    with Dataset.open(tmp_path / "ds") as ds:
        _numbers(ds, 12)
        steps = [Step(Square(SquareConfig())), Step(ReadBack(), after="square")]
        Runner(ds, LocalExecutor()).run(steps)

        def loaded(*args, **kwargs):
            raise AssertionError("a step with nothing pending loaded items")

        monkeypatch.setattr(Dataset, "items_with_parents", loaded)
        reports = Runner(ds, LocalExecutor()).run(steps)
        assert [r.pending for r in reports] == [0, 0]


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _visible(root: Path) -> int:
    with Dataset.open(root, create=False) as other:
        return len(other.results("square", "h", status="done"))


def test_fast_batches_are_grouped_and_a_slow_one_is_committed_at_once(tmp_path: Path):
    root = tmp_path / "ds"
    clock = _Clock()
    with Dataset.open(root) as ds:
        _numbers(ds, 6)
        recorder = Recorder(ds, "square", "h", clock=clock)
        clock.now = recording.GROUP_SECONDS / 10
        recorder.add([Outcome.done("n0001"), Outcome.done("n0002")])
        clock.now *= 2
        recorder.add([Outcome.done("n0003")])
        assert _visible(root) == 0  # finished moments ago: held for one commit
        clock.now += recording.GROUP_SECONDS
        recorder.add([Outcome.done("n0004")])  # a slow batch: it and the held ones are committed
        assert _visible(root) == 4
        clock.now += 1.0
        recorder.add([Outcome.done("n0005")])
        assert _visible(root) == 5
        recorder.add([Outcome.done("n0006")])
        recorder.flush()
        assert _visible(root) == 6


def test_bulk_items_follow_add_item_rules_and_name_the_item_they_refuse(tmp_path: Path):
    with Dataset.open(tmp_path / "ds") as ds:
        ds.add_items([NewItem("a", "x", meta={"v": 1}), NewItem("b", "x", parent="a")])
        ds.add_items([NewItem("a", "x", meta={"v": 1}), NewItem("c", "x")])  # a again: a no-op
        assert ds.get_item("b").parent == "a" and ds.get_item("c") is not None
        with pytest.raises(StoreError, match="item 'a' already exists with a different meta"):
            ds.add_items([NewItem("d", "x"), NewItem("a", "x", meta={"v": 2})])
        with pytest.raises(StoreError, match="item 'e': parent 'nope' is not in the dataset"):
            ds.add_items([NewItem("e", "x", parent="nope")])
        assert ds.get_item("e") is None


def test_bulk_results_count_one_attempt_each_and_name_an_unknown_item(tmp_path: Path):
    with Dataset.open(tmp_path / "ds") as ds:
        _numbers(ds, 2)
        failed = [NewResult("n0001", "failed", error="boom"), NewResult("n0002", "done", {"k": 1})]
        ds.record_results("s", "h", failed)
        ds.record_results("s", "h", [NewResult("n0001", "failed", error="boom again")])
        assert ds.get_result("s", "n0001", "h").attempts == 2
        assert ds.get_result("s", "n0002", "h").output == {"k": 1}
        with pytest.raises(StoreError, match="item 'ghost': no such item"):
            ds.record_results("s", "h", [NewResult("n0002", "done"), NewResult("ghost", "done")])
        assert ds.get_result("s", "n0002", "h").attempts == 1  # the refused group left nothing behind
