"""The evaluation report: JSON and CSV of every score, and the HTML report generated then parsed back."""

from __future__ import annotations

import base64
import csv
import io
import json
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from insvie.errors import ConfigError
from insvie.eval.report import write_report
from insvie.eval.report_html import GRID_FRAMES
from insvie.eval.sample import SampleScores
from insvie.media import write_video

EVIL = "<script>alert('x')</script> & make it \"blue\""
META = {"judge_pairs": {"protocol": "pairs", "model": "gpt-4o", "served_by": "gpt-4o-2024-11-20"}}


# -- a small DOM over html.parser, enough to query the report ---------------------------------------


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node] = field(default_factory=list)
    text: str = ""

    def all(self, tag: str, **attrs: str) -> list[Node]:
        found = []
        for child in self.children:
            if child.tag == tag and all(child.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items()):
                found.append(child)
            found.extend(child.all(tag, **attrs))
        return found

    def one(self, tag: str, **attrs: str) -> Node:
        [found] = self.all(tag, **attrs)
        return found

    def content(self) -> str:
        return self.text + "".join(child.content() for child in self.children)


class TreeBuilder(HTMLParser):
    VOID = frozenset({"img", "meta", "br", "link", "input"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {name: value or "" for name, value in attrs})
        self.stack[-1].children.append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(Node("#text", {}, text=data))


def parse(html: str) -> Node:
    builder = TreeBuilder()
    builder.feed(html)
    builder.close()
    assert builder.stack == [builder.root], "unclosed elements"
    return builder.root


def cell(table: Node, key: str, stat: str) -> str:
    return table.one("tr", data_key=key).one("td", data_stat=stat).content()


# -- the run under report ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[SampleScores], Path]:
    media = tmp_path_factory.mktemp("media")
    totals = [8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0]
    rows = []
    for index, total in enumerate(totals):
        source, edited = media / f"s{index}.mp4", media / f"e{index}.mp4"
        frames = np.full((5, 16, 24, 3), 20 * index, dtype=np.uint8)
        write_video(source, frames, 4)
        write_video(edited, 255 - frames, 4)
        rows.append(
            SampleScores(
                sample_id=f"sample-{index}",
                instruction=EVIL if index == 0 else f"edit number {index}",
                category=["add", "remove", None][index % 3],
                source=str(source),
                edited=str(edited),
                scores={"judge_pairs.total": total, "clip.clip_t": 20.0 + index},
                meta=META,
            )
        )
    rows[2].scores["psnr.psnr"] = float("inf")
    rows[3].scores["psnr.psnr"] = 30.0
    rows[4].scores["psnr.psnr"] = 20.0
    rows[5].edited = str(media / "missing.mp4")  # a grid that cannot show its edited frames
    failed = SampleScores(
        "sample-failed",
        "edit that failed",
        "add",
        str(media / "s1.mp4"),
        None,
        scores={"clip.clip_t": 25.0},
        errors={"judge_pairs": "schema_mismatch: at $.edit_quality: 4 is greater than <b>3</b>"},
    )
    rows.append(failed)
    out = tmp_path_factory.mktemp("report")
    paths = write_report(rows, out, title="Run <1>", primary="judge_pairs.total")
    assert (paths.json, paths.csv, paths.html) == (
        out / "scores.json",
        out / "scores.csv",
        out / "report.html",
    )
    return rows, out


def test_json_holds_every_score_and_the_summary(run) -> None:
    rows, out = run
    document = json.loads((out / "scores.json").read_text(encoding="utf-8"))
    assert document["title"] == "Run <1>"
    assert [s["sample_id"] for s in document["samples"]] == [row.sample_id for row in rows]
    assert document["samples"][2]["scores"]["psnr.psnr"] == "inf"  # strict JSON, still says what it was
    assert document["samples"][-1]["errors"] == rows[-1].errors
    assert document["samples"][0]["meta"] == META
    summary = document["summary"]
    assert (summary["samples"], summary["samples_with_errors"]) == (8, 1)
    assert summary["errors"] == {"clip": 0, "judge_pairs": 1, "psnr": 0}
    totals = [8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0]
    assert summary["scores"]["judge_pairs.total"] == pytest.approx(
        {
            "n": 7,
            "nonfinite": 0,
            "mean": 5.0,
            "median": 5.0,
            "std": float(np.std(totals)),
            "min": 2.0,
            "max": 8.0,
        }
    )
    assert summary["scores"]["psnr.psnr"]["n"] == 2 and summary["scores"]["psnr.psnr"]["nonfinite"] == 1
    assert summary["scores"]["psnr.psnr"]["mean"] == 25.0
    assert summary["categories"]["add"]["scores"]["judge_pairs.total"]["mean"] == pytest.approx(
        (8 + 5 + 2) / 3
    )
    assert summary["meta"]["judge_pairs"] == [META["judge_pairs"]]


def test_csv_has_one_row_per_sample_and_one_column_per_score(run) -> None:
    rows, out = run
    with open(out / "scores.csv", newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert list(table[0]) == [
        "sample_id",
        "category",
        "instruction",
        "source",
        "edited",
        "clip.clip_t",
        "judge_pairs.total",
        "psnr.psnr",
        "declined",
        "errors",
    ]
    assert len(table) == len(rows)
    assert table[0]["instruction"] == EVIL and float(table[0]["judge_pairs.total"]) == 8.0
    assert table[0]["psnr.psnr"] == "" and table[2]["psnr.psnr"] == "inf"
    assert json.loads(table[-1]["errors"]) == rows[-1].errors and table[-1]["judge_pairs.total"] == ""


def test_html_tables_hold_the_right_numbers(run) -> None:
    _, out = run
    dom = parse((out / "report.html").read_text(encoding="utf-8"))
    overview = dom.one("table", **{"class": "overview"})
    assert cell(overview, "samples", "samples") == "8"
    assert cell(overview, "errors", "samples_with_errors") == "1"

    judge = dom.one("table", **{"class": "stats", "data_metric": "judge_pairs"})
    assert float(cell(judge, "judge_pairs.total", "mean")) == 5.0
    assert float(cell(judge, "judge_pairs.total", "std")) == pytest.approx(2.0, abs=1e-3)
    assert cell(judge, "judge_pairs.total", "n") == "7"
    assert cell(judge, "judge_pairs.total", "failed") == "1"  # the sample whose judge failed is counted
    clip = dom.one("table", **{"class": "stats", "data_metric": "clip"})
    assert float(cell(clip, "clip.clip_t", "median")) == 23.5 and cell(clip, "clip.clip_t", "n") == "8"
    psnr = dom.one("table", **{"class": "stats", "data_metric": "psnr"})
    assert cell(psnr, "psnr.psnr", "n") == "2 (+1 non-finite)"
    assert "gpt-4o-2024-11-20" in dom.one("section", id="metrics").content()

    by_category = dom.one("table", **{"class": "categories", "data_metric": "judge_pairs"})
    assert cell(by_category, "add", "judge_pairs.total") == "5 (n=3)"
    assert cell(by_category, "(none)", "judge_pairs.total") == "4.5 (n=2)"
    assert cell(by_category, "add", "samples") == "4"

    errors = dom.one("table", **{"class": "errors"}).one("tr", data_key="sample-failed")
    assert "greater than <b>3</b>" in errors.content()


def test_html_histograms(run) -> None:
    _, out = run
    dom = parse((out / "report.html").read_text(encoding="utf-8"))
    figures = {
        figure.attrs["data-key"]: figure for figure in dom.one("section", id="histograms").all("figure")
    }
    assert sorted(figures) == ["clip.clip_t", "judge_pairs.total", "psnr.psnr"]
    counts = {
        key: sum(int(bar.attrs["data-count"]) for bar in fig.all("rect")) for key, fig in figures.items()
    }
    assert counts == {"clip.clip_t": 8, "judge_pairs.total": 7, "psnr.psnr": 2}


def test_html_grids_show_best_and_worst(run) -> None:
    _, out = run
    dom = parse((out / "report.html").read_text(encoding="utf-8"))
    best = dom.one("section", id="best").all("div", **{"class": "grid"})
    worst = dom.one("section", id="worst").all("div", **{"class": "grid"})
    assert [g.attrs["data-sample"] for g in best] == ["sample-0", "sample-1", "sample-2"]
    assert [g.attrs["data-sample"] for g in worst] == ["sample-6", "sample-5", "sample-4"]
    top = best[0]
    source_rows, edited_rows = top.all("img", **{"class": "source"}), top.all("img", **{"class": "edited"})
    assert len(source_rows) == len(edited_rows) == GRID_FRAMES
    first = source_rows[0].attrs["src"]
    assert first.startswith("data:image/jpeg;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(first.split(",", 1)[1])))
    assert image.format == "JPEG" and max(image.size) <= 160
    # Source frames above edited ones, the instruction beneath, shown as text.
    divs = top.all("div", **{"class": "row"})
    assert [d.one("span").content() for d in divs] == ["source", "edited"]
    assert top.one("p", **{"class": "instruction"}).content() == EVIL
    # A sample whose edited video is missing still gets its grid, with the reason.
    broken = next(g for g in worst if g.attrs["data-sample"] == "sample-5")
    assert "edited frames unavailable" in broken.one("p", **{"class": "problem"}).content()
    assert len(broken.all("img", **{"class": "source"})) == GRID_FRAMES


def test_html_is_escaped_and_self_contained(run) -> None:
    _, out = run
    text = (out / "report.html").read_text(encoding="utf-8")
    dom = parse(text)
    assert "<script" not in text and dom.all("script") == []
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    assert dom.one("head").one("title").content() == "Run <1>"
    assert dom.all("link") == [] and dom.all("iframe") == []
    assert all(img.attrs["src"].startswith("data:") for img in dom.all("img"))
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in text


def test_unknown_primary_is_refused(run, tmp_path: Path) -> None:
    rows, _ = run
    with pytest.raises(ConfigError, match=r"primary score 'vbench\.total'"):
        write_report(rows, tmp_path, title="t", primary="vbench.total")


def test_default_primary_and_an_empty_run(run, tmp_path: Path) -> None:
    rows, _ = run
    write_report(rows, tmp_path / "a", title="t")
    dom = parse((tmp_path / "a" / "report.html").read_text(encoding="utf-8"))
    # clip.clip_t covers all eight samples, more than any other key.
    assert cell(dom.one("table", **{"class": "overview"}), "primary", "primary") == "clip.clip_t"
    paths = write_report([], tmp_path / "b", title="empty")
    assert json.loads(paths.json.read_text(encoding="utf-8"))["summary"]["samples"] == 0
    parse(paths.html.read_text(encoding="utf-8"))
