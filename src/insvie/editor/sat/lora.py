"""Merging SAT's LoRA layers into plain weights, as SAT's own ``merge_linear_lora`` does.

SAT LoRA layers (``sat.model.finetune.lora2``) store ``X.original.{weight,bias}``, ``X.matrix_A.i``
(r x in) and ``X.matrix_B.i`` (out/n x r) per output partition i (n = 3 for the fused QKV). They are
merged exactly as SAT's ``merge_linear_lora`` does: ``W + concat_i(B_i @ A_i) * alpha / r`` along the
output rows, r read from A. Checkpoints saved after merging (plain ``X.weight``) convert as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from insvie.editor.sat.errors import CheckpointError

if TYPE_CHECKING:
    from torch import Tensor

_LORA = re.compile(
    r"^(?P<base>.+)\.(?:original\.(?P<param>weight|bias)|matrix_(?P<ab>[AB])\.(?P<index>\d+))$"
)


@dataclass
class LoraMerge:
    """The LoRA layers found and merged; ``scale`` is alpha / r as SAT's LoraLinear applies it."""

    layers: list[str]
    rank: int
    alpha: float

    @property
    def scale(self) -> float:
        return self.alpha / self.rank


def merge_lora(
    local: dict[str, Tensor],
    sources: dict[str, list[str]],
    *,
    lora_alpha: float,
    lora_rank: int | None,
) -> LoraMerge | None:
    """Replace every SAT LoRA linear in ``local`` by its merged ``weight``/``bias`` (in place)."""
    import torch

    groups: dict[str, dict[str, Any]] = {}
    for key in list(local):
        match = _LORA.match(key)
        if not match:
            continue
        group = groups.setdefault(match["base"], {"A": {}, "B": {}, "params": {}, "keys": []})
        group["keys"].append(key)
        if match["param"]:
            group["params"][match["param"]] = local[key]
        else:
            group[match["ab"]][int(match["index"])] = local[key]
    if not groups:
        return None

    ranks: set[int] = set()
    for base, group in sorted(groups.items()):
        prefix = f"LoRA layer {base}"
        weight = group["params"].get("weight")
        if weight is None:
            raise CheckpointError(
                f"{prefix} has no original.weight (found {', '.join(sorted(group['keys']))})"
            )
        if f"{base}.weight" in local or f"{base}.bias" in local:
            raise CheckpointError(f"{base} is stored both merged ({base}.weight) and as a LoRA layer")
        parts = sorted(group["A"])
        if not parts or parts != list(range(len(parts))) or sorted(group["B"]) != parts:
            raise CheckpointError(
                f"{prefix} has unmatched LoRA parts: "
                f"matrix_A {sorted(group['A'])}, matrix_B {sorted(group['B'])}"
            )
        a_parts = [group["A"][i] for i in parts]
        b_parts = [group["B"][i] for i in parts]
        rank = a_parts[0].shape[0]
        out_dim, in_dim = weight.shape
        for i, (a, b) in enumerate(zip(a_parts, b_parts, strict=True)):
            if a.ndim != 2 or a.shape != (rank, in_dim):
                raise CheckpointError(
                    f"{base}.matrix_A.{i} has shape {tuple(a.shape)}, expected ({rank}, {in_dim})"
                )
            if b.ndim != 2 or b.shape[1] != rank:
                raise CheckpointError(f"{base}.matrix_B.{i} has shape {tuple(b.shape)}, expected (*, {rank})")
        if sum(b.shape[0] for b in b_parts) != out_dim:
            raise CheckpointError(
                f"{prefix}: its matrix_B parts have {sum(b.shape[0] for b in b_parts)} rows in all, "
                f"original.weight has {out_dim}"
            )
        if lora_rank is not None and rank != lora_rank:
            raise CheckpointError(f"{prefix} has rank {rank} (rows of matrix_A), not the given {lora_rank}")
        ranks.add(rank)
        # As SAT's merge_linear_lora: float32 products, partitions stacked along the output rows.
        delta = torch.cat([b.float() @ a.float() for a, b in zip(a_parts, b_parts, strict=True)], dim=0)
        for key in group["keys"]:
            del local[key]
        local[f"{base}.weight"] = weight.float() + delta * (lora_alpha / rank)
        sources[f"{base}.weight"] = sorted(key for key in group["keys"] if not key.endswith(".bias"))
        if "bias" in group["params"]:
            local[f"{base}.bias"] = group["params"]["bias"]
            sources[f"{base}.bias"] = [f"{base}.original.bias"]
    if len(ranks) > 1:
        raise CheckpointError(f"the LoRA layers have different ranks {sorted(ranks)}; one rank r is expected")
    return LoraMerge(layers=sorted(groups), rank=ranks.pop(), alpha=float(lora_alpha))
