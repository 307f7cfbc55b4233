"""An alert as outputs and renderers see it, apart from the ledger that stores it.

Its own module so that outputs (and the routing that reads their capabilities) need not import the ledger,
which itself asks the routing where a new alert goes: one direction, no cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from mamori.detections.loader import Detection


@dataclass(frozen=True)
class Alert:
    """An alert as outputs see it (all values already JSON-decoded)."""

    key: str
    detection_id: str
    title: str
    severity: str
    status: str
    log_source: str
    dedup_values: dict[str, Any]
    bucket_start: str
    bucket_end: str
    first_seen: str
    last_seen: str
    hit_count: int
    samples: list[dict[str, Any]]
    routes: list[str]
    enrichment: list[dict[str, Any]] | None = None

    @classmethod
    def from_row(cls, r: Any) -> Alert:
        return cls(
            key=r.alert_key,
            detection_id=r.detection_id,
            title=r.title,
            severity=r.severity,
            status=r.status,
            log_source=r.log_source,
            dedup_values=orjson.loads(r.dedup_values),
            bucket_start=r.bucket_start,
            bucket_end=r.bucket_end,
            first_seen=r.first_seen,
            last_seen=r.last_seen,
            hit_count=r.hit_count,
            samples=orjson.loads(r.samples),
            routes=orjson.loads(r.routes),
            enrichment=orjson.loads(r.enrichment) if r.enrichment else None,
        )


@dataclass(frozen=True)
class IncidentView:
    """An incident as outputs see it when they deliver one ticket, page or message per incident.

    Built by the dispatcher from the ledger (mamori.alerts.incidents); outputs need not import the ledger.
    `members` are the incident's alerts, oldest first; `rules` maps each member's detection id to its
    definition (None for a rule that was deleted), for the runbooks and tactics shown once per rule.
    """

    incident_id: str
    severity: str
    severity_reason: str
    tactics: list[str]
    entities: list[dict[str, Any]]  # {"kind", "value", "alerts"}: what its alerts share, most shared first
    first_seen: str
    last_seen: str
    members: list[Alert]
    rules: dict[str, Detection | None]

    @property
    def open(self) -> bool:
        """At least one member alert still open (its ticket not closed)."""
        return any(a.status == "open" for a in self.members)

    def reopened_by(self, alert: Alert) -> bool:
        """`alert` is new activity on an incident whose ticket was closed: it is open and every other member
        was resolved. Outputs then reopen the ticket and notify again instead of adding to a closed case."""
        others = [a for a in self.members if a.key != alert.key]
        return alert.status == "open" and bool(others) and all(a.status != "open" for a in others)


@dataclass(frozen=True)
class IncidentTicket:
    """What one output keeps for one incident in the ledger: its reference (issue URL, dedup key, message
    reference), and the incident severity it last notified at (pages and chats notify again only when it
    rises). Both None before the incident's first delivery to the output."""

    ref: str | None = None
    notified: str | None = None
