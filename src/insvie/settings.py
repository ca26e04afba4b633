"""The base of every declared setting: plain data, validated, frozen, unknown keys refused.

It sits at the bottom of the package so that a backend can declare its own settings (which a stage's
config then embeds, declared once) without depending on the engine that runs stages.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class StageConfig(BaseModel):
    """Base of every stage's settings: plain data, validated, with unknown keys refused.

    Fields marked ``Field(json_schema_extra=OPERATIONAL)`` (budgets, concurrency, timeouts) change
    how a stage runs, not what it decides, so they stay out of the config hash: raising a budget
    resumes a build instead of redoing it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    def decision_dump(self) -> dict[str, Any]:
        """The settings that determine results, as JSON data (operational fields left out)."""
        out = {}
        for name, field_info in type(self).model_fields.items():
            extra = field_info.json_schema_extra
            if isinstance(extra, dict) and extra.get("operational"):
                continue
            value = getattr(self, name)
            if isinstance(value, StageConfig):
                out[name] = value.decision_dump()
            elif isinstance(value, tuple) and value and all(isinstance(v, StageConfig) for v in value):
                out[name] = [v.decision_dump() for v in value]
            else:
                out[name] = self.model_dump(mode="json", include={name})[name]
        return out


OPERATIONAL = {"operational": True}
