"""An alert as outputs and renderers see it, apart from the ledger that stores it.

Its own module so that outputs (and the routing that reads their capabilities) need not import the ledger,
which itself asks the routing where a new alert goes: one direction, no cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson


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
