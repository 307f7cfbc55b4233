"""Turn detection hits into alert candidates with stable keys.

alert key = sha256(detection id, dedup values, dedup window start). It is the same on every re-run and
backfill of a window, and it is what every output uses as its identity (PagerDuty dedup_key, the GitHub
issue marker, the ticket file name), so a key can only ever become one ticket.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from mamori.detections.loader import Detection
from mamori.windows import bucket_start

__all__ = ["MAX_SAMPLES", "Candidate", "alert_key", "bucket_start", "group_hits"]

MAX_SAMPLES = 5
MAX_SAMPLE_VALUE = (
    4096  # characters per sampled field: bounded ledger rows whatever an attacker puts in a log
)


def alert_key(detection_id: str, dedup_values: list[Any], bucket: datetime) -> str:
    payload = orjson.dumps([detection_id, dedup_values, bucket.astimezone(UTC).isoformat()], default=str)
    return hashlib.sha256(payload).hexdigest()[:32]


@dataclass
class Candidate:
    """Hits of one detection sharing dedup values inside one dedup window, as seen by one run window."""

    key: str
    detection_id: str
    dedup_values: dict[str, Any]
    bucket_start: datetime
    hits: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    samples: list[dict[str, Any]] = field(default_factory=list)


def group_hits(det: Detection, hits: list[dict[str, Any]]) -> list[Candidate]:
    """Group hits by (dedup values, aligned window); thresholds are applied by the ledger across runs."""
    period = det.header.dedup.period_td
    groups: dict[str, Candidate] = {}
    for hit in hits:
        values = [_jsonable(hit.get(k)) for k in det.header.dedup.keys]
        bucket = bucket_start(hit["event_time"], period)
        key = alert_key(det.id, values, bucket)
        c = groups.get(key)
        if c is None:
            c = groups[key] = Candidate(
                key, det.id, dict(zip(det.header.dedup.keys, values, strict=True)), bucket
            )
        c.hits += 1
        t = hit["event_time"]
        c.first_seen = t if c.first_seen is None else min(c.first_seen, t)
        c.last_seen = t if c.last_seen is None else max(c.last_seen, t)
        if len(c.samples) < MAX_SAMPLES:
            c.samples.append({k: _bounded(_jsonable(v)) for k, v in hit.items()})
    return sorted(groups.values(), key=lambda c: (c.bucket_start, c.key))


def _jsonable(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.astimezone(UTC).isoformat()
    if v is None or isinstance(v, str | int | float | bool):
        return v
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return str(v)


def _bounded(v: Any) -> Any:
    if isinstance(v, str) and len(v) > MAX_SAMPLE_VALUE:
        return v[:MAX_SAMPLE_VALUE] + f"…[{len(v) - MAX_SAMPLE_VALUE} more characters]"
    if isinstance(v, list):
        return [_bounded(x) for x in v[:50]]
    return v
