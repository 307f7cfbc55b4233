"""The health DAG's task bodies, one call each (dags/health.py is wiring only).

Imported at DAG-parse time: the checks' modules are imported inside the functions, so parsing stays cheap.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from mamori.config import Settings, load_settings

log = logging.getLogger(__name__)


def ingest_settled(start: datetime, settings: Settings | None = None) -> bool:
    """True when every source's ingest window starting at `start` is finalized or left a gap record (failed
    reconciliation): either way the health checks have something definite to say about it."""
    from mamori.health.history import lake
    from mamori.lake import layout
    from mamori.sources import SOURCES

    s = settings or load_settings()
    store = lake(s)
    waiting = []
    for source in SOURCES:
        if store.exists(layout.success_key(source, start)):
            continue
        d = layout.manifest_dir(source, start)
        if not any(layout.is_gap_record(layout.key_name(o.key)) for o in store.find(d)):
            waiting.append(source)
    if waiting:
        log.info("health: waiting for ingest window %s of %s", start.isoformat(), waiting)
    return not waiting


def freshness(start: datetime, end: datetime, settings: Settings | None = None) -> dict[str, Any]:
    from mamori.health import freshness as f

    return f.run(start, end, settings)


def drift(start: datetime, end: datetime, settings: Settings | None = None) -> dict[str, Any]:
    from mamori.health import drift as d

    return d.run(start, end, settings)


def reconciliation(start: datetime, end: datetime, settings: Settings | None = None) -> dict[str, Any]:
    from mamori.health import reconcile

    return reconcile.run(start, end, settings)


def late_data(start: datetime, end: datetime, settings: Settings | None = None) -> dict[str, Any]:
    from mamori.health import late

    return late.reevaluate(start, end, settings)


def detect_deadline(start: datetime, end: datetime, settings: Settings | None = None) -> dict[str, Any]:
    from mamori.health import deadline

    return deadline.run(start, end, settings)


def summarize(results: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
    """What one health run found (XCom and log); the alerts themselves are in the ledger."""
    fired = sorted({k for r in results.values() if r for k in r.get("alerts", [])})
    summary = {
        "checks": {name: ("not run" if r is None else "done") for name, r in results.items()},
        "alerts": fired,
        "resolved": (results.get("freshness") or {}).get("resolved", []),
    }
    log.info("health: %d alert(s) held, checks: %s", len(fired), summary["checks"])
    return summary
