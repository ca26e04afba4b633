"""Training the InsViE editor: data, latent cache and the training loop."""

# -- training loop exports (config is torch-free; loop, loss and checkpoint load torch on first use) --
import importlib as _importlib
from typing import Any as _Any

from insvie.train.config import TrainStageConfig as TrainStageConfig
from insvie.train.config import load_train_config as load_train_config

_LOOP_LAZY = {
    "train": "insvie.train.loop",
    "read_log": "insvie.train.tracking",
    "editor_loss": "insvie.train.loss",
    "training_alphas_cumprod": "insvie.train.loss",
    "v_target": "insvie.train.loss",
    "latest_checkpoint": "insvie.train.checkpoint",
}


def __getattr__(name: str) -> _Any:
    if name in _LOOP_LAZY:
        return getattr(_importlib.import_module(_LOOP_LAZY[name]), name)
    raise AttributeError(f"module 'insvie.train' has no attribute {name!r}")
