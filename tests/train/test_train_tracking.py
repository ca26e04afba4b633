"""The training log: CSV rewritten to the resume step, TensorBoard events, a W&B run resumed under one id."""

from __future__ import annotations

import pytest

from insvie.train.tracking import LOG_FILENAME, WANDB_ID_FILENAME, TrainLog, read_log


def test_csv_is_cut_back_to_the_resume_step(tmp_path):
    first = TrainLog(tmp_path, 0, enabled=True, trackers=[])
    for step in (1, 2, 3):
        first.write(step, 1.0 / step, 1e-4)
    first.close()
    resumed = TrainLog(tmp_path, 2, enabled=True, trackers=[])  # checkpoint at 2: step 3 is redone
    resumed.write(3, 0.25, 1e-4)
    resumed.close()
    assert [(r["step"], r["loss"]) for r in read_log(tmp_path)] == [(1, 1.0), (2, 0.5), (3, 0.25)]


def test_disabled_on_other_processes(tmp_path):
    log = TrainLog(tmp_path, 0, enabled=False, trackers=["tensorboard", "wandb"])
    log.write(1, 1.0, 1e-4)
    log.close()
    assert not (tmp_path / LOG_FILENAME).exists()


def test_tensorboard_events_hold_the_scalars(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    log = TrainLog(tmp_path, 0, enabled=True, trackers=["tensorboard"])
    log.write(1, 0.5, 1e-3)
    log.write(2, 0.25, 2e-3)
    log.close()
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    assert [(e.step, e.value) for e in events.Scalars("train/loss")] == [(1, 0.5), (2, 0.25)]
    assert [e.value for e in events.Scalars("train/lr")] == pytest.approx([1e-3, 2e-3])


def test_wandb_offline_run_keeps_its_id_across_a_resume(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    log = TrainLog(tmp_path, 0, enabled=True, trackers=["wandb"], run_name="stage1", run_config={"lr": 1e-4})
    log.write(1, 0.5, 1e-4)
    log.close()
    run_id = (tmp_path / WANDB_ID_FILENAME).read_text().strip()
    runs = list((tmp_path / "wandb").glob(f"offline-run-*-{run_id}"))
    assert len(runs) == 1 and any(runs[0].glob("*.wandb"))
    again = TrainLog(tmp_path, 1, enabled=True, trackers=["wandb"], run_name="stage1")
    assert again.wandb.id == run_id
    again.close()
