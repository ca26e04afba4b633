"""Reading a SAT checkpoint safely: tensors and plain containers only (``weights_only``), memory-mapped.

SAT saves through DeepSpeed, which pickles numpy RNG state beside the weights; the numpy reconstructors
that state needs are allowed, nothing else, so no code in a checkpoint is ever run.
"""

from __future__ import annotations

import re
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from insvie.editor.sat.errors import CheckpointError, listing

if TYPE_CHECKING:
    import torch
    from torch import Tensor


def _numpy_safe_globals() -> list[Any]:
    """numpy array/dtype reconstructors, which DeepSpeed checkpoints hold in their saved RNG state.

    They rebuild plain arrays and run no other code, so allowing them keeps ``weights_only`` safe while
    accepting the ``np_rng_state`` that SAT's DeepSpeed saver writes beside the weights. numpy 1.x files
    name the ``numpy.core`` path, numpy 2 the ``numpy._core`` one; both map to the installed function.
    """
    import numpy as np

    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]
    dtype_classes = {type(np.dtype(name)) for name in ("uint32", "float64", "int64", "float32")}
    return [
        (_reconstruct, "numpy.core.multiarray._reconstruct"),
        (_reconstruct, "numpy._core.multiarray._reconstruct"),
        np.ndarray,
        np.dtype,
        *dtype_classes,
    ]


def _torch_load(path: Path) -> Any:
    import pickle

    import torch

    try:
        with path.open("rb") as handle:
            head = handle.read(4)
    except OSError as exc:
        raise CheckpointError(f"cannot read the checkpoint: {exc.strerror or exc}", path=path) from exc
    if not head:
        raise CheckpointError("empty file, not a PyTorch checkpoint", path=path)
    is_zip = zipfile.is_zipfile(path)
    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()), warnings.catch_warnings():
            # torch warns about pickle protocols of files it then refuses anyway; the error says it all.
            warnings.simplefilter("ignore", UserWarning)
            # mmap keeps multi-GB engines (T5 + VAE beside the transformer) out of memory until read.
            return torch.load(path, map_location="cpu", weights_only=True, mmap=is_zip)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        refused = re.search(r"Unsupported global: GLOBAL (\S+)", text)
        if refused:
            raise CheckpointError(
                f"refused to load: the pickle holds a Python object ({refused.group(1)}), and only tensors "
                "and plain containers are loaded (torch.load weights_only=True); code in a checkpoint "
                "is never run",
                path=path,
            ) from exc
        if is_zip:
            reason = text.splitlines()[-1].strip() if text.strip() else type(exc).__name__
            raise CheckpointError(f"unreadable PyTorch checkpoint ({reason[:200]})", path=path) from exc
        raise CheckpointError(
            "not a PyTorch checkpoint (neither a torch.save archive nor a legacy pickle of tensors)",
            path=path,
        ) from exc
    except (RuntimeError, EOFError, KeyError, ValueError, OSError, zipfile.BadZipFile) as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        if is_zip:
            raise CheckpointError(f"damaged or truncated PyTorch checkpoint ({reason})", path=path) from exc
        raise CheckpointError(f"not a PyTorch checkpoint ({reason})", path=path) from exc


def extract_state_dict(saved: Any) -> dict[str, Tensor]:
    """The state dict inside a loaded file: SAT/DeepSpeed keep it under ``module``; others vary."""
    import torch

    state = saved
    for _ in range(3):
        if not isinstance(state, Mapping):
            break
        for container in ("module", "state_dict", "model"):
            inner = state.get(container)
            if isinstance(inner, Mapping) and inner:
                state = inner
                break
        else:
            break
    if not isinstance(state, Mapping) or not state:
        kind = type(saved).__name__
        raise CheckpointError(f"the file holds a {kind}, not a state dict (expected {{'module': {{...}}}})")
    not_tensors = sorted(str(key) for key, value in state.items() if not isinstance(value, torch.Tensor))
    if not_tensors:
        raise CheckpointError(
            "the state dict holds values that are not tensors: " + listing(not_tensors, "key")
        )
    return {str(key): value for key, value in state.items()}


def load_sat_checkpoint(path: str | Path) -> dict[str, Tensor]:
    """Load a SAT checkpoint's state dict safely (``weights_only``, memory-mapped when possible)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError("no such file", path=path)
    try:
        return extract_state_dict(_torch_load(path))
    except CheckpointError as exc:
        raise exc.at(path) if exc.path is None else exc from None


def stored_dtype(sat: Mapping[str, Tensor]) -> torch.dtype:
    """The floating dtype most of the checkpoint's transformer weights are stored in."""
    from collections import Counter

    counts = Counter(
        tensor.dtype for key, tensor in sat.items() if tensor.is_floating_point() and "diffusion_model" in key
    )
    if not counts:  # stripped keys: every floating tensor is the transformer's
        counts = Counter(tensor.dtype for tensor in sat.values() if tensor.is_floating_point())
    if not counts:
        raise CheckpointError("the checkpoint holds no floating-point weights")
    return counts.most_common(1)[0][0]
