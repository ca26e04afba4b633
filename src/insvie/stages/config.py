"""The build config: every stage's settings in one validated document, with every default here.

A YAML file only names what it changes. Unknown keys and bad values fail before any work starts,
with the dotted key and what is allowed, so a typo never silently runs a default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

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


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RunConfig(_Section):
    executor: Literal["local", "ray"] = "local"
    workers: Annotated[int, Field(ge=0, description="Local: 0 runs in-process; N uses N processes.")] = 0
    ray_address: str | None = None
    max_attempts: Annotated[int, Field(ge=1, description="Tries per item before it is left failed.")] = 3


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
