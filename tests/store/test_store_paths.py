"""Stored paths can never reach outside the dataset folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from insvie.errors import PathEscapeError
from insvie.store import Dataset, check_relpath


@pytest.fixture
def ds(tmp_path: Path):
    with Dataset.open(tmp_path / "ds") as dataset:
        yield dataset


@pytest.mark.parametrize(
    "relpath",
    [
        "../x",
        "a/../../x",
        "a/../b",
        "..",
        "/etc/passwd",
        "//server/share",
        "C:/Windows/x",
        "c:x",
        "a\\..\\..\\x",
        "\\\\server\\share",
        "media/x\x00.mp4",
        "",
        ".",
    ],
)
def test_escaping_paths_are_rejected(ds: Dataset, relpath: str) -> None:
    with pytest.raises(PathEscapeError) as err:
        ds.resolve(relpath)
    assert repr(relpath) in str(err.value)


def test_non_str_path_is_rejected(ds: Dataset) -> None:
    with pytest.raises(PathEscapeError, match="must be a str"):
        ds.resolve(Path("media/x"))  # type: ignore[arg-type]


def test_nested_relative_paths_resolve_under_the_root(ds: Dataset) -> None:
    assert ds.resolve("media/ab/abc.mp4") == ds.root / "media" / "ab" / "abc.mp4"
    assert ds.resolve("exports/./x//y.parquet") == ds.root / "exports" / "x" / "y.parquet"
    assert ds.resolve("media/a b/ü.mp4") == ds.root / "media" / "a b" / "ü.mp4"
    assert check_relpath("exports/./x//y/") == "exports/x/y"


def test_symlink_pointing_outside_is_rejected(ds: Dataset, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, ds.root / "media" / "evil")
    os.symlink("/etc/passwd", ds.root / "media" / "passwd")
    with pytest.raises(PathEscapeError, match="outside the dataset"):
        ds.resolve("media/evil/x.mp4")
    with pytest.raises(PathEscapeError, match="outside the dataset"):
        ds.resolve("media/passwd")


def test_symlink_staying_inside_is_accepted(ds: Dataset) -> None:
    (ds.root / "media" / "real").mkdir()
    os.symlink(ds.root / "media" / "real", ds.root / "media" / "alias")
    assert ds.resolve("media/alias/x.mp4") == ds.root / "media" / "alias" / "x.mp4"


def test_item_media_paths_go_through_the_same_check(ds: Dataset) -> None:
    with pytest.raises(PathEscapeError):
        ds.add_item("a", "clip", media="../../etc/passwd")
