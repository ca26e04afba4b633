"""The acceptance funnel as a small HTML bar chart: no plotting library, no script, renders anywhere."""

from __future__ import annotations

from html import escape

from insvie.store import Funnel

_COLOURS = {"kept": "#2e7d32", "rejected": "#c62828", "failed": "#757575"}


def funnel_html(funnels: list[Funnel]) -> str:
    """One row per step: a bar as long as the items that entered it, split into kept, rejected and failed.

    Bars share one scale (the largest step), so where the data shrinks is visible at a glance; each
    rejected segment's tooltip lists the reasons with their counts.
    """
    if not funnels:
        return "<p>No funnel: this dataset has no finished build (no build.json).</p>"
    largest = max((f.total for f in funnels), default=0) or 1
    rows = []
    for funnel in funnels:
        rejected = sum(funnel.rejected.values())
        reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(funnel.rejected.items()))
        segments = []
        for part, count, title in (
            ("kept", funnel.kept, f"kept {funnel.kept}"),
            ("rejected", rejected, f"rejected {rejected}" + (f": {reasons}" if reasons else "")),
            ("failed", funnel.failed, f"failed {funnel.failed}"),
        ):
            if count:
                width = 100 * count / largest
                segments.append(
                    f'<span class="insvie-seg insvie-{part}" title="{escape(title)}" '
                    f'style="width:{width:.2f}%;background:{_COLOURS[part]}"></span>'
                )
        label = f"{funnel.kept}/{funnel.total}" + (f" ({escape(reasons)})" if reasons else "")
        rows.append(
            f'<div class="insvie-funnel-row" data-step="{escape(funnel.stage)}" '
            'style="display:flex;align-items:center;gap:8px;margin:2px 0">'
            f'<span style="width:9em;text-align:right;font-family:monospace">{escape(funnel.stage)}</span>'
            '<span style="flex:1;display:flex;height:14px;background:#eee">' + "".join(segments) + "</span>"
            f'<span style="width:16em;font-size:85%">{label}</span></div>'
        )
    legend = " ".join(
        f'<span style="color:{colour}">&#9632; {part}</span>' for part, colour in _COLOURS.items()
    )
    return f'<div class="insvie-funnel">{"".join(rows)}<div style="font-size:85%">{legend}</div></div>'
