"""Render a detection body for one window: the only template feature is the shared window macro.

The macro is the single place that turns a window into SQL, so every rule prunes partitions the same way
(Athena bills by bytes scanned) and filters event time with the same half-open [start, end) semantics.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jinja2 import Environment, StrictUndefined

# SQL, not HTML: autoescaping would corrupt it. Nothing log-derived ever reaches a template.
_ENV = Environment(undefined=StrictUndefined, autoescape=False)  # noqa: S701
_MAX_HOUR_LIST = 72


def _ts(t: datetime) -> str:
    return "TIMESTAMP '" + t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "'"


def window_predicate(start: datetime, end: datetime) -> str:
    """Partition filter (dt/hour, prunable on both engines) AND the exact event-time range."""
    if end <= start:
        raise ValueError(f"empty window [{start}, {end})")
    first = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    hours: dict[str, list[str]] = {}
    t = first
    while t < end:
        hours.setdefault(t.strftime("%Y-%m-%d"), []).append(t.strftime("%H"))
        t += timedelta(hours=1)
    if len(hours) * 24 <= _MAX_HOUR_LIST or sum(map(len, hours.values())) <= _MAX_HOUR_LIST:
        parts = []
        for dt, hs in hours.items():
            if len(hs) == 24:
                parts.append(f"dt = '{dt}'")
            else:
                parts.append(f"(dt = '{dt}' AND hour IN ({', '.join(repr(h) for h in hs)}))")
        partition = parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"
    else:
        days = sorted(hours)
        partition = f"dt BETWEEN '{days[0]}' AND '{days[-1]}'"
    return f"({partition} AND event_time >= {_ts(start)} AND event_time < {_ts(end)})"


def render_sql(body: str, start: datetime, end: datetime) -> str:
    """The exact Athena SQL a run executes (also what `mamori detections render` prints)."""
    predicate = window_predicate(start, end)
    return _ENV.from_string(body).render(window=lambda: predicate).strip()
