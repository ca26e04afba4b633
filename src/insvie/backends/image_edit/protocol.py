"""The contract of every instruction image editor, so the edit stage names one in config and never branches.

An editor is built cheaply (no weights touched), loaded once per worker with :meth:`ImageEditor.load`,
then asked for K candidates of one image per :meth:`ImageEditor.edit` call, or for the candidates of
many images at once with :meth:`ImageEditor.edit_batch` (what keeps an accelerator busy). What it reports in
:meth:`ImageEditor.describe` plus :func:`candidate_records` is everything a dataset needs to say how a
candidate was made: model, revision, dtype, device, scheduler, guidance, steps and seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np

from insvie.backends.image_edit.settings import GuidanceSetting, candidate_seeds


class ImageEditRequest(NamedTuple):
    """One item of :meth:`ImageEditor.edit_batch`: what :meth:`ImageEditor.edit` takes.

    A named tuple, so a plain ``(image, instruction, settings, seed)`` tuple is a request too.
    """

    image: np.ndarray
    instruction: str
    settings: Sequence[GuidanceSetting]
    seed: int


@runtime_checkable
class ImageEditor(Protocol):
    name: str

    def load(self) -> None:
        """Load the weights (idempotent); stages call it once in ``setup()``."""
        ...

    def describe(self) -> dict[str, Any]:
        """Provenance: backend, model, revision (commit when known), dtype, device, scheduler, options."""
        ...

    def effective(self, setting: GuidanceSetting) -> GuidanceSetting:
        """The setting as this backend applies it (e.g. image guidance None where the model has none)."""
        ...

    def edit(
        self, image: np.ndarray, instruction: str, settings: Sequence[GuidanceSetting], *, seed: int
    ) -> list[np.ndarray]:
        """One HxWx3 uint8 candidate per setting, the size of ``image``, in the order of ``settings``."""
        ...

    def edit_batch(self, requests: Sequence[ImageEditRequest]) -> list[list[np.ndarray]]:
        """What :meth:`edit` returns for each ``(image, instruction, settings, seed)`` request, in order;
        each candidate the same as when its request is edited alone (up to float rounding)."""
        ...


def candidate_records(
    editor: ImageEditor, settings: Sequence[GuidanceSetting], seed: int
) -> list[dict[str, Any]]:
    """Per candidate: the guidance actually applied and the noise seed, in the order of ``settings``."""
    effective = [editor.effective(s) for s in settings]
    return [
        {**s.as_dict(), "seed": candidate_seed}
        for s, candidate_seed in zip(effective, candidate_seeds(effective, seed), strict=True)
    ]
