"""Ingest's folder walk: lazy and one listing per folder, yet the same files in the same order as a sorted
``Path.rglob`` (hidden names left out, linked folders not entered, broken links reported)."""

from __future__ import annotations

import os
from pathlib import Path

from insvie.engine.ingest import IngestReport, _files


def test_the_walk_yields_what_a_sorted_rglob_yields_and_reports_broken_links(tmp_path: Path) -> None:
    root = tmp_path / "in"
    for name in ("a.mp4", "a/x.mp4", "a/b/y.png", "a-b.mp4", "b/.seen/z.mp4", ".hidden.mp4", "c/notes.txt"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x")
    os.symlink(root / "a", root / "linked_folder")
    os.symlink(root / "a.mp4", root / "linked_file.mp4")
    os.symlink(root / "gone.mp4", root / "broken.mp4")
    report = IngestReport()
    files = list(_files([root], report))
    found = [Path(file.path) for file in files]
    expected = [
        path
        for path in sorted(root.rglob("*"))
        if not path.name.startswith(".")
        and path.is_file()
        and not path.is_relative_to(root / "linked_folder")
    ]
    assert found == expected
    assert root / "b/.seen/z.mp4" in found and root / "linked_file.mp4" in found
    assert [file.absolute for file in files] == [os.path.abspath(path) for path in found]
    assert list(report.skipped) == [str(root / "broken.mp4")]
    assert report.skipped[str(root / "broken.mp4")].startswith("broken symlink")


def test_a_relative_root_is_reported_as_given_and_indexed_by_its_absolute_path(
    tmp_path: Path, monkeypatch
) -> None:
    (tmp_path / "in" / "sub").mkdir(parents=True)
    (tmp_path / "in" / "sub" / "a.mp4").write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    files = list(_files([Path("in/sub/..")], IngestReport()))
    assert [file.path for file in files] == ["in/sub/../sub/a.mp4"]
    assert [file.absolute for file in files] == [str(tmp_path / "in" / "sub" / "a.mp4")]
