"""Schema drift: did the shape of a source's data change in this window? Each change names what changed.

Compared with the observations ingest recorded (quality/observe.py, summed per window by finalize):

- `new_field`: a raw CloudTrail record carried a top-level (or userIdentity) key the table has no column for.
  The schema is declared, so this needs no history: the parser drops the field, detections cannot see it.
  Reported once: after the window it appeared in, it is part of the baseline.
- `new_event_version`: a CloudTrail eventVersion neither declared known nor seen in the lookback.
- `new_vpc_header`: a VPC Flow Logs header order (or Parquet column set) neither declared nor seen before.
  The parser follows any header, so rows are right; the alert says a flow log was re-created or changed.
- `column_all_null`: a column filled in at least `all_null_baseline_share` of the baseline's rows has no value
  at all in this window (over at least `all_null_min_rows` rows).
- `parse_failure_rate`: quarantined / records in above the threshold (top reasons in the alert).

Learned baselines (versions, headers, filled columns) are trusted only after `drift.min_history_windows`
finalized windows; declared values (sql/health/streams.yaml) and the declared schema apply from the start.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from mamori.config import Settings, load_settings
from mamori.detections.dedup import Candidate
from mamori.health.history import summaries
from mamori.health.settings import HealthSettings, load_health_settings
from mamori.lake.manifests import WindowSummary
from mamori.quality import alerts
from mamori.sources import SOURCES
from mamori.windows import TICK, recent_starts

log = logging.getLogger(__name__)


def _counter(docs: list[WindowSummary], key: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in docs:
        for name, n in (d.observed.get(key) or {}).items():
            out[name] = out.get(name, 0) + n
    return out


def changes(
    source: str, current: WindowSummary, baseline: list[WindowSummary], hs: HealthSettings
) -> list[dict[str, Any]]:
    """What changed in `current` (a window summary) against `baseline` (earlier summaries). Pure."""
    d = hs.drift
    obs = current.observed
    learned = len(baseline) >= d.min_history_windows
    out: list[dict[str, Any]] = []

    seen_fields = _counter(baseline, "fields")
    for name, n in sorted((obs.get("fields") or {}).items()):
        if name not in seen_fields:
            out.append(
                {
                    "change": "new_field",
                    "name": name,
                    "count": n,
                    "detail": f"{n} of {obs.get('sampled_records', 0)} sampled records carry {name!r}, "
                    "which the table has no column for (the parser drops it)",
                }
            )
    known_versions = set(d.known.event_versions) | set(_counter(baseline, "event_versions"))
    for name, n in sorted((obs.get("event_versions") or {}).items()):
        if name not in known_versions and (learned or d.known.event_versions):
            out.append(
                {
                    "change": "new_event_version",
                    "name": name,
                    "count": n,
                    "detail": f"{n} rows of eventVersion {name}",
                }
            )
    known_headers = set(d.known.vpc_headers) | set(_counter(baseline, "headers"))
    if learned:
        for name, n in sorted((obs.get("headers") or {}).items()):
            if name not in known_headers:
                out.append(
                    {
                        "change": "new_vpc_header",
                        "name": name,
                        "count": n,
                        "detail": f"{n} object(s) with a header order not seen before",
                        "known_headers": sorted(known_headers),
                    }
                )
    rows = int(obs.get("rows") or 0)
    if learned and rows >= d.all_null_min_rows:
        base_rows = sum(int(b.observed.get("rows") or 0) for b in baseline)
        base_filled = _counter(baseline, "nonnull")
        for col, n in sorted((obs.get("nonnull") or {}).items()):
            share = base_filled.get(col, 0) / base_rows if base_rows else 0.0
            if n == 0 and share >= d.all_null_baseline_share:
                out.append(
                    {
                        "change": "column_all_null",
                        "name": col,
                        "count": rows,
                        "detail": f"{col} is NULL in all {rows} rows; it was filled in {share:.0%} of the baseline",
                    }
                )
    records, quarantined = current.records_in, current.quarantined
    if records >= d.parse_failure_min_records and quarantined / records > d.parse_failure_rate:
        reasons = obs.get("quarantine_reasons") or {}
        top = sorted(reasons.items(), key=lambda kv: -kv[1])[:5]
        out.append(
            {
                "change": "parse_failure_rate",
                "name": "quarantined/records_in",
                "count": quarantined,
                "detail": f"{quarantined} of {records} records quarantined ({quarantined / records:.1%} > "
                f"{d.parse_failure_rate:.1%}); top reasons: {top}",
            }
        )
    return out


def evaluate(
    start: datetime, end: datetime, settings: Settings | None = None
) -> dict[str, list[dict[str, Any]] | None]:
    """Per source: the changes of the ingest window [start, end) (None when it is not finalized)."""
    s = settings or load_settings()
    hs = load_health_settings(s.sql_dir)
    n = max(2, int(timedelta(hours=hs.lookback_hours) / s.ingest_interval))
    starts = recent_starts(end, s.ingest_interval, n)
    out: dict[str, list[dict[str, Any]] | None] = {}
    for source in SOURCES:
        docs = summaries(source, starts, s)
        current = docs[starts[-1]]
        if current is None:
            out[source] = None
            continue
        baseline = [d for st, d in docs.items() if d is not None and st != starts[-1]]
        out[source] = changes(source, current, baseline, hs)
    return out


def run(start: datetime, end: datetime, settings: Settings | None = None) -> dict[str, Any]:
    """The health DAG's drift task: one `mamori_schema_drift` candidate per change, recorded for the window."""
    s = settings or load_settings()
    found = evaluate(start, end, s)
    det = alerts.health_detection(s.sql_dir, alerts.DRIFT)
    cands: list[Candidate] = []
    for source, chs in found.items():
        for ch in chs or []:
            values = {"source": source, "change": ch["change"], "name": ch["name"]}
            sample = {"source": source, "window": start.isoformat()} | ch
            cands.append(alerts.candidate(det, values, start, int(ch["count"]), start, end - TICK, [sample]))
            log.warning("drift %s: %s %r: %s", source, ch["change"], ch["name"], ch["detail"])
    fired = alerts.record(alerts.DRIFT, start, end, cands, s)
    summary = {
        src: (None if chs is None else [f"{c['change']}:{c['name']}" for c in chs])
        for src, chs in found.items()
    }
    log.info("drift [%s, %s): %s", start, end, summary)
    return {"changes": summary, "alerts": fired}
