"""The engine: the stage contract, the runner that keeps builds resumable, and the executors.

Stages (``insvie.stages``) implement :class:`Stage`; the runner owns the dataset and decides what is
pending; executors decide where batches run. Nothing here knows what any particular stage does.
"""

from insvie.engine.executors import Executor, LocalExecutor, RayExecutor, make_executor
from insvie.engine.ingest import IngestReport, ingest
from insvie.engine.inputs import Input, Inputs, UndeclaredInput
from insvie.engine.runner import ProgressSink, Runner, Step, StepReport
from insvie.engine.stage import (
    Child,
    Need,
    Outcome,
    Resources,
    Stage,
    StageConfig,
    StageContext,
    StageStopped,
    Task,
)

__all__ = [
    "Child",
    "Executor",
    "IngestReport",
    "Input",
    "Inputs",
    "LocalExecutor",
    "Need",
    "Outcome",
    "ProgressSink",
    "RayExecutor",
    "Resources",
    "Runner",
    "Stage",
    "StageConfig",
    "StageContext",
    "StageStopped",
    "Step",
    "StepReport",
    "Task",
    "UndeclaredInput",
    "ingest",
    "make_executor",
]
