"""Time ranges for search, query and hunts: every one is a half-open UTC [start, end), never "all time".

`now` is always an argument (the command line passes the wall clock), so the library stays a pure function
of its inputs and tests pin the clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mamori.windows import DAY, day_floor

_DURATION = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class RangeError(ValueError):
    """A missing, empty or malformed time range."""


def parse_time(text: str) -> datetime:
    """ISO 8601 (date or date-time); naive means UTC."""
    try:
        t = datetime.fromisoformat(text.strip())
    except ValueError:
        raise RangeError(f"{text!r} is not an ISO 8601 time (e.g. 2026-11-01T02:00Z or 2026-11-01)") from None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def parse_duration(text: str) -> timedelta:
    """`90m`, `24h`, `7d`, `2w`."""
    m = _DURATION.match(text.strip())
    if not m or int(m[1]) == 0:
        raise RangeError(f"duration {text!r} must look like 90m, 24h, 7d or 2w")
    return timedelta(**{_UNITS[m[2]]: int(m[1])})


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime

    def __str__(self) -> str:
        return f"[{self.start:%Y-%m-%d %H:%M:%S}, {self.end:%Y-%m-%d %H:%M:%S}) UTC"

    def days(self) -> list[TimeRange]:
        """The range cut at UTC midnights, in order: each piece reads one dt= partition per table."""
        out, t = [], self.start
        while t < self.end:
            midnight = day_floor(t) + DAY
            nxt = min(midnight, self.end)
            out.append(TimeRange(t, nxt))
            t = nxt
        return out

    def chunks(self, newest_first: bool = False) -> list[TimeRange]:
        """Whole-day pieces of the range in search order, growing 1, 1, 2, 4, 7, 7, ... days.

        Small first (the first rows of a limited search come back after reading one day), then larger so a
        month costs a handful of queries instead of thirty.
        """
        days = self.days()
        if newest_first:
            days.reverse()
        out, i, n = [], 0, 0
        while i < len(days):
            size = _CHUNK_DAYS[min(n, len(_CHUNK_DAYS) - 1)]
            group = days[i : i + size]
            out.append(TimeRange(min(d.start for d in group), max(d.end for d in group)))
            i += size
            n += 1
        return out


_CHUNK_DAYS = (1, 1, 2, 4, 7)


def resolve_range(
    start: str | None, end: str | None, last: str | None, now: datetime, default_last: str | None = None
) -> TimeRange | None:
    """--from/--to, or --last (ending at --to when given, else now); None when nothing bounds it."""
    if last and start:
        raise RangeError("give either --last or --from, not both")
    t_end = parse_time(end) if end else None
    if start:
        t_start = parse_time(start)
        t_end = t_end or now.astimezone(UTC)
    elif last or default_last:
        t_end = t_end or now.astimezone(UTC)
        t_start = t_end - parse_duration(last or default_last or "")
    elif t_end is not None:
        raise RangeError("--to needs --from or --last")
    else:
        return None
    if t_end <= t_start:
        raise RangeError(f"empty range: {t_start:%Y-%m-%d %H:%M:%S} is not before {t_end:%Y-%m-%d %H:%M:%S}")
    return TimeRange(t_start, t_end)
