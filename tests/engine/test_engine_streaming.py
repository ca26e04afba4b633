"""The runner at scale: pending work read a page at a time, only declared outputs loaded, results
recorded in bulk in groups bounded by time, and nothing loaded when nothing is pending."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from engine_toy import Flaky, ReadBack, Square, SquareConfig

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


def _never_counted(*args, **kwargs):
    raise AssertionError("a step marked as having nothing pending was counted")


def test_a_rerun_skips_marked_steps_and_counts_again_once_their_inputs_change(tmp_path: Path, monkeypatch):
    with Dataset.open(tmp_path / "ds") as ds:
        _numbers(ds, 12)
        steps = [Step(Square(SquareConfig())), Step(ReadBack(), after="square")]
        Runner(ds, LocalExecutor()).run(steps)
        with monkeypatch.context() as patch:
            patch.setattr(Dataset, "count_pending", _never_counted)
            assert [r.pending for r in Runner(ds, LocalExecutor()).run(steps)] == [0, 0]
        ds.add_item("n0013", "number", meta={"n": 13})  # a new input: both steps count again, and run it
        assert [r.pending for r in Runner(ds, LocalExecutor()).run(steps)] == [1, 1]
        # a new config of the feeding step: ReadBack's mark names the feeding step's hash, so it counts
        sevens = Step(Square(SquareConfig(reject_multiple_of=7)))
        reports = Runner(ds, LocalExecutor()).run([sevens, steps[1]])
        assert [r.pending for r in reports] == [13, 2]  # 5 and 10 are kept now (7 is not): ReadBack runs them


def test_a_step_with_failures_is_not_marked_and_a_higher_attempt_limit_counts_again(tmp_path: Path):
    with Dataset.open(tmp_path / "ds") as ds:
        _numbers(ds, 3)
        steps = [Step(Flaky(str(tmp_path)))]
        assert [r.pending for r in Runner(ds, LocalExecutor(), max_attempts=1).run(steps)] == [3]
        # failed once with one attempt allowed: final, nothing pending, and now marked
        assert [r.pending for r in Runner(ds, LocalExecutor(), max_attempts=1).run(steps)] == [0]
        # two attempts allowed: the mark (made under one) does not hold, and the failures are retried
        assert [r.pending for r in Runner(ds, LocalExecutor(), max_attempts=2).run(steps)] == [3]
        assert ds.funnel("flaky").kept == 3


def test_the_change_marker_moves_on_every_write_an_export_reads_and_only_then(tmp_path: Path):
    with Dataset.open(tmp_path / "ds") as ds:
        marks = [ds.change_marker()]
        ds.add_item("a", "number", meta={})
        marks.append(ds.change_marker())
        ds.add_item("a", "number", meta={})  # the same item again changes nothing it reads, but may count
        ds.record_result("s", "a", "h", "failed", error="boom")
        marks.append(ds.change_marker())
        ds.record_result("s", "a", "h", "failed", error="boom")  # a retry keeps the row, moves the marker
        marks.append(ds.change_marker())
        ds.set_review("a", "accept")
        marks.append(ds.change_marker())
        assert ds.change_marker() == marks[-1]  # reading moves nothing
        assert all(before != after for before, after in itertools.pairwise(marks))


def test_pending_pages_come_in_id_order_whatever_the_order_items_were_added(tmp_path: Path):
    from insvie.store import PendingQuery

    with Dataset.open(tmp_path / "ds") as ds:
        ids = [f"n{(n * 7919) % 1000:04d}" for n in range(1, 200)]
        ds.add_items([NewItem(item_id, "number", meta={}) for item_id in ids])
        query = PendingQuery("square", "h", "number", None, 3)
        pages, cursor = [], ""
        while page := ds.pending_page(query, cursor, 64):
            pages.append(page)
            cursor = page[-1]
        assert [item_id for page in pages for item_id in page] == sorted(ids)
        assert [len(page) for page in pages] == [64, 64, 64, 7]
