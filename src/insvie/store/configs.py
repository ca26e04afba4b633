"""The config registry: each stage config stored once, under the hash its results are keyed by.

Results only carry the hash; registering the config makes provenance resolvable to the full
settings later.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from insvie.store.records import config_hash, from_json, to_json
from insvie.store.state_db import StateDb


def register(db: StateDb, config: Mapping[str, Any]) -> str:
    """Store a stage config under its :func:`config_hash` and return the hash; again is a no-op."""
    digest = config_hash(config)
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO configs (hash, config, created_at) VALUES (?, ?, ?) ON CONFLICT (hash) DO NOTHING",
            (digest, to_json(dict(config), "config"), time.time()),
        )
    return digest


def get(db: StateDb, digest: str) -> dict[str, Any] | None:
    row = db.conn().execute("SELECT config FROM configs WHERE hash = ?", (digest,)).fetchone()
    return None if row is None else from_json(row[0])
