"""The logic behind `insvie app`'s UI, as plain functions: limits, the media guard, the catalogue, reviews."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from insvie.app.catalog import Catalog, flatten_scores
from insvie.app.charts import funnel_html
from insvie.app.editing import EditRequest
from insvie.app.limits import UploadLimits, UploadRejected, check_upload
from insvie.app.media import MediaGuard
from insvie.app.review import save_review
from insvie.errors import InsvieError, PathEscapeError, StoreError
from insvie.media import write_video
from insvie.store import Dataset, Funnel, accepted_triplets, config_hash, manifest_table

EDIT_HASH, JUDGE_HASH, REFILTER_HASH = (config_hash({"step": name}) for name in ("edit", "judge", "refilter"))


def _sweep(dataset: Dataset, strengths: list[float]) -> dict:
    """An edit step's output in the shape the edit stage records: every candidate, its file and scores."""
    output: dict = {"candidates": [], "chosen": 0, "settings": {"seed": 7}}
    for index, strength in enumerate(strengths):
        output[f"candidate_{index}"] = dataset.put_bytes(f"png {index}".encode(), ".png")
        output["candidates"].append(
            {"file": f"candidate_{index}", "strength": strength, "score": strength / 2, "seed": 7}
        )
    return output


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """Two triplets with full lineage: a judge picked candidate 1 of the first; the second failed refilter."""
    root = tmp_path / "ds"
    with Dataset.open(root) as ds:
        clip = ds.put_bytes(b"source clip", ".mp4")
        ds.add_item("v", "video", source="/videos/a.mp4")
        ds.add_item("v.c", "clip", parent="v", media=clip)
        for n, (category, status) in enumerate((("style", "done"), ("season", "rejected"))):
            ds.add_item(f"v.c.e{n}", "edit", parent="v.c", meta={"instruction": f"edit {n}"})
            edited = ds.put_bytes(f"edited {n}".encode(), ".mp4")
            meta = {"instruction": f"edit {n}", "category": category, "source_media": clip}
            ds.add_item(f"v.c.e{n}.t", "triplet", parent=f"v.c.e{n}", media=edited, meta=meta)
            ds.record_result("edit", f"v.c.e{n}", EDIT_HASH, "done", output=_sweep(ds, [0.5, 1.0]))
            judgements = [
                {"candidate": 0, "overall": 3, "passes": False},
                {"candidate": 1, "overall": 8 - n, "passes": True},
            ]
            ds.record_result(
                "judge", f"v.c.e{n}", JUDGE_HASH, "done", output={"judgements": judgements, "chosen": 1}
            )
            reason = None if status == "done" else "flicker"
            metrics = {"metrics": {"persistence": 0.9 - n / 2, "flicker_ratio": None}}
            ds.record_result("refilter", f"v.c.e{n}.t", REFILTER_HASH, status, output=metrics, reason=reason)
        ds.add_item("v.c.e2.t", "triplet", parent="v.c", meta={"category": "style"})  # not refiltered yet
        ds.record_result("clip_filter", "v.c", EDIT_HASH, "done", output={"quality": {"sharpness": 120}})
    steps = [{"name": "edit", "config_hash": EDIT_HASH}, {"name": "refilter", "config_hash": REFILTER_HASH}]
    (root / "build.json").write_text(json.dumps({"final_step": "refilter", "steps": steps}))
    return root


def test_catalog_rows_carry_every_lineage_score_and_the_final_status(dataset: Path):
    catalog = Catalog.open(dataset)
    rows = {row.id: row for row in catalog.rows}
    assert sorted(rows) == ["v.c.e0.t", "v.c.e1.t", "v.c.e2.t"]
    first = rows["v.c.e0.t"]
    assert (first.category, first.instruction, first.status, first.accepted) == (
        "style",
        "edit 0",
        "kept",
        True,
    )
    assert rows["v.c.e1.t"].status == "rejected: flicker" and not rows["v.c.e1.t"].accepted
    assert rows["v.c.e2.t"].status == "pending"
    assert first.scores["refilter.metrics.persistence"] == 0.9
    assert first.scores["clip_filter.quality.sharpness"] == 120  # from the clip, two generations up
    assert first.scores["judge.chosen.overall"] == 8  # the kept candidate's judgement
    assert first.scores["edit.chosen.strength"] == 0.5  # the edit's own pick: candidate 0
    # missing values, seeds, indices and settings are not scores
    assert not {"refilter.metrics.flicker_ratio", "edit.settings.seed", "edit.chosen", "judge.chosen"} & set(
        first.scores
    )
    assert catalog.categories == ["season", "style"]
    assert [(f.stage, f.total, f.kept) for f in catalog.funnels] == [("edit", 2, 2), ("refilter", 2, 1)]


def test_catalog_filters_and_sorts_keeping_unscored_rows_last(dataset: Path):
    catalog = Catalog.open(dataset)
    key = "refilter.metrics.persistence"
    assert [r.id for r in catalog.select(sort_by=key)] == ["v.c.e0.t", "v.c.e1.t", "v.c.e2.t"]
    assert [r.id for r in catalog.select(sort_by=key, descending=False)] == [
        "v.c.e1.t",
        "v.c.e0.t",
        "v.c.e2.t",
    ]
    assert [r.id for r in catalog.select(category="style")] == ["v.c.e0.t", "v.c.e2.t"]
    assert [r.id for r in catalog.select(status="accepted")] == ["v.c.e0.t"]
    assert [r.id for r in catalog.select(status="rejected")] == ["v.c.e1.t", "v.c.e2.t"]
    with pytest.raises(ValueError, match="status filter"):
        catalog.select(status="maybe")


def test_detail_lists_every_stage_and_the_rejected_candidates(dataset: Path):
    detail = Catalog.open(dataset).detail("v.c.e0.t")
    assert [(s.stage, s.kind) for s in detail.stages] == [
        ("refilter", "triplet"),
        ("edit", "edit"),
        ("judge", "edit"),
        ("clip_filter", "clip"),
    ]
    assert [(c.index, c.chosen_by) for c in detail.candidates] == [(0, ("edit",)), (1, ("judge",))]
    assert detail.candidates[0].fields == {
        "strength": 0.5,
        "score": 0.25,
        "seed": 7,
        "judge.overall": 3,
        "judge.passes": False,
    }
    assert detail.candidates[1].media.startswith("media/")
    with pytest.raises(StoreError, match="no triplet"):
        Catalog.open(dataset).detail("v.c")


def test_catalog_refuses_a_folder_that_is_not_a_dataset(tmp_path: Path):
    with pytest.raises(StoreError, match="not an insvie dataset"):
        Catalog.open(tmp_path)


def test_only_datasets_under_the_root_can_be_opened(dataset: Path, tmp_path: Path):
    from insvie.app.server import AppSettings

    assert Catalog.open(dataset, within=dataset.parent).rows
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with pytest.raises(StoreError, match="only datasets under"):
        Catalog.open(dataset, within=elsewhere)
    with pytest.raises(StoreError, match="only datasets under"):
        Catalog.open(elsewhere / "..", within=elsewhere)  # resolved before the check
    assert AppSettings(datasets_root=elsewhere).root() == elsewhere.resolve()
    assert AppSettings(dataset=dataset, datasets_root=elsewhere).root() == dataset.resolve().parent


def test_the_table_lists_a_bounded_number_of_rows_with_the_sort_score(dataset: Path):
    pytest.importorskip("pandas")
    from insvie.app import dataset_view

    rows = Catalog.open(dataset).select(sort_by="refilter.metrics.persistence")
    frame = dataset_view.table(rows, "refilter.metrics.persistence")
    assert list(frame.columns)[-1] == "refilter.metrics.persistence"
    assert frame["triplet"].tolist() == ["v.c.e0.t", "v.c.e1.t", "v.c.e2.t"]
    assert dataset_view.first_rows(rows) == (rows, "3 triplets match")
    shown, label = dataset_view.first_rows(rows * 200)
    assert len(shown) == dataset_view.MAX_ROWS and "the first 500 are listed" in label


def test_flatten_scores_names_numbers_by_path():
    output = {"a": 1, "b": {"c": 2.5, "ok": True, "seed": 3, "d": [1, 2]}, "e": "text"}
    assert flatten_scores(output, "s") == {"s.a": 1.0, "s.b.c": 2.5}


def test_review_is_stored_and_honoured_by_exports(dataset: Path):
    review = save_review(dataset, "v.c.e0.t", "reject", reason="  colours bleed  ", reviewer="ana")
    assert (review.verdict, review.reason, review.reviewer) == ("reject", "colours bleed", "ana")
    with Dataset.open(dataset, create=False) as ds:
        assert ds.get_review("v.c.e0.t").verdict == "reject"
        assert [t.item.id for t in accepted_triplets(ds)] == []  # its only accepted triplet is now left out
        table = {row["id"]: row for row in manifest_table(ds, kind="triplet").to_pylist()}
    assert (table["v.c.e0.t"]["review"], table["v.c.e0.t"]["review_reason"]) == ("reject", "colours bleed")
    assert not Catalog.open(dataset).rows[0].accepted
    with pytest.raises(StoreError, match="no triplet"):
        save_review(dataset, "v.c", "accept")
    with pytest.raises(StoreError, match="verdict"):
        save_review(dataset, "v.c.e0.t", "maybe")
    with pytest.raises(StoreError, match="at most 500"):
        save_review(dataset, "v.c.e0.t", "accept", reason="x" * 501)


def test_media_guard_serves_only_media_inside_the_dataset(dataset: Path, tmp_path: Path):
    guard = MediaGuard(tmp_path / "staging")
    with Dataset.open(dataset, create=False) as ds:
        relpath = ds.get_item("v.c.e0.t").media
        staged = guard.stage(ds, relpath)
        assert staged.parent == tmp_path / "staging" and staged.read_bytes() == b"edited 0"
        assert guard.stage(ds, relpath) == staged  # staged once
        outside = tmp_path / "secret.mp4"
        outside.write_bytes(b"secret")
        os.symlink(outside, ds.root / "media" / "link.mp4")
        (ds.root / "media" / "notes.txt").write_text("not media")
        for bad, why in (
            ("insvie.db", "media/ folder"),
            ("../secret.mp4", "'..'"),
            (str(outside), "absolute"),
            ("media/link.mp4", "outside the dataset"),
            ("media/notes.txt", "not a media file"),
            ("media/missing.mp4", "no such media file"),
        ):
            with pytest.raises(PathEscapeError, match=why):
                guard.stage(ds, bad)


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frames = np.random.default_rng(0).integers(0, 255, (16, 32, 48, 3), dtype=np.uint8)
    return write_video(tmp_path_factory.mktemp("clip") / "short.mp4", frames, 8.0)


def test_upload_limits_name_the_limit_and_how_to_raise_it(short_clip: Path, tmp_path: Path):
    info = check_upload(short_clip, UploadLimits(max_mb=1, max_seconds=5))
    assert info.duration == pytest.approx(2.0, abs=0.2)
    with pytest.raises(UploadRejected, match=r"2\.0 s long; this app edits at most 1 s .*--max-seconds"):
        check_upload(short_clip, UploadLimits(max_mb=1, max_seconds=1))
    with pytest.raises(UploadRejected, match=r"at most 0\.001 MB .*--max-upload-mb"):
        check_upload(short_clip, UploadLimits(max_mb=0.001, max_seconds=5))
    bogus = tmp_path / "bogus.mp4"
    bogus.write_text("not a video")
    with pytest.raises(UploadRejected, match="not a video this app can read"):
        check_upload(bogus, UploadLimits())
    with pytest.raises(ValueError, match="positive"):
        UploadLimits(max_mb=0)


def test_edit_request_refuses_unusable_settings(short_clip: Path):
    EditRequest(short_clip, "make it snow").check()
    for request, message in (
        (EditRequest(short_clip, "  "), "write an instruction"),
        (EditRequest(short_clip, "x", steps=0), "steps must be"),
        (EditRequest(short_clip, "x", steps=501), "steps must be between 1 and 500"),
        (EditRequest(short_clip, "x", text_guidance=-1), "must not be negative"),
    ):
        with pytest.raises(InsvieError, match=message):
            request.check()


def test_funnel_chart_scales_bars_and_escapes_names():
    html = funnel_html([Funnel("split", 10, 10, {}, 0), Funnel("refilter", 5, 2, {"<flicker>": 3}, 0)])
    assert 'data-step="split"' in html and "width:100.00%" in html and "width:30.00%" in html
    assert "&lt;flicker&gt; 3" in html and "<flicker>" not in html
    assert "no finished build" in funnel_html([])


def test_loopback_detection():
    pytest.importorskip("gradio")
    from insvie.app.server import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert (
        not is_loopback("0.0.0.0")
        and not is_loopback("192.168.1.2")
        and not is_loopback("no.such.host.invalid")
    )


def test_app_command_without_gradio_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch):
    from insvie.cli.main import app

    for name in [n for n in sys.modules if n == "gradio" or n.startswith(("gradio.", "insvie.app.server"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "gradio", None)  # import gradio now fails as if not installed
    for name in ("insvie.app.dataset_tab", "insvie.app.edit_tab"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    result = CliRunner().invoke(app, ["app"])
    assert result.exit_code == 2
    assert "pip install 'insvie[app]'" in result.output


def test_app_command_refuses_a_folder_that_is_not_a_dataset(tmp_path: Path):
    pytest.importorskip("gradio")
    from insvie.cli.main import app

    result = CliRunner().invoke(app, ["app", "--dataset", str(tmp_path)])
    assert result.exit_code == 2 and "no insvie.db" in result.output
