"""Forward hooks that record module outputs in the source pass and replay them in the edited pass.

Hooks rather than attention processors: they sit on ``to_q``/``to_k`` projections and on resnet or
transformer blocks, so any attention backend (SDPA, xformers, flash) and any offload hook keeps working.
A module may run several times per pass (Wan's guidance is two forward calls, conditional then
unconditional): its outputs are recorded in call order and replayed in the same order. A recorded
tensor of batch ``n`` replaces an output of batch ``k * n`` by repetition, so one recorded pass can
serve a pass that stacks more samples.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any


class FeatureInjector:
    """Hooks on ``features`` (resnet/block modules) and ``attention`` (query and key projections).

    ``offload`` keeps recorded tensors in CPU memory between the two passes: SVD's decoder features
    and self-attention q/k of one step are ~7 GB in float16 at 25x1024x576, too much beside the
    model on a 24 GB GPU; the copies cost a few hundred milliseconds per injected step.
    """

    def __init__(self, features: Sequence[Any], attention: Sequence[Any], *, offload: bool = False) -> None:
        if not features and not attention:
            raise ValueError("feature injection needs at least one module to hook")
        self._groups = {"features": list(features), "attention": list(attention)}
        self._stored: dict[int, list[Any]] = {}
        self._replayed: dict[int, int] = {}
        self._mode = "off"
        self._offload = offload
        self._active: set[str] = set()
        self._handles = [
            module.register_forward_hook(self._hook(group))
            for group, modules in self._groups.items()
            for module in modules
        ]

    def _hook(self, group: str):
        def hook(module: Any, _inputs: Any, output: Any) -> Any:
            key = id(module)
            if self._mode == "record":
                self._stored.setdefault(key, []).append(
                    output.detach().to("cpu") if self._offload else output.detach()
                )
            elif self._mode == "inject" and group in self._active:
                calls = self._stored.get(key, [])
                call = self._replayed.get(key, 0)
                if call >= len(calls):
                    raise RuntimeError(
                        "feature injection: the source pass recorded fewer calls of a hooked module"
                    )
                self._replayed[key] = call + 1
                stored = calls[call]
                repeats, rest = divmod(output.shape[0], stored.shape[0])
                if rest or stored.shape[1:] != output.shape[1:]:
                    raise RuntimeError(
                        f"feature injection: source features {tuple(stored.shape)} "
                        f"do not fit {tuple(output.shape)}"
                    )
                stored = stored.to(output.device, output.dtype)
                return stored.repeat(repeats, *([1] * (stored.ndim - 1)))
            return None

        return hook

    @property
    def counts(self) -> dict[str, int]:
        """How many modules each group hooks (for provenance)."""
        return {group: len(modules) for group, modules in self._groups.items()}

    @contextlib.contextmanager
    def recording(self) -> Iterator[None]:
        """Store every hooked module's output of the passes inside the block (previous ones dropped)."""
        self._stored.clear()
        self._mode = "record"
        try:
            yield
        finally:
            self._mode = "off"

    @contextlib.contextmanager
    def injecting(self, *, features: bool, attention: bool) -> Iterator[None]:
        """Replace the chosen groups' outputs by the recorded ones inside the block."""
        self._mode = "inject"
        self._replayed = {}
        self._active = {name for name, on in (("features", features), ("attention", attention)) if on}
        try:
            yield
        finally:
            self._mode = "off"
            self._active = set()
            self._stored.clear()

    def remove(self) -> None:
        """Take the hooks off the model."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._stored.clear()
