"""The runner on real datasets: resume, retries, children with files, executors agreeing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from engine_toy import Flaky, ReadBack, Square, SquareConfig

from insvie.engine import LocalExecutor, Runner, Step
from insvie.store import Dataset

TESTS = Path(__file__).resolve().parents[1]


def _numbers(ds: Dataset, count: int, bad: tuple[int, ...] = ()) -> None:
    for n in range(1, count + 1):
        ds.add_item(f"n{n:03d}", "number", meta={"n": n, **({"bad": True} if n in bad else {})})


def _decisions(ds: Dataset) -> dict[tuple[str, str], tuple[str, str | None]]:
    return {(r.stage, r.item_id): (r.status, r.reason) for r in ds.latest_results()}


def _steps(log: str | None = None) -> list[Step]:
    return [Step(Square(SquareConfig(log=log))), Step(ReadBack(), after="square")]


def test_pipeline_records_children_files_and_funnel(tmp_path: Path):
    with Dataset.open(tmp_path / "ds") as ds:
        _numbers(ds, 12, bad=(7,))
        reports = Runner(ds, LocalExecutor(), max_attempts=2).run(_steps())
        square, readback = reports
        assert square.pending == 12
        assert (square.funnel.kept, square.funnel.rejected, square.funnel.failed) == (9, {"multiple": 2}, 1)
        failed = ds.get_result("square", "n007", square.config_hash)
        assert failed.status == "failed" and "item n007 is bad" in failed.error
        # batchmates of the failing item were still processed
        assert ds.get_result("square", "n008", square.config_hash).status == "done"
        children = list(ds.iter_items("square"))
        assert len(children) == 9
        for child in children:
            assert ds.resolve(child.media).read_text() == str(child.meta["n"])
        assert readback.funnel.kept == 5 and readback.funnel.rejected == {"odd": 4}
        kept = ds.get_result("readback", "n002.sq", readback.config_hash)
        assert kept.output["from"]["square"] == 4
        assert not list(ds.resolve("tmp").iterdir())


def test_rerun_does_no_work_and_failures_are_bounded(tmp_path: Path):
    log = tmp_path / "log.txt"
    with Dataset.open(tmp_path / "ds") as ds:
        _numbers(ds, 6, bad=(2,))
        runner = Runner(ds, LocalExecutor(), max_attempts=3)
        runner.run(_steps(str(log)))
        first = log.read_text().splitlines()
        assert set(first) == {f"n{n:03d}" for n in range(1, 7)}
        for _ in range(4):
            Runner(ds, LocalExecutor(), max_attempts=3).run(_steps(str(log)))
        again = log.read_text().splitlines()[len(first) :]
        assert again == ["n002", "n002"]  # retried twice more, then left recorded as failed
        digest = runner.hash_of(_steps(str(log))[0])
        assert ds.get_result("square", "n002", digest).attempts == 3


def test_changed_config_reruns_only_that_stage(tmp_path: Path):
    with Dataset.open(tmp_path / "ds") as ds:
        _numbers(ds, 10)
        Runner(ds, LocalExecutor()).run(_steps())
        reports = Runner(ds, LocalExecutor()).run(
            [Step(Square(SquareConfig(reject_multiple_of=3))), Step(ReadBack(), after="square")]
        )
        assert reports[0].pending == 10
        assert reports[0].funnel.rejected == {"multiple": 3}
        # children made under the first config are reused (same ids, same content): readback only
        # runs on the squares of 5 and 10, which the first config rejected
        assert reports[1].pending == 2


def test_transient_failure_is_retried_on_rerun(tmp_path: Path):
    markers = tmp_path / "markers"
    markers.mkdir()
    with Dataset.open(tmp_path / "ds") as ds:
        _numbers(ds, 3)
        first = Runner(ds, LocalExecutor()).run([Step(Flaky(str(markers)))])[0]
        assert first.funnel.failed == 3
        second = Runner(ds, LocalExecutor()).run([Step(Flaky(str(markers)))])[0]
        assert second.pending == 3 and second.funnel.kept == 3 and second.funnel.failed == 0


def test_process_pool_makes_the_same_decisions(tmp_path: Path):
    results = []
    for workers in (0, 2):
        with Dataset.open(tmp_path / f"ds{workers}") as ds:
            _numbers(ds, 10, bad=(4,))
            executor = LocalExecutor(workers)
            try:
                Runner(ds, executor, max_attempts=1).run(_steps())
            finally:
                executor.close()
            results.append(_decisions(ds))
            pids = {
                r.output["pid"] for r in ds.latest_results() if r.stage == "square" and r.status == "done"
            }
            assert (os.getpid() in pids) == (workers == 0)
    assert results[0] == results[1]


def test_kill_9_loses_at_most_the_batch_in_flight(tmp_path: Path):
    root, log = tmp_path / "ds", tmp_path / "log.txt"
    with Dataset.open(root) as ds:
        _numbers(ds, 30)
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        from engine_toy import Square, SquareConfig
        from insvie.engine import LocalExecutor, Runner, Step
        from insvie.store import Dataset
        with Dataset.open({str(root)!r}) as ds:
            Runner(ds, LocalExecutor()).run([Step(Square(SquareConfig(sleep=0.05, log={str(log)!r})))])
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.time() + 60
    while time.time() < deadline and (not log.exists() or len(log.read_text().splitlines()) < 10):
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = log.read_text().splitlines()
    assert 10 <= len(before) < 30, "the build should have been killed part way"
    with Dataset.open(root) as ds:
        runner = Runner(ds, LocalExecutor())
        step = Step(Square(SquareConfig(sleep=0.05, log=str(log))))
        done_before = {r.item_id for r in ds.results("square", runner.hash_of(step))}
        assert len(before) - len(done_before) <= Square.batch_size  # only the batch in flight is redone
        report = runner.run([step])[0]
        assert report.funnel.total == 30 and report.funnel.failed == 0
        redone = log.read_text().splitlines()[len(before) :]
        assert not set(redone) & done_before
        assert len(list(ds.iter_items("square"))) == report.funnel.kept
        assert ds.verify() == []


@pytest.mark.slow
@pytest.mark.xdist_group("ray")
def test_ray_build_equals_local_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    pytest.importorskip("ray")
    from insvie.engine import RayExecutor

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    results = []
    with Dataset.open(tmp_path / "local") as ds:
        _numbers(ds, 10, bad=(4,))
        Runner(ds, LocalExecutor(), max_attempts=1).run(_steps())
        results.append(_decisions(ds))
    executor = RayExecutor(num_cpus=2)
    try:
        with Dataset.open(tmp_path / "ray") as ds:
            _numbers(ds, 10, bad=(4,))
            Runner(ds, executor, max_attempts=1).run(_steps())
            results.append(_decisions(ds))
            pids = {
                r.output["pid"] for r in ds.latest_results() if r.stage == "square" and r.status == "done"
            }
            assert os.getpid() not in pids
    finally:
        executor.close()
    assert results[0] == results[1]


class _Peek(ReadBack):
    """Reads its parent's square output without declaring it."""

    name = "peek"

    def reads(self) -> tuple:
        return ()


def test_a_stage_gets_only_the_outputs_it_declares_and_reading_more_fails_loudly(tmp_path: Path):
    with Dataset.open(tmp_path / "ds") as ds:
        _numbers(ds, 4)
        Runner(ds, LocalExecutor(), max_attempts=1).run([*_steps(), Step(_Peek(), after="square")])
        read = [r for r in ds.latest_results() if r.stage == "readback" and r.status == "done"]
        assert read and all(set(r.output["from"]) == {"square", "pid"} for r in read)
        peeked = [r for r in ds.latest_results() if r.stage == "peek"]
        failed = [r for r in peeked if r.status == "failed"]  # odd squares are rejected before reading
        assert failed and not [r for r in peeked if r.status == "done"]
        assert all("reads 'parent.square', which its reads() does not declare" in r.error for r in failed)
