"""The training log: ``log.csv`` always, TensorBoard and Weights & Biases when asked for and installed.

The CSV is the record of truth (benchmarks and tests read it, and it is rewritten up to the resume step
so a resumed run's log reads as if it had never stopped); the trackers are views of it for people
watching a long run. A tracker that is asked for but not installed is a warning, not a failure: a
multi-day run must not die for want of a dashboard. The W&B run id is kept in the output folder, so a
resumed stage continues the same W&B run instead of starting a second one. Credentials (W&B's API key)
come only from the environment, read by wandb itself.
"""

from __future__ import annotations

import csv
import logging
import os
import uuid
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LOG_FILENAME = "log.csv"
WANDB_ID_FILENAME = "wandb_run_id.txt"
TRACKERS = ("tensorboard", "wandb")


class TrainLog:
    """Per-step loss and learning rate; a no-op on every process but the main one."""

    def __init__(
        self,
        output_dir: Path,
        resume_step: int,
        *,
        enabled: bool,
        trackers: list[str] | tuple[str, ...] = ("tensorboard",),
        run_name: str = "stage",
        run_config: dict[str, Any] | None = None,
    ):
        self.enabled = enabled
        self.path = output_dir / LOG_FILENAME
        self.tensorboard: Any = None
        self.wandb: Any = None
        if not enabled:
            return
        rows: list[list[str]] = []
        if resume_step and self.path.is_file():
            with self.path.open(newline="") as handle:
                rows = [r for r in list(csv.reader(handle))[1:] if r and int(r[0]) <= resume_step]
        with self.path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["step", "loss", "lr"])
            writer.writerows(rows)
        if "tensorboard" in trackers:
            self.tensorboard = _tensorboard(output_dir)
        if "wandb" in trackers:
            self.wandb = _wandb(output_dir, run_name, run_config or {})

    def write(self, step: int, loss: float, lr: float) -> None:
        if not self.enabled:
            return
        with self.path.open("a", newline="") as handle:
            csv.writer(handle).writerow([step, repr(loss), repr(lr)])
        if self.tensorboard is not None:
            self.tensorboard.add_scalar("train/loss", loss, step)
            self.tensorboard.add_scalar("train/lr", lr, step)
        if self.wandb is not None:
            self.wandb.log({"train/loss": loss, "train/lr": lr}, step=step)

    def close(self) -> None:
        if self.tensorboard is not None:
            self.tensorboard.close()
        if self.wandb is not None:
            self.wandb.finish()


def _tensorboard(output_dir: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        log.warning("tracker 'tensorboard' asked for but not installed (pip install tensorboard); "
                    "logging to %s only", LOG_FILENAME)  # fmt: skip
        return None
    return SummaryWriter(str(output_dir / "tensorboard"))


def _wandb(output_dir: Path, run_name: str, run_config: dict[str, Any]) -> Any:
    try:
        import wandb
    except ImportError:
        log.warning("tracker 'wandb' asked for but not installed (pip install wandb); logging to %s only",
                    LOG_FILENAME)  # fmt: skip
        return None
    id_file = output_dir / WANDB_ID_FILENAME
    run_id = id_file.read_text().strip() if id_file.is_file() else uuid.uuid4().hex[:16]
    id_file.write_text(run_id + "\n")
    return wandb.init(
        project=os.environ.get("WANDB_PROJECT", "insvie"),
        name=run_name,
        id=run_id,
        resume="allow",
        dir=str(output_dir),
        config=run_config,
    )


def read_log(output_dir: Path) -> list[dict[str, float]]:
    """The rows of ``log.csv`` as dicts of floats (step as an int-valued float)."""
    with (Path(output_dir) / LOG_FILENAME).open(newline="") as handle:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]
