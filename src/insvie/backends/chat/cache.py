"""Reply cache on disk, so that a re-run of a stage pays nothing twice.

Each reply is one JSON file named by the sha256 of everything that determines it (endpoint, model,
messages with their inlined images, schema, temperature, seed) and nothing secret: the API key is
not part of the key or the file, so a cache can be shared or shipped with a dataset. Files are
written to a temporary name and renamed, so a killed run or two workers racing on the same request
never leave a half-written entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

CACHE_FORMAT = 1


def cache_key(
    *,
    base_url: str,
    model: str,
    messages: list[dict[str, Any]],
    schema: dict[str, Any],
    temperature: float,
    seed: int | None,
) -> str:
    """Hex sha256 over a canonical JSON encoding of the request's content."""
    parts = {
        "format": CACHE_FORMAT,
        "base_url": base_url,
        "model": model,
        "messages": messages,
        "schema": schema,
        "temperature": temperature,
        "seed": seed,
    }
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ReplyCache:
    """A folder of ``<key[:2]>/<key>.json`` records."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored record, or None when absent or unreadable (then the request is simply sent)."""
        try:
            record = json.loads(self.path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("format") != CACHE_FORMAT:
            return None
        return record

    def put(self, key: str, record: dict[str, Any]) -> Path:
        """Store ``record`` atomically (temporary file in the same folder, then ``os.replace``)."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{key[:16]}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump({"format": CACHE_FORMAT, **record}, stream, ensure_ascii=False, indent=1)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return target
