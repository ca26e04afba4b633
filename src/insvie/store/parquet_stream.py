"""A Parquet file written from a stream of record batches, a row group at a time.

A manifest of ten million rows does not fit in memory as one table; written as it is read, only the
current row group is held. Row groups are a fixed size however the batches come (SQL pages are smaller,
and small row groups make a file slow to scan), and the file reads back as the one-shot table would.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROW_GROUP_ROWS = 128 * 1024


def write_parquet(path: Path, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> None:
    """Write ``batches`` of ``schema`` to ``path`` in row groups of :data:`ROW_GROUP_ROWS` (the last less)."""
    size = ROW_GROUP_ROWS
    with pq.ParquetWriter(path, schema) as writer:
        pending = schema.empty_table()
        for batch in batches:
            pending = pa.concat_tables([pending, pa.Table.from_batches([batch], schema)])
            full = pending.num_rows - pending.num_rows % size
            if full:
                writer.write_table(pending.slice(0, full), row_group_size=size)
                pending = pending.slice(full)
        if pending.num_rows:
            writer.write_table(pending, row_group_size=size)
