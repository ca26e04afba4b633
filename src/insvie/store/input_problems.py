"""Inputs that gave nothing, read with index seeks: ingest's skips, and the input items whose current
result of some step is a rejection or a failure.

This is :func:`insvie.store.inputs.problems` without reading every input's results into Python (which
parses each one's output): for every step and config only its rejected and failed rows are sought, so the
cost follows the number of problems, not of inputs.
"""

from __future__ import annotations

from operator import itemgetter

from insvie.store.inputs import INPUT_KINDS
from insvie.store.latest import IS_LATEST
from insvie.store.records import InputProblem
from insvie.store.result_groups import stage_configs
from insvie.store.state_db import StateDb

_SKIPPED = "SELECT path, reason FROM skipped_inputs"
_TURNED_DOWN = (
    "SELECT coalesce(nullif(i.source, ''), r.item_id), r.stage, r.status, "
    "coalesce(CASE r.status WHEN 'rejected' THEN r.reason ELSE r.error END, ''), r.item_id, i.kind "
    # CROSS JOIN keeps the step's few rejected and failed rows as the outer loop: otherwise SQLite may walk
    # every input item of the kinds (their kind index) and seek each one's result.
    "FROM results AS r CROSS JOIN items AS i ON i.id = r.item_id "
    "WHERE r.stage = ? AND r.config_hash = ? AND r.status IN ('rejected', 'failed') "
    f"AND i.kind IN ({', '.join('?' * len(INPUT_KINDS))}) AND {IS_LATEST}"
)


def input_problems(db: StateDb) -> list[InputProblem]:
    """Every input that gave nothing, by path then step (the same list, in the same order, as
    ``inputs.problems``: ties list skips first, then inputs by kind and id)."""
    conn = db.conn()
    rank = {kind: n for n, kind in enumerate(INPUT_KINDS, start=1)}
    keyed = [
        ((path, "ingest", 0, ""), InputProblem(path, "ingest", "skipped", reason))
        for path, reason in conn.execute(_SKIPPED)
    ]
    for stage, digest in stage_configs(db):
        for path, step, status, reason, item_id, kind in conn.execute(
            _TURNED_DOWN, (stage, digest, *INPUT_KINDS)
        ):
            keyed.append(
                ((path, step, rank[kind], item_id), InputProblem(path, step, status, reason, item_id))
            )
    keyed.sort(key=itemgetter(0))
    return [problem for _, problem in keyed]
