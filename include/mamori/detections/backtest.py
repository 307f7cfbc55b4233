"""Run one detection over a stretch of lake history before enabling it: how often would it fire, on what?

The same rendering, engine, grouping and threshold as the detect DAG, over [start, end) in steps of the
detect DAG's window, so window-edge behaviour is the production one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mamori.detections.dedup import group_hits
from mamori.detections.loader import Detection
from mamori.detections.runner import run_detection
from mamori.engines import Engine
from mamori.windows import HOUR


@dataclass
class BacktestResult:
    detection_id: str
    windows: int = 0
    hits: int = 0
    alerts: list[dict[str, Any]] = field(default_factory=list)  # one per alert key at/over threshold
    top_entities: dict[str, list[tuple[str, int]]] = field(default_factory=dict)


def backtest(
    det: Detection, engine: Engine, start: datetime, end: datetime, step: timedelta = HOUR
) -> BacktestResult:
    """Hit and alert counts per dedup key, window by window; thresholds sum across windows like the ledger."""
    result = BacktestResult(det.id)
    per_key: dict[str, dict[str, Any]] = {}
    entities: dict[str, Counter[str]] = {
        c: Counter() for c in ("actor", "source_ip", "account_id", "event_name")
    }
    t = start
    while t < end:
        w_end = min(t + step, end)
        hits = run_detection(det, engine, t, w_end)
        result.windows += 1
        result.hits += len(hits)
        for h in hits:
            for col, counter in entities.items():
                if h.get(col) is not None:
                    counter[str(h[col])] += 1
        for c in group_hits(det, hits):
            agg = per_key.setdefault(
                c.key,
                {
                    "key": c.key,
                    "dedup": c.dedup_values,
                    "hits": 0,
                    "first_seen": c.first_seen,
                    "last_seen": c.last_seen,
                },
            )
            agg["hits"] += c.hits
            agg["last_seen"] = c.last_seen
        t = w_end
    result.alerts = sorted(
        (a for a in per_key.values() if a["hits"] >= det.header.threshold), key=lambda a: a["first_seen"]
    )
    result.top_entities = {col: counter.most_common(5) for col, counter in entities.items()}
    return result
