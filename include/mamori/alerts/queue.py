"""The incident queue of the mamori view, filtered: severity, state (open / acknowledged / resolved / closed, or a
closing verdict), source, rule, entity (substring or exact) and time range, one page at a time.

Why here and not in the view: the filters are the analyst's input and the incidents are the attacker's (entity
values come from logs), so both are handled where they can be tested without Airflow. Every value is checked
first (`parse_queue`: one line naming the bad parameter, nothing is read); the state and severity reach SQL only
as bound parameters of a SQLAlchemy expression; rule, source, entity and time are compared in Python over a
bounded number of the most recent incidents (`QUEUE_SCAN`), never spliced into a query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from mamori.alerts.incidents import Incident, incident_from_row
from mamori.alerts.ledger import INCIDENTS, Ledger
from mamori.alerts.verdicts import VERDICTS

SEVERITIES = ("critical", "high", "medium", "low", "info")
STATES = ("open", "acknowledged", "resolved", "closed")
MATCHES = ("contains", "exact")
QUEUE_PARAMS = ("severity", "status", "source", "rule", "entity", "match", "from", "to", "page")
QUEUE_PAGE_ROWS = 50  # the unfiltered first page is the queue the view always showed (50 rows)
QUEUE_MAX_PAGES = 100
QUEUE_SCAN = 5000  # the most recent incidents (by last activity) the filters look through
ENTITY_MAX = 256
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,127}")  # rule ids and source names: lower-case identifiers


@dataclass(frozen=True)
class QueueFilters:
    """Validated filters; empty strings / None mean "any". `status` is a state or a verdict."""

    severity: str = ""
    status: str = ""
    source: str = ""
    rule: str = ""
    entity: str = ""
    match: str = "contains"
    start: datetime | None = None
    end: datetime | None = None
    page: int = 0

    @property
    def active(self) -> bool:
        """Whether any filter narrows the queue (paging alone does not)."""
        return any((self.severity, self.status, self.source, self.rule, self.entity, self.start, self.end))


@dataclass
class QueuePage:
    """One page of the queue: the rows (most urgent first), whether there is a next page, how many matched,
    and whether the scan bound was reached (older incidents were not looked at)."""

    rows: list[Incident] = field(default_factory=list)
    page: int = 0
    more: bool = False
    matched: int = 0
    truncated: bool = False


def _first(query: dict[str, list[str]], name: str) -> str:
    return next((v.strip() for v in query.get(name, []) if v.strip()), "")


def _when(name: str, text: str) -> datetime:
    """An ISO date or date-time; naive means UTC (the view shows UTC)."""
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name} must be an ISO date or time like 2026-11-01 or 2026-11-01T10:00Z") from None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def parse_queue(query: dict[str, list[str]]) -> QueueFilters:
    """The queue filters from the page's GET parameters (each the first non-empty value given). Raises
    ValueError with one line naming the parameter; the message never repeats the value (it may be anything)."""
    severity = _first(query, "severity").lower()
    if severity and severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}")
    status = _first(query, "status").lower()
    if status and status not in (*STATES, *VERDICTS):
        raise ValueError(f"status must be one of {', '.join((*STATES, *VERDICTS))}")
    names = {}
    for name in ("source", "rule"):
        value = _first(query, name)
        if value and not _NAME.fullmatch(value):
            raise ValueError(f"{name} must be a {name} name (lower-case letters, digits, _ . -)")
        names[name] = value
    entity = _first(query, "entity")
    if len(entity) > ENTITY_MAX:
        raise ValueError(f"entity must be at most {ENTITY_MAX} characters")
    if any(not c.isprintable() for c in entity):
        raise ValueError("entity must not contain control or invisible characters")
    match = _first(query, "match").lower() or "contains"
    if match not in MATCHES:
        raise ValueError(f"match must be one of {', '.join(MATCHES)}")
    start = _when("from", v) if (v := _first(query, "from")) else None
    end = _when("to", v) if (v := _first(query, "to")) else None
    if start and end and end <= start:
        raise ValueError("to must be after from")
    page_text = _first(query, "page") or "0"
    if not (page_text.isascii() and page_text.isdigit()) or int(page_text) >= QUEUE_MAX_PAGES:
        raise ValueError(f"page must be a number below {QUEUE_MAX_PAGES}")
    return QueueFilters(
        severity=severity,
        status=status,
        source=names["source"],
        rule=names["rule"],
        entity=entity,
        match=match,
        start=start,
        end=end,
        page=int(page_text),
    )


def _state_matches(inc: Incident, status: str) -> bool:
    if not status:
        return True
    if status in VERDICTS:
        return inc.status == "closed" and inc.verdict == status
    if status == "closed":
        return inc.status == "closed"
    return inc.state == status  # open, acknowledged, resolved: as the queue shows it


def _entity_values(inc: Incident) -> list[str]:
    """What the entity filter looks at: the incident's shared entities and every member's dedup values
    (principal, IP, account, access key, ...), as text."""
    values = [str(e["value"]) for e in inc.entities]
    for a in inc.members:
        values += [str(v) for v in a.dedup_values.values() if v is not None]
    return values


def _entity_matches(inc: Incident, f: QueueFilters) -> bool:
    if not f.entity:
        return True
    if f.match == "exact":
        return f.entity in _entity_values(inc)
    needle = f.entity.casefold()
    return any(needle in v.casefold() for v in _entity_values(inc))


def _in_range(inc: Incident, f: QueueFilters) -> bool:
    """The incident's activity [first_seen, last_seen] overlaps [from, to)."""
    if f.start and datetime.fromisoformat(inc.last_seen) < f.start:
        return False
    return not (f.end and datetime.fromisoformat(inc.first_seen) >= f.end)


def matches(inc: Incident, f: QueueFilters) -> bool:
    """Whether one incident passes every filter."""
    return (
        (not f.severity or inc.severity == f.severity)
        and _state_matches(inc, f.status)
        and (not f.rule or any(a.detection_id == f.rule for a in inc.members))
        and (not f.source or any(a.log_source == f.source for a in inc.members))
        and _entity_matches(inc, f)
        and _in_range(inc, f)
    )


def queue_order(rows: list[Incident]) -> list[Incident]:
    """The queue's order: the ones needing someone first (open, then acknowledged, then the rest), the most
    severe first, the latest activity first."""
    need = {"open": 0, "acknowledged": 1}
    rank = {sev: n for n, sev in enumerate(SEVERITIES)}
    out = sorted(rows, key=lambda i: i.last_seen, reverse=True)
    out.sort(key=lambda i: (need.get(i.state, 2), rank.get(i.severity, len(rank))))
    return out


def incident_queue(
    ledger: Ledger, f: QueueFilters, page_rows: int | None = None, scan: int | None = None
) -> QueuePage:
    """One page of live incidents passing `f`, in `queue_order`. Severity and the stored status/verdict narrow
    the SQL (bound parameters); the rest is checked in Python over at most `scan` incidents (defaults:
    QUEUE_PAGE_ROWS and QUEUE_SCAN, read at call time)."""
    page_rows = page_rows or QUEUE_PAGE_ROWS
    scan = scan or QUEUE_SCAN
    q = sa.select(INCIDENTS).where(INCIDENTS.c.status != "merged")
    if f.severity:
        q = q.where(INCIDENTS.c.severity == f.severity)
    if f.status in VERDICTS:
        q = q.where(INCIDENTS.c.status == "closed", INCIDENTS.c.verdict == f.status)
    elif f.status == "closed":
        q = q.where(INCIDENTS.c.status == "closed")
    elif f.status:  # open, acknowledged, resolved: a triage status of open or acknowledged
        q = q.where(INCIDENTS.c.status.in_(("open", "acknowledged")))
    q = q.order_by(INCIDENTS.c.last_seen.desc(), INCIDENTS.c.incident_id).limit(scan + 1)
    with ledger.engine.connect() as conn:
        rows = conn.execute(q).all()
        truncated = len(rows) > scan
        found = [i for i in (incident_from_row(conn, r) for r in rows[:scan]) if matches(i, f)]
    ordered = queue_order(found)
    first = f.page * page_rows
    return QueuePage(
        rows=ordered[first : first + page_rows],
        page=f.page,
        more=len(ordered) > first + page_rows and f.page + 1 < QUEUE_MAX_PAGES,
        matched=len(ordered),
        truncated=truncated,
    )


def queue_href(f: QueueFilters, page: int) -> list[tuple[str, str]]:
    """The GET parameters that show page `page` of the same filters (for paging links)."""
    out: list[tuple[str, Any]] = [
        ("severity", f.severity),
        ("status", f.status),
        ("source", f.source),
        ("rule", f.rule),
        ("entity", f.entity),
        ("match", f.match if f.entity else ""),
        ("from", f.start.isoformat() if f.start else ""),
        ("to", f.end.isoformat() if f.end else ""),
        ("page", str(page) if page else ""),
    ]
    return [(k, v) for k, v in out if v]
