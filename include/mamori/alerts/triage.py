"""Triage: acknowledge, close with a verdict, reopen an incident, each recorded with who did it and when.

Before this, nothing recorded how an incident was handled, and on the embedded default an alert could never
be closed (closing syncs from a ticket system, which the local output is not). Triage lives in the ledger, so
it works the same on every deployment.

States: `open` → `acknowledged` (someone is on it) → `closed` with a verdict; `reopen` takes a closed incident
back to `open`. `merged` (grouping folded it into an older incident) is terminal: triage the survivor.

- Every change is one append-only `incident_actions` row (incident, action, verdict, note, actor, at). Asking
  for the state an incident is already in records nothing (acknowledging an acknowledged incident, closing a
  closed one with the same verdict, reopening an open one), so a retried command or a double click is harmless.
  Closing a closed incident with another verdict is a correction: recorded, and it reaches the alerts.
- Acknowledging a closed incident is refused: reopen it first.
- The verdicts are the words of the GitHub close labels (`true-positive`, `benign-true-positive`,
  `false-positive`; `true_positive` is accepted too), so `alerts.resolution` has one meaning whoever closed
  the alert. Closing sets every member alert to `resolved` with the verdict as its resolution; reopening sets
  them `open` with none (where a ticket system syncs state, `sync_alerts` resolves again the alerts whose own
  tickets are still closed, with those tickets' labels).
- A closed incident that gains an alert (a new alert joins it, or a bridging alert merges another incident
  into it) re-opens: the verdict no longer covers all its alerts. The grouping records that as a `reopen` by
  `mamori`, naming the alerts that joined. An acknowledged incident that gains alerts stays acknowledged: its
  analyst is on it. A closed incident merged into a live one keeps its own verdict and actions under its id;
  its alerts keep their resolution until the survivor is closed.
- Synced with tickets (`detect.sync_triage`, `detect.sync_alerts`): a close or reopen here is mirrored on the
  incident's GitHub issue by the next dispatch (label `verdict:<v>`, a comment, closed / reopened) and its
  page resolved; an issue closed on GitHub with one verdict label closes the incident with that verdict, by
  `github:<login>`.

Times are the wall clock (UTC): they say when a person acted, not when an event happened. State changes are
serialized with the grouping (`ledger.lock_incidents`), so two analysts, or an analyst and a detect run, never
both record the same change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from mamori.alerts.ledger import (
    ALERTS,
    INCIDENT_ACTIONS,
    INCIDENT_ALERTS,
    INCIDENT_MERGES,
    INCIDENTS,
    Ledger,
    lock_incidents,
)
from mamori.alerts.verdicts import VERDICT_LABEL, VERDICTS, label_verdicts, verdict_label

ACTIONS = ("acknowledge", "close", "reopen")
MAMORI = "mamori"  # the actor of what mamori does by itself (a closed incident re-opened by a new alert)
MAX_ACTOR = 100
MAX_NOTE = 2000
MIN_PREFIX = 6
_ID = re.compile(r"[0-9a-f]{1,32}")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")


__all__ = [
    "VERDICTS",
    "VERDICT_LABEL",
    "label_verdicts",
    "verdict_label",
]  # re-exported: callers say triage.X


class TriageError(ValueError):
    """A triage request mamori cannot carry out; the message says which incident and what to do instead."""


@dataclass(frozen=True)
class Action:
    """One row of an incident's record: who did what, when."""

    incident_id: str
    action: str  # acknowledge | close | reopen
    verdict: str | None
    note: str | None
    actor: str
    at: str  # ISO 8601, UTC, seconds
    action_id: int | None = None  # the incident_actions row (ascending: the order of the record)


@dataclass(frozen=True)
class Outcome:
    """What a triage call left: the incident's state, the action it recorded (None: it was in that state
    already) and how many member alerts it resolved or re-opened."""

    incident_id: str
    status: str
    verdict: str | None
    recorded: Action | None
    alerts: int = 0


def parse_verdict(text: str) -> str:
    """A verdict as stored (`false-positive`) from either spelling (`false_positive`), any case."""
    v = text.strip().lower().replace("_", "-")
    if v not in VERDICTS:
        shown = text if len(text) <= 40 and not _UNPRINTABLE.search(text) else "that"
        raise TriageError(f"unknown verdict {shown!r}: use one of {', '.join(VERDICTS)}")
    return v


def _actor(actor: str | None) -> str:
    a = (actor or "").strip()
    if not a:
        raise TriageError("no actor: set $USER or pass --as NAME")
    if len(a) > MAX_ACTOR or _UNPRINTABLE.search(a):
        raise TriageError(f"the actor must be printable and at most {MAX_ACTOR} characters")
    return a


def _note(note: str | None) -> str | None:
    if note is None or not note.strip():
        return None
    if len(note) > MAX_NOTE:
        raise TriageError(f"the note is {len(note)} characters; at most {MAX_NOTE}")
    return note.strip()


def _at(now: datetime | None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")


def find(conn: Connection, text: str) -> Row[tuple[object, ...]]:
    """The incident row named by its id or a unique prefix of it (at least MIN_PREFIX characters)."""
    wanted = text.strip().lower()
    if not _ID.fullmatch(wanted):
        raise TriageError("not an incident id: ids are hexadecimal, as `mamori incidents list` prints them")
    if len(wanted) < MIN_PREFIX:
        raise TriageError(f"give at least {MIN_PREFIX} characters of the incident id")
    if len(wanted) == 32:
        rows = conn.execute(sa.select(INCIDENTS).where(INCIDENTS.c.incident_id == wanted)).all()
    else:  # hexadecimal only (checked above): no LIKE wildcard can be in it
        rows = conn.execute(
            sa.select(INCIDENTS).where(INCIDENTS.c.incident_id.startswith(wanted)).limit(2)
        ).all()
    if not rows:
        raise TriageError(f"no incident {wanted!r}")
    if len(rows) > 1:
        raise TriageError(f"{wanted!r} names more than one incident: give more of the id")
    return rows[0]


def survivor(conn: Connection, incident_id: str) -> str:
    """The live incident a merged one ended up in (merges can chain)."""
    seen = {incident_id}
    while True:
        into = conn.execute(
            sa.select(INCIDENT_MERGES.c.into_id).where(INCIDENT_MERGES.c.merged_id == incident_id)
        ).scalar()
        if into is None or into in seen:
            return incident_id
        seen.add(into)
        incident_id = into


def acknowledge(
    ledger: Ledger, incident: str, actor: str | None, note: str | None = None, now: datetime | None = None
) -> Outcome:
    """Someone is on it: open → acknowledged. Refused on a closed incident (reopen it first)."""
    return _change(ledger, incident, "acknowledge", None, actor, note, now)


def close(
    ledger: Ledger,
    incident: str,
    verdict: str,
    actor: str | None,
    note: str | None = None,
    now: datetime | None = None,
) -> Outcome:
    """Closed with a verdict, which every member alert gets as its resolution."""
    return _change(ledger, incident, "close", parse_verdict(verdict), actor, note, now)


def reopen(
    ledger: Ledger, incident: str, actor: str | None, note: str | None = None, now: datetime | None = None
) -> Outcome:
    """closed → open, the verdict withdrawn from the incident and its alerts."""
    return _change(ledger, incident, "reopen", None, actor, note, now)


def _change(
    ledger: Ledger,
    incident: str,
    action: str,
    verdict: str | None,
    actor: str | None,
    note: str | None,
    now: datetime | None,
) -> Outcome:
    who, text = _actor(actor), _note(note)
    with ledger.engine.begin() as conn:
        lock_incidents(conn)
        row = find(conn, incident)
        iid, status, current = row.incident_id, row.status, row.verdict
        if status == "merged":
            raise TriageError(
                f"incident {iid} was merged into {survivor(conn, iid)}: triage that one, which holds its alerts"
            )
        if action == "acknowledge":
            if status == "closed":
                raise TriageError(f"incident {iid} is closed ({current}): reopen it first")
            target: tuple[str, str | None] = ("acknowledged", None)
            if status == "acknowledged":
                return Outcome(iid, status, current, None)
        elif action == "close":
            target = ("closed", verdict)
            if (status, current) == target:
                return Outcome(iid, status, current, None)
        else:
            target = ("open", None)
            if status != "closed":
                return Outcome(iid, status, current, None)
        recorded = record_action(conn, iid, action, who, _at(now), verdict=verdict, note=text)
        conn.execute(
            INCIDENTS.update()
            .where(INCIDENTS.c.incident_id == iid)
            .values(status=target[0], verdict=target[1])
        )
        alerts = 0
        if action == "close":
            alerts = _set_members(conn, iid, "resolved", verdict)
        elif action == "reopen":
            alerts = _set_members(conn, iid, "open", None)
    return Outcome(iid, target[0], target[1], recorded, alerts)


def record_action(
    conn: Connection,
    incident_id: str,
    action: str,
    actor: str,
    at: str,
    verdict: str | None = None,
    note: str | None = None,
) -> Action:
    """Append one row to the incident's record (the caller holds `lock_incidents` and changes the state)."""
    assert action in ACTIONS, action
    inserted = conn.execute(
        INCIDENT_ACTIONS.insert().values(
            incident_id=incident_id, action=action, verdict=verdict, note=note, actor=actor, at=at
        )
    )
    key = inserted.inserted_primary_key
    return Action(incident_id, action, verdict, note, actor, at, int(key[0]) if key else None)


def _set_members(conn: Connection, incident_id: str, status: str, resolution: str | None) -> int:
    members = sa.select(INCIDENT_ALERTS.c.alert_key).where(INCIDENT_ALERTS.c.incident_id == incident_id)
    return int(
        conn.execute(
            ALERTS.update()
            .where(ALERTS.c.alert_key.in_(members))
            .values(status=status, resolution=resolution)
        ).rowcount
    )


def reopen_grown(conn: Connection, incident_id: str, note: str, now: datetime | None = None) -> bool:
    """The grouping gave a closed incident more alerts: re-open it as done by mamori (inside the grouping's
    transaction, which holds `lock_incidents`). True when it was closed and is now open."""
    status = conn.execute(
        sa.select(INCIDENTS.c.status).where(INCIDENTS.c.incident_id == incident_id)
    ).scalar()
    if status != "closed":
        return False
    record_action(conn, incident_id, "reopen", MAMORI, _at(now), note=note[:MAX_NOTE])
    conn.execute(
        INCIDENTS.update().where(INCIDENTS.c.incident_id == incident_id).values(status="open", verdict=None)
    )
    _set_members(conn, incident_id, "open", None)
    return True


def actions(ledger: Ledger | Connection, incident_id: str) -> list[Action]:
    """An incident's record, oldest first."""
    q = (
        sa.select(INCIDENT_ACTIONS)
        .where(INCIDENT_ACTIONS.c.incident_id == incident_id)
        .order_by(INCIDENT_ACTIONS.c.action_id)
    )
    if isinstance(ledger, Connection):
        rows = ledger.execute(q).all()
    else:
        with ledger.engine.connect() as conn:
            rows = conn.execute(q).all()
    return [Action(r.incident_id, r.action, r.verdict, r.note, r.actor, r.at, r.action_id) for r in rows]
