"""The build config: every stage's settings in one validated document, with every default here.

A YAML file only names what it changes. Unknown keys and bad values fail before any work starts,
with the dotted key and what is allowed, so a typo never silently runs a default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from insvie.errors import ConfigError
from insvie.stages.animate import AnimateConfig
from insvie.stages.clip_prefilter import PrefilterConfig
from insvie.stages.dedup import DedupConfig
from insvie.stages.edit import EditConfig
from insvie.stages.filter import ClipFilterConfig, ImageFilterConfig
from insvie.stages.instruct import InstructConfig
from insvie.stages.instruction_dedup import InstructionDedupConfig
from insvie.stages.judge import JudgeConfig
from insvie.stages.propagate import PropagateConfig
from insvie.stages.refilter import RefilterConfig
from insvie.stages.split import SplitConfig
from insvie.stages.steps import PIPELINE


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# Ray's own resources have options of their own (Resources.cpus, gpus, memory_gb); Ray refuses them here.
_RAY_BUILTIN = frozenset({"CPU", "GPU", "memory", "object_store_memory"})


class RunConfig(_Section):
    """How and where a build runs: never part of a stage's config hash, so changing any of it resumes
    a build instead of redoing it."""

    executor: Literal["local", "ray"] = "local"
    workers: Annotated[int, Field(ge=0, description="Local: 0 runs in-process; N uses N processes.")] = 0
    ray_address: str | None = None
    max_attempts: Annotated[int, Field(ge=1, description="Tries per item before it is left failed.")] = 3
    ray_resources: Annotated[
        dict[str, dict[str, float]],
        Field(
            description="Ray: step name -> extra custom resources its workers ask for, e.g. "
            "{edit: {model_node: 0.01}} runs edit only on nodes started with --resources "
            "'{\"model_node\": 1}'. Ignored by the local executor."
        ),
    ] = {}

    @field_validator("ray_resources")
    @classmethod
    def _pins(cls, value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        """Refuse what would pin nothing or that Ray refuses mid-build: an unknown step (a typo would
        silently run the step anywhere), a driver-side step, Ray's built-in resources, bad amounts."""
        steps = {stage.name: stage for stage in PIPELINE}
        problems = []
        unknown = sorted(name for name in value if name not in steps)
        if unknown:
            problems.append(f"unknown steps {', '.join(unknown)} (steps: {', '.join(sorted(steps))})")
        in_driver = sorted(name for name in value if name in steps and steps[name].scope == "all")
        if in_driver:
            problems.append(f"{', '.join(in_driver)} run in the driver and cannot be pinned to a node")
        for step, extra in value.items():
            for name, amount in extra.items():
                if name in _RAY_BUILTIN or not name:
                    problems.append(
                        f"{step}.{name}: not a custom resource (CPU, GPU and memory are the step's own)"
                    )
                elif not (1e-4 <= amount < 1 or (amount >= 1 and float(amount).is_integer())):
                    problems.append(
                        f"{step}.{name}: Ray takes a whole number or a fraction in [0.0001, 1), got {amount}"
                    )
        if problems:
            raise ValueError("; ".join(problems))
        return value


class BuildConfig(_Section):
    """Everything ``insvie build`` does, stage by stage."""

    run: RunConfig = RunConfig()
    split: SplitConfig = SplitConfig()
    clip_filter: ClipFilterConfig = ClipFilterConfig()
    image_filter: ImageFilterConfig = ImageFilterConfig()
    dedup: DedupConfig = DedupConfig()
    instruct: InstructConfig = InstructConfig()
    instruction_dedup: InstructionDedupConfig = InstructionDedupConfig()
    edit: EditConfig = EditConfig()
    prefilter: PrefilterConfig = PrefilterConfig()
    judge: JudgeConfig = JudgeConfig()
    propagate: PropagateConfig = PropagateConfig()
    animate: AnimateConfig = AnimateConfig()
    refilter: RefilterConfig = RefilterConfig()


def _where(error: dict[str, Any]) -> str:
    return ".".join(str(part) for part in error["loc"]) or "(top level)"


def parse_config(data: dict[str, Any] | None, *, origin: str = "config") -> BuildConfig:
    """Validate plain data into a :class:`BuildConfig`, naming every bad key in one error."""
    try:
        return BuildConfig.model_validate(data or {})
    except ValidationError as exc:
        problems = "; ".join(f"{_where(e)}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{origin}: {problems}") from None


def load_config(path: str | Path | None) -> BuildConfig:
    """Read a YAML build config (``None``: all defaults)."""
    if path is None:
        return BuildConfig()
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config ({exc.strerror or exc})") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{path}: a config is a mapping of sections, got {type(data).__name__}")
    return parse_config(data, origin=str(path))
