"""One training stage's configuration (YAML or JSON), validated by pydantic.

    TrainStageConfig(...)           # every field below; unknown keys are errors
    load_train_config(path) -> TrainStageConfig   # errors name the file and the offending key

The starting weights are either ``model`` (an ``InsViEEditPipeline`` folder) or ``init_from`` (a
previous stage's ``output_dir``; its ``final/`` pipeline folder is used). ``data`` is handed to the
data side unchanged (manifest path, column filters, augmentation settings). Relative paths in a
config file are resolved against the file's folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from insvie.errors import ConfigError
from insvie.train.augment import AugmentConfig

DEFAULT_LORA_TARGETS = ("to_q", "to_k", "to_v", "to_out.0")
FINAL_DIRNAME = "final"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Strict):
    """Where the triplets come from; ``filters`` and ``options`` are passed to the data side as dicts.

    ``augment`` sets the method's augmentations, which apply with and without the latent cache."""

    manifest: Path | None = None
    root: Path | None = None  # a Parquet manifest's dataset folder (default: the folder above exports/)
    filters: dict[str, Any] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    cache_dir: Path | None = None

    @model_validator(mode="after")
    def _augment_not_in_options(self) -> DataConfig:
        if "augment" in self.options:
            raise ValueError("augment belongs in data.augment, not data.options")
        return self


class LoraConfigModel(_Strict):
    """LoRA on the transformer (``rank`` 128 on attention q/k/v/out is the paper's preset)."""

    rank: int = Field(128, ge=1)
    alpha: float | None = None  # None: alpha = rank (scale 1)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    target_modules: list[str] = Field(default_factory=lambda: list(DEFAULT_LORA_TARGETS))
    train_patch_embedding: bool = True


class ValidationConfig(_Strict):
    """Edits run every ``every`` optimizer steps (0: never); videos are file paths, paired with prompts.

    They run through the shared editor runner, so unset settings are the model's recipe (its
    ``guider/``: 50 steps for the paper's) and the videos' own frames, as ``insvie edit`` uses them.
    """

    every: int = Field(0, ge=0)
    prompts: list[str] = Field(default_factory=list)
    videos: list[Path] = Field(default_factory=list)
    num_inference_steps: int | None = Field(None, ge=1)
    num_frames: int | None = None
    height: int | None = None
    width: int | None = None

    @model_validator(mode="after")
    def _paired(self) -> ValidationConfig:
        if self.videos and len(self.videos) != len(self.prompts):
            raise ValueError(f"{len(self.videos)} validation videos for {len(self.prompts)} prompts")
        return self


class PerceptualConfig(_Strict):
    """The optional perceptual term (:mod:`insvie.train.perceptual`), added to the loss times ``weight``."""

    model: str  # a hub id or folder of a transformers vision backbone: DINOv2, or a CLIP checkpoint
    weight: float = Field(0.1, gt=0)
    layers: list[int] | None = None  # hidden-state indices (0: the embeddings); None: every layer's output
    size: int = Field(224, ge=16)  # the backbone's input side, in pixels


class TrainStageConfig(_Strict):
    """One stage of training (see the module docstring)."""

    name: str = "stage"
    model: Path | None = None
    init_from: Path | None = None
    output_dir: Path
    data: DataConfig = Field(default_factory=DataConfig)

    finetune: Literal["lora", "full"] = "lora"
    lora: LoraConfigModel = Field(default_factory=LoraConfigModel)

    learning_rate: float = Field(1e-4, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    adam_beta1: float = 0.9
    adam_beta2: float = 0.95
    adam_epsilon: float = 1e-8
    max_grad_norm: float | None = 1.0
    warmup_steps: int = Field(0, ge=0)
    lr_schedule: Literal["constant", "linear", "cosine"] = "constant"
    steps: int = Field(ge=1)
    batch_size: int = Field(1, ge=1)
    gradient_accumulation_steps: int = Field(1, ge=1)
    mixed_precision: Literal["no", "fp16", "bf16"] = "no"
    gradient_checkpointing: bool = False
    num_workers: int = Field(0, ge=0)
    seed: int = 0

    frame_weighting: bool = True
    perceptual: PerceptualConfig | None = None
    checkpoint_every: int = Field(0, ge=0)  # 0: only the last step
    checkpoints_total_limit: int | None = Field(None, ge=1)
    resume: Literal["auto", "never"] | Path = "auto"
    log_every: int = Field(1, ge=1)
    trackers: list[Literal["tensorboard", "wandb"]] = Field(default_factory=lambda: ["tensorboard"])
    validation: ValidationConfig = Field(default_factory=ValidationConfig)

    @model_validator(mode="after")
    def _start(self) -> TrainStageConfig:
        if (self.model is None) == (self.init_from is None):
            raise ValueError("give exactly one of 'model' (a pipeline folder) or 'init_from' (a stage)")
        return self

    def start_weights(self) -> Path:
        """The pipeline folder this stage starts from."""
        if self.model is not None:
            return self.model
        assert self.init_from is not None
        final = self.init_from / FINAL_DIRNAME
        return final if final.is_dir() else self.init_from


def _resolve(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    def fix(value: Any) -> Any:
        if isinstance(value, str) and value and not Path(value).is_absolute():
            return str(base / value)
        return value

    out = dict(raw)
    for key in ("model", "init_from", "output_dir"):
        if key in out:
            out[key] = fix(out[key])
    if isinstance(out.get("resume"), str) and out["resume"] not in ("auto", "never"):
        out["resume"] = fix(out["resume"])
    data = out.get("data")
    if isinstance(data, dict):
        data = dict(data)
        for key in ("manifest", "root", "cache_dir"):
            if key in data:
                data[key] = fix(data[key])
        out["data"] = data
    validation = out.get("validation")
    if isinstance(validation, dict) and isinstance(validation.get("videos"), list):
        out["validation"] = {**validation, "videos": [fix(v) for v in validation["videos"]]}
    return out


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        key = ".".join(str(p) for p in item["loc"]) or "(top level)"
        parts.append(f"{key}: {item['msg']}")
    return "; ".join(parts)


def parse_train_config(raw: Any, *, source: str = "config", base: Path | None = None) -> TrainStageConfig:
    """Validate a mapping as a :class:`TrainStageConfig`; ``ConfigError`` names the bad key."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(raw).__name__}")
    if base is not None:
        raw = _resolve(raw, base)
    try:
        return TrainStageConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(f"{source}: {_describe(error)}") from None


def load_train_config(path: str | Path) -> TrainStageConfig:
    """Read a stage config from YAML (``.yaml``/``.yml``) or JSON."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{file}: cannot read ({error.strerror or error})") from None
    try:
        if file.suffix.lower() == ".json":
            raw = json.loads(text)
        else:
            import yaml

            raw = yaml.safe_load(text)
    except Exception as error:
        raise ConfigError(f"{file}: not valid {file.suffix.lstrip('.') or 'YAML'} ({error})") from None
    return parse_train_config(raw, source=str(file), base=file.parent.resolve())
