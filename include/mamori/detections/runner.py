"""Run one detection over one window and return its hits as plain rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mamori.detections.dialect_lint import fault_line
from mamori.detections.loader import Detection
from mamori.engines import Engine, is_query_fault

# Every detection returns these, so tickets, dedup and enrichment can rely on them whatever the rule.
REQUIRED_COLUMNS: tuple[str, ...] = ("event_time", "account_id", "actor", "source_ip", "event_name")


class DetectionOutputError(ValueError):
    """The rule's SELECT does not return the columns the alert path needs."""


def _locate(det: Detection, exc: Exception) -> None:
    """Give a failure of the rule's own SQL the .sql file and line (`exc.path`, `exc.line`) it comes from.

    The engine's own LINE counts inside the transpiled SQL, which the author never sees; the column or
    function it names is found in the file instead. The exception keeps its type (rule-error alerts are
    keyed on it); only a query fault is located, an engine outage is not the rule's.
    """

    if not is_query_fault(exc):
        return
    line = fault_line(det.path, str(exc))
    try:
        exc.path = det.path  # type: ignore[attr-defined]
        exc.line = line  # type: ignore[attr-defined]
    except AttributeError:  # an exception type without a __dict__: unlocated, not hidden
        pass


def run_detection(det: Detection, engine: Engine, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Hits of `det` with event_time in [start, end), ordered by event time (deterministic samples)."""
    try:
        table = engine.query(det.render(start, end))
    except Exception as exc:
        _locate(det, exc)
        raise
    return checked_hits(det, table.column_names, table.to_pylist(), start, end)


def checked_hits(
    det: Detection, columns: list[str], rows: list[dict[str, Any]], start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """The rule's result rows as hits, once they are shown to be hits of this window (`run_detection`; a
    combined statement's rows decoded per rule go through the same checks, `mamori.detect`)."""
    needed = [*REQUIRED_COLUMNS, *det.header.dedup.keys]
    missing = [c for c in dict.fromkeys(needed) if c not in columns]
    if missing:
        raise DetectionOutputError(f"{det.id}: SELECT must return column(s) {missing}")
    for row in rows:
        t = row["event_time"]
        if not isinstance(t, datetime):
            raise DetectionOutputError(f"{det.id}: event_time must be a timestamp, got {type(t).__name__}")
        row["event_time"] = t = t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
        if not start <= t < end:
            # A hit from a sequence's earlier step or the baseline would be claimed by two runs (two alerts).
            raise DetectionOutputError(
                f"{det.id}: hit at {t.isoformat()} is outside the window [{start}, {end}); "
                "return event_time of the step filtered by {{ window() }}"
            )
    rows.sort(key=lambda r: (r["event_time"], str(r.get("actor")), str(r.get("event_name"))))
    return rows
