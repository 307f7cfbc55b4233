"""All window math in one place: schedule intervals, ingest and detection windows, tags, hour floors.

Every stage (ingest, detect, health, compaction, backfill, status, the CLI) asks this module how windows relate,
so a cadence change is a change here (and in config), not in every file that once did its own arithmetic.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

WINDOW_TAG_FORMAT = "%Y%m%dT%H%MZ"


def hours_between(start: datetime, end: datetime) -> list[datetime]:
    """Hour marks in (start, end], the logical dates of hourly runs whose windows tile [start, end)."""
    out, t = [], start + timedelta(hours=1)
    while t <= end:
        out.append(t)
        t += timedelta(hours=1)
    return out


def window_tag(start: datetime) -> str:
    """Stable name of a window used in file names and manifest paths (UTC, minute resolution)."""
    return start.astimezone(UTC).strftime(WINDOW_TAG_FORMAT)


def parse_window_tag(tag: str) -> datetime:
    """The window start a tag names (the inverse of window_tag); ValueError for anything else."""
    return datetime.strptime(tag, WINDOW_TAG_FORMAT).replace(tzinfo=UTC)
