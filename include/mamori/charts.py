"""Inline SVG bar charts for the mamori view: events per source per hour, quarantined records, alerts per day.

Written here rather than with a plotting library because the view is a static page under a
Content-Security-Policy that allows no scripts and no external resources: a chart has to be plain markup in
the page. A few dozen lines of SVG do that with no dependency; a library (matplotlib, Vega) would add a heavy
import to the api-server for three bar charts. Every label passes through `html.escape`, and values are ints.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

# Colours per series name; anything else cycles through PALETTE (sources are a registry, not a fixed list).
PALETTE = ("#2b6cb0", "#2f855a", "#b7791f", "#6b46c1", "#c05621", "#2c7a7b", "#9b2c2c", "#4a5568", "#d53f8c")
SEVERITY_COLOURS = {
    "critical": "#9b2c2c",
    "high": "#c05621",
    "medium": "#b7791f",
    "low": "#2b6cb0",
    "info": "#4a5568",
}


@dataclass(frozen=True)
class Series:
    """Counts of one series over the chart's buckets (same length and order as the buckets)."""

    name: str
    values: Sequence[int]


def stacked_bars(
    title: str,
    buckets: Sequence[str],
    series: Sequence[Series],
    colours: dict[str, str] | None = None,
    width: int = 720,
    height: int = 140,
) -> str:
    """One SVG: a stacked bar per bucket, a `<title>` per segment (hover shows bucket, series, count), the
    maximum on the y axis and the first/last bucket on the x axis. An empty chart says so instead of drawing
    an axis with nothing on it."""
    for s in series:
        if len(s.values) != len(buckets):
            raise ValueError(f"series {s.name!r} has {len(s.values)} values for {len(buckets)} buckets")
    e = html.escape
    totals = [sum(s.values[i] for s in series) for i in range(len(buckets))]
    top = max(totals, default=0)
    label = e(title)
    head = (
        f"<svg xmlns='http://www.w3.org/2000/svg' class='chart' role='img' aria-label='{label}'"
        f" width='{width}' height='{height + 44}' viewBox='0 0 {width} {height + 44}'>"
        f"<text x='0' y='12' class='ct'>{label}</text>"
    )
    if not buckets or top == 0:
        return head + "<text x='0' y='40' class='cm'>no data in this period</text></svg>"
    left, plot_w, base = 44, width - 44, height + 16
    step = plot_w / len(buckets)
    bar_w = max(step - 1, 1)
    pick = colours or {}
    parts = [
        head,
        f"<text x='{left - 4}' y='24' text-anchor='end' class='cm'>{top}</text>",
        f"<text x='{left - 4}' y='{base}' text-anchor='end' class='cm'>0</text>",
        f"<line x1='{left}' y1='{base}' x2='{width}' y2='{base}' stroke='#a0aec0'/>",
    ]
    for i, bucket in enumerate(buckets):
        y = float(base)
        for n, s in enumerate(series):
            v = s.values[i]
            if v <= 0:
                continue
            h = v / top * height
            y -= h
            colour = pick.get(s.name) or PALETTE[n % len(PALETTE)]
            parts.append(
                f"<rect x='{left + i * step:.1f}' y='{y:.1f}' width='{bar_w:.1f}' height='{h:.1f}'"
                f" fill='{e(colour)}'><title>{e(bucket)} · {e(s.name)}: {v}</title></rect>"
            )
    parts.append(f"<text x='{left}' y='{base + 14}' class='cm'>{e(buckets[0])}</text>")
    parts.append(f"<text x='{width}' y='{base + 14}' text-anchor='end' class='cm'>{e(buckets[-1])}</text>")
    legend_x = left
    for n, s in enumerate(series):
        if not any(s.values):
            continue
        colour = pick.get(s.name) or PALETTE[n % len(PALETTE)]
        parts.append(
            f"<rect x='{legend_x}' y='{base + 20}' width='8' height='8' fill='{e(colour)}'/>"
            f"<text x='{legend_x + 11}' y='{base + 28}' class='cm'>{e(s.name)}</text>"
        )
        legend_x += 18 + 7 * len(s.name)
    parts.append("</svg>")
    return "".join(parts)
