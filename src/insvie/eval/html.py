"""HTML pieces of the evaluation report: a page, tables, SVG histograms and frame grids.

The report is one self-contained file (inline CSS, inline SVG, images as data URLs, no script, no
external asset), so it can be mailed, archived or opened offline years later. Every piece of text
goes through :func:`esc`: instructions, ids and error messages are user data, and an instruction
reading ``<script>`` must show as text, never run. Cells carry ``data-*`` attributes naming what
they hold, so a test or a script can read the figures without scraping layout.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; } h3 { margin-bottom: .3em; }
table { border-collapse: collapse; margin: .5em 0 1em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f3f3f3; }
.meta { color: #555; font-size: .9em; margin: 0; }
.hists { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; }
figcaption { font-size: .9em; color: #333; }
svg rect.bar { fill: #4a78b0; } svg text { font-size: 10px; fill: #444; }
.grid { border: 1px solid #ddd; padding: .5em; margin: .6em 0; }
.grid img { display: block; margin: 1px; }
.grid .row { display: flex; align-items: center; }
.grid .label { width: 4.5em; color: #555; font-size: .85em; }
.instruction { margin: .3em 0 0; font-style: italic; }
.problem { color: #a33; }
"""


def esc(value: object) -> str:
    """Text made safe for HTML content and attribute values."""
    return html.escape(str(value), quote=True)


def number(value: float | None) -> str:
    """Four significant digits; a dash for a missing figure."""
    if value is None:
        return "–"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4g}"


def page(title: str, sections: Iterable[str]) -> str:
    body = "\n".join(sections)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{esc(title)}</h1>\n{body}\n</body>\n</html>\n"
    )


def section(section_id: str, heading: str, content: str) -> str:
    return f'<section id="{esc(section_id)}">\n<h2>{esc(heading)}</h2>\n{content}\n</section>'


@dataclass(frozen=True)
class Cell:
    """A table cell: the text shown and, optionally, what it holds (its ``data-stat`` attribute)."""

    text: str
    stat: str | None = None


def table(
    css_class: str, headers: Sequence[str], rows: Iterable[tuple[str, Sequence[Cell]]], **data: str
) -> str:
    """A table whose body rows are ``(key, cells)``; ``key`` lands in the row's ``data-key``."""
    attributes = "".join(f' data-{esc(name)}="{esc(value)}"' for name, value in data.items())
    head = "".join(f"<th>{esc(header)}</th>" for header in headers)
    body = []
    for key, cells in rows:
        tds = "".join(
            f'<td data-stat="{esc(cell.stat)}">{esc(cell.text)}</td>'
            if cell.stat
            else f"<td>{esc(cell.text)}</td>"
            for cell in cells
        )
        body.append(f'<tr data-key="{esc(key)}">{tds}</tr>')
    return (
        f'<table class="{esc(css_class)}"{attributes}>\n<thead><tr>{head}</tr></thead>\n'
        f"<tbody>\n" + "\n".join(body) + "\n</tbody>\n</table>"
    )


def histogram(key: str, values: Sequence[float], *, bins: int = 12) -> str:
    """An inline SVG bar chart of ``values`` (finite), with each bar's range and count in its tooltip."""
    width, height, pad = 320, 130, 18
    if not values:
        return f'<figure data-key="{esc(key)}"><figcaption>{esc(key)}: no values</figcaption></figure>'
    low, high = min(values), max(values)
    counts, edges = np.histogram(
        values, bins=bins if high > low else 1, range=(low, high) if high > low else None
    )
    peak = int(counts.max())
    bar_width = (width - 2 * pad) / len(counts)
    bars = []
    for index, count in enumerate(counts):
        bar_height = (height - 2 * pad) * count / peak
        x, y = pad + index * bar_width, height - pad - bar_height
        tip = f"{number(edges[index])} to {number(edges[index + 1])}: {int(count)}"
        bars.append(
            f'<rect class="bar" data-count="{int(count)}" x="{x:.1f}" y="{y:.1f}" '
            f'width="{max(bar_width - 1, 1):.1f}" height="{bar_height:.1f}"><title>{esc(tip)}</title></rect>'
        )
    labels = (
        f'<text x="{pad}" y="{height - 4}">{esc(number(low))}</text>'
        f'<text x="{width - pad}" y="{height - 4}" text-anchor="end">{esc(number(high))}</text>'
        f'<text x="{pad}" y="{pad - 6}">max {peak}</text>'
    )
    return (
        f'<figure data-key="{esc(key)}"><svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="histogram of {esc(key)}">'
        f"{''.join(bars)}{labels}</svg><figcaption>{esc(key)} (n={len(values)})</figcaption></figure>"
    )


@dataclass(frozen=True)
class Grid:
    """One sample's frames for the best/worst section: JPEG data (base64) of source and edited frames."""

    sample_id: str
    instruction: str
    key: str
    value: float
    source: list[str]
    edited: list[str]
    problem: str | None = None


def _frame_row(label: str, frames: Sequence[str], role: str) -> str:
    images = "".join(
        f'<img class="{role}" alt="{esc(role)} frame {index + 1}" src="data:image/jpeg;base64,{data}">'
        for index, data in enumerate(frames)
    )
    return f'<div class="row"><span class="label">{esc(label)}</span>{images}</div>'


def grid(item: Grid) -> str:
    """Source frames above edited frames, the instruction beneath, the score in the heading."""
    rows = _frame_row("source", item.source, "source") + _frame_row("edited", item.edited, "edited")
    problem = f'<p class="problem">{esc(item.problem)}</p>' if item.problem else ""
    return (
        f'<div class="grid" data-sample="{esc(item.sample_id)}">'
        f"<h3>{esc(item.sample_id)} — {esc(item.key)} = {esc(number(item.value))}</h3>"
        f'{rows}{problem}<p class="instruction">{esc(item.instruction)}</p></div>'
    )
