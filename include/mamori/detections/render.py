"""Render a detection body for one window: the only template features are the shared time-range macros.

The macros are the single place that turns a window into SQL, so every rule prunes partitions the same way
(Athena bills by bytes scanned) and filters event time with the same half-open [start, end) semantics:

- `{{ window() }}`: the run's window [start, end). Hits must come from here.
- `{{ window(before='15m') }}`: [start - 15m, end), for the *earlier* steps of a sequence, so a sequence whose
  first step falls just before the window is still seen by the run that owns its last step. The last step
  stays on `window()`, which is what makes each sequence belong to exactly one run.
- `{{ lookback() }}`: [start - lookback, start), the baseline of a first-seen rule (the header's `lookback`).
  It ends where the window starts, so "first seen" means "not seen before this window", and a re-run of the
  window compares against the same baseline.
- `{{ lookup('known_accounts') }}`: the reviewed list `sql/lookups/known_accounts.yaml` as an array literal
  (`mamori.detections.lookups`), for facts about the organization that no log carries.
- `{{ principal() }}`: the rule's source's principal expression (`FieldModel.principal`: for CloudTrail the
  role of a role session, the person of an SSO session, the ARN of a user or root), so a rule keys and counts
  per principal rather than per session, and every rule rolls sessions up the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from jinja2 import Environment, StrictUndefined

from mamori.detections.lookups import sql_array
from mamori.detections.model import parse_duration
from mamori.windows import partitions_touched

# SQL, not HTML: autoescaping would corrupt it. Nothing log-derived ever reaches a template.
_ENV = Environment(undefined=StrictUndefined, autoescape=False)  # noqa: S701
_MAX_HOUR_LIST = 72


def _ts(t: datetime) -> str:
    return "TIMESTAMP '" + t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "'"


def window_predicate(start: datetime, end: datetime) -> str:
    """Partition filter (dt/hour, prunable on both engines) AND the exact event-time range."""
    hours = partitions_touched(start, end)  # raises on an empty window
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


MAX_BEFORE = timedelta(days=1)


def render_sql(
    body: str,
    start: datetime,
    end: datetime,
    lookback: timedelta | None = None,
    lookups: Mapping[str, tuple[str, ...]] | None = None,
    principal: str | None = None,
    rule: str = "the rule",
) -> str:
    """The exact Athena SQL a run executes (also what `mamori detections render` prints). `lookups` holds the
    values of every list the body names with `{{ lookup('<name>') }}`; `principal` is the source's principal
    expression (None: the source has none, and a body that asks for it is an error naming `rule`)."""

    def window(before: str | None = None) -> str:
        if before is None:
            return window_predicate(start, end)
        extra = parse_duration(before)
        if extra > MAX_BEFORE:
            raise ValueError(f"window(before={before!r}) reaches back more than {MAX_BEFORE}")
        return window_predicate(start - extra, end)

    def baseline() -> str:
        if lookback is None:
            raise ValueError("lookback() needs `lookback:` in the detection header")
        return window_predicate(start - lookback, start)

    def lookup(name: str) -> str:
        if lookups is None or name not in lookups:
            raise ValueError(f"lookup({name!r}): no such list was loaded (sql/lookups/{name}.yaml)")
        return sql_array(lookups[name])

    def principal_expr() -> str:
        if principal is None:
            raise ValueError(f"{rule}: principal() is used, but its log source declares no principal")
        # One line (the loader maps SQL error lines to file lines assuming every macro renders to one), and
        # parenthesised so it stays one operand wherever the rule puts it.
        return "(" + " ".join(principal.split()) + ")"

    return (
        _ENV.from_string(body)
        .render(window=window, lookback=baseline, lookup=lookup, principal=principal_expr)
        .strip()
    )
