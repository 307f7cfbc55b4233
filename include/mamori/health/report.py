"""Readable summaries for the demo and `mamori quality report`: data quality per source, freshness per stream."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mamori.config import Settings
from mamori.ingest import window_summaries
from mamori.sources import SOURCES


def latest_window_end(settings: Settings) -> datetime | None:
    """End of the newest finalized ingest window of any source, in UTC (None before the first): the default end
    of `mamori quality report`."""
    ends = [w.window_end for src in SOURCES for w in window_summaries(src, settings)]
    if not ends:
        return None
    t = datetime.fromisoformat(max(ends))
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def dq_by_source(
    settings: Settings, start: datetime | None = None, end: datetime | None = None
) -> dict[str, dict[str, Any]]:
    """Per source, over the finalized windows starting in [start, end) (all when None): validated batches,
    expectations evaluated/passed, rows quarantined by checks, and each failed check's batches and rows."""

    out: dict[str, dict[str, Any]] = {}
    for source in SOURCES:
        tally: dict[str, Any] = {
            "windows": 0,
            "batches": 0,
            "passed_batches": 0,
            "evaluated": 0,
            "passed": 0,
            "quarantined_rows": 0,
            "failed": {},
        }
        for w in window_summaries(source, settings):
            ws = datetime.fromisoformat(w.window_start)
            if (start and ws < start) or (end and ws >= end):
                continue
            tally["windows"] += 1
            dq = w.dq
            tally["batches"] += dq.batches
            tally["passed_batches"] += dq.passed_batches
            tally["evaluated"] += dq.evaluated
            tally["passed"] += dq.passed
            tally["quarantined_rows"] += dq.quarantined_rows
            for check, f in dq.failed.items():
                agg = tally["failed"].setdefault(check, {"action": f.action, "batches": 0, "unexpected": 0})
                agg["batches"] += f.batches
                agg["unexpected"] += f.unexpected
        out[source] = tally
    return out


def dq_lines(report: dict[str, dict[str, Any]], indent: str = "   ") -> list[str]:
    lines = [
        f"{indent}{'source':20} {'windows':>7} {'batches ok':>10} {'expectations ok':>17} "
        f"{'dq-quarantined':>14}  failed"
    ]
    for source, t in report.items():
        failed = ", ".join(
            f"{c} ({f['action']}, {f['unexpected']} rows in {f['batches']} batches)"
            for c, f in t["failed"].items()
        )
        lines.append(
            f"{indent}{source:20} {t['windows']:>7} {t['passed_batches']:>4}/{t['batches']:<5} "
            f"{t['passed']:>8}/{t['evaluated']:<8} {t['quarantined_rows']:>14}  {failed or 'none'}"
        )
    return lines


def freshness_lines(states: list[Any], indent: str = "   ") -> list[str]:
    """One line per stream: its state, deliveries and records in the window, and what it was judged against."""
    lines = [
        f"{indent}{'source':20} {'account/region':28} {'state':10} {'objects':>7} {'records':>8} {'median':>8}"
        f" {'longest usual gap':>17}"
    ]
    for h in states:
        median = "-" if h.median_records is None else f"{h.median_records:.0f}"
        gap = "-" if h.allowed_gap is None else f"{h.allowed_gap} windows"
        lines.append(
            f"{indent}{h.source:20} {h.stream:28} {h.state:10} {h.objects:>7} {h.records:>8} {median:>8} {gap:>17}"
        )
    return lines
