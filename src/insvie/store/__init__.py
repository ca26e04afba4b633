"""The dataset store: one folder holding a run's state database, media and exports.

Public API::

    Dataset.open(root, *, create=True) -> Dataset        # context manager; close()
    ds.resolve(relpath) -> Path                          # the only way from a stored path to a file
    ds.put_file(src, *, ext=None) -> str                 # copy in, content-addressed
    ds.put_bytes(data, ext) -> str
    ds.write_media(ext) -> ContextManager[PendingMedia]  # encoder writes .path; .relpath after the block
    ds.transaction() -> ContextManager[None]             # batch writes into one commit
    ds.add_item(item_id, kind, *, source=None, media=None, parent=None, meta=None) -> Item
    ds.get_item(item_id) -> Item | None;  ds.iter_items(kind=None) -> Iterator[Item]
    ds.register_config(config) -> str;  ds.get_config(hash) -> dict | None
    ds.record_result(stage, item_id, config_hash, status, *, output=None, reason=None, error=None) -> Result
    ds.get_result(stage, item_id, config_hash) -> Result | None;  ds.latest_results(kind=None) -> list[Result]
    ds.results(stage, config_hash, *, status=None) -> list[Result]
    ds.temp_path(ext) -> Path;  ds.adopt(tmp_path) -> str     # workers write, the runner adopts
    ds.pending(stage, config_hash, item_ids, *, max_attempts=3) -> list[str]
    ds.add_items(list[NewItem]);  ds.record_results(stage, config_hash, list[NewResult])  # bulk
    ds.count_pending(PendingQuery) -> int;  ds.pending_page(query, after_id, limit) -> [id]
    ds.nothing_pending_since_mark(query) -> bool;  ds.mark_nothing_pending(query)  # cheap no-op re-runs
    ds.items_with_parents(ids) -> [(Item, parent)];  ds.done_outputs(stage, config_hash, ids) -> {id: output}
    ds.funnel(stage, config_hash=None) -> Funnel
    ds.failures(stage, config_hash, *, examples=3) -> list[FailureGroup]   # grouped by error, most first
    ds.record_skipped_input(path, reason);  ds.clear_skipped_inputs(paths)
    ds.input_problems() -> list[InputProblem]
    ds.writing(command) -> ContextManager[None]          # the one-writer lock of a build; clears tmp/
    ds.set_review(item_id, verdict, *, reason=None, reviewer=None) -> Review
    ds.get_review(item_id) -> Review | None;  ds.reviews() -> dict[str, Review]
    ds.verify(*, rehash=False) -> list[str]
    config_hash(config) -> str
    # every export's dest is a folder; a bad one is a StoreError naming it and why
    export_parquet(dataset, dest=None, *, kind=None) -> Path   # dest/manifest.parquet + failures.parquet
    accepted_triplets(dataset, *, final_stage="refilter") -> Iterator[Triplet]
    export_webdataset(dataset, dest, *, shard_size=1000) -> list[Path]   # dest replaced whole
    export_insvie_csv(dataset, dest) -> Path                              # dest replaced whole
    manifest_table(dataset, *, kind=None) -> pyarrow.Table
    failures_table(dataset, *, kind=None) -> pyarrow.Table
"""

from insvie.store.dataset import DB_NAME, EXPORTS_DIR, TMP_DIR, Dataset, PendingMedia
from insvie.store.db import SCHEMA_VERSION
from insvie.store.export_parquet import export_parquet, failures_table, manifest_table
from insvie.store.export_triplets import Triplet, accepted_triplets, export_insvie_csv, export_webdataset
from insvie.store.lock import DatasetBusy
from insvie.store.paths import check_relpath
from insvie.store.records import (
    FailureGroup,
    Funnel,
    InputProblem,
    Item,
    NewItem,
    NewResult,
    Result,
    Review,
    Status,
    Verdict,
    config_hash,
)
from insvie.store.work_queue import PendingQuery

__all__ = [
    "DB_NAME",
    "EXPORTS_DIR",
    "SCHEMA_VERSION",
    "TMP_DIR",
    "Dataset",
    "DatasetBusy",
    "FailureGroup",
    "Funnel",
    "InputProblem",
    "Item",
    "NewItem",
    "NewResult",
    "PendingMedia",
    "PendingQuery",
    "Result",
    "Review",
    "Status",
    "Triplet",
    "Verdict",
    "accepted_triplets",
    "check_relpath",
    "config_hash",
    "export_insvie_csv",
    "export_parquet",
    "export_webdataset",
    "failures_table",
    "manifest_table",
]
