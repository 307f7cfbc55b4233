"""Reconciliation: per source and ingest window, raw records landed = lake rows + quarantined rows, counted
from the objects themselves, and every gap becomes an alert naming the objects or files involved.

Ingest already refuses to finalize a window whose batches do not add up (ReconciliationError), and leaves a
`_gap-*.json` record beside the manifests when it does. This check, run by the health DAG for the current and
the previous ingest window, adds what ingest cannot see at the time it runs:

- objects that landed in the window but are in no plan: S3 gives a multipart upload the LastModified of its
  *start*, so an object can appear in a window after that window was listed. They are parsed here to count
  the records detection never saw;
- lake files holding fewer (or more) rows than their manifest says: a deleted or overwritten Parquet file,
  read from the file footers (one small read per file), and quarantine files from their line counts.

Windows that are not finalized and left no gap record are the pipeline being late, not a gap: skipped.
"""

from __future__ import annotations

import gzip
import logging
from datetime import datetime
from typing import Any

import pyarrow.parquet as pq

from mamori.config import Settings, load_settings
from mamori.detections.dedup import Candidate
from mamori.health.history import lake, read_bytes, summary
from mamori.ingest import imported_keys, list_landed
from mamori.lake import Store, layout
from mamori.lake.manifests import BatchManifest, GapRecord, WindowPlan
from mamori.quality import alerts
from mamori.sources import SOURCES, get_source
from mamori.windows import TICK, parse_window_tag, window_starts, window_tag

log = logging.getLogger(__name__)
MAX_LISTED = 50  # objects/files named per alert sample (the count is exact)


def _file_rows(store: Store, key: str) -> int | None:
    """Rows actually in a lake file: the Parquet footer, or the line count of a quarantine file."""
    try:
        if key.endswith(".parquet"):
            with store.fs.open(store.full(key), "rb") as fh:
                return int(pq.ParquetFile(fh).metadata.num_rows)
        return len(gzip.decompress(store.read_bytes(key)).splitlines())
    except FileNotFoundError:
        return None


def check_window(source: str, start: datetime, settings: Settings) -> dict[str, Any]:
    """The reconciliation of one ingest window: counts on both sides and the problems found."""
    s = settings
    end = start + s.ingest_interval
    store = lake(s)
    mdir = layout.manifest_dir(source, start)
    out: dict[str, Any] = {"source": source, "window": window_tag(start), "state": "unknown", "problems": []}
    gaps = [o.key for o in store.find(mdir) if layout.is_gap_record(layout.key_name(o.key))]
    for key in gaps:
        data = read_bytes(store, key)  # None: removed since the listing (a re-run reconciled the window)
        doc = GapRecord.from_json(data) if data is not None else None
        where, problems = (doc.where, doc.problems) if doc is not None else (None, None)
        objects = doc.keys() if doc is not None else []
        out["problems"].append(
            {
                "problem": "ingest_reported",
                "detail": f"ingest could not reconcile {where}: {problems}",
                "objects": objects[:MAX_LISTED],
                "count": len(objects),
            }
        )
    done = summary(store, source, start)
    if done is None:
        out["state"] = "gap" if gaps else "not_finalized"
        return out
    plan_bytes = read_bytes(store, layout.plan_key(source, start))
    planned = WindowPlan.from_json(plan_bytes).planned_keys() if plan_bytes is not None else set()
    src = get_source(source)
    raw = Store(s.raw_url, s.raw_conn_id)
    landed, _ = list_landed(src, raw, start, end, imported_keys(store, source, start))
    missing = sorted(o.key for o in landed if o.key not in planned)
    missing_records = 0
    for key in missing:
        rk = src.classify(key)
        if rk is not None and rk.kind == "events":
            missing_records += src.parse_object(rk, raw.read_bytes(key)).records_in
    if missing:
        out["problems"].append(
            {
                "problem": "objects_not_ingested",
                "detail": f"{len(missing)} object(s) with {missing_records} record(s) landed in the window after "
                "it was processed",
                "objects": missing[:MAX_LISTED],
                "count": len(missing),
                "records": missing_records,
            }
        )
    lake_rows = quarantined = records_in = 0
    bad_files = []
    for b in range(done.batches):
        data = read_bytes(store, layout.batch_manifest_key(source, start, b))
        if data is None:  # finalize saw it; a lost manifest leaves its files uncounted, which shows below
            continue
        m = BatchManifest.from_json(data)
        records_in += m.records_in
        for key, expected in sorted(m.file_rows.items()):
            got = _file_rows(store, key)
            if layout.is_quarantine(key):
                quarantined += got or 0
            else:
                lake_rows += got or 0
            if got != expected:
                bad_files.append({"file": key, "manifest_rows": expected, "rows_found": got})
    if bad_files:
        out["problems"].append(
            {
                "problem": "lake_rows_missing",
                "detail": f"{len(bad_files)} lake file(s) do not hold the rows their manifest records",
                "files": bad_files[:MAX_LISTED],
                "count": len(bad_files),
            }
        )
    out.update(
        state="gap" if out["problems"] else "ok",
        raw_records=records_in + missing_records,
        lake_rows=lake_rows,
        quarantined_rows=quarantined,
    )
    return out


def run(start: datetime, end: datetime, settings: Settings | None = None) -> dict[str, Any]:
    """The health DAG's reconciliation task: the previous and the current ingest window of every source."""
    s = settings or load_settings()
    det = alerts.health_detection(s.sql_dir, alerts.RECONCILIATION)
    # The ingest windows of this run's data interval and the one before (a retry may finish it late).
    windows = [start - s.ingest_interval, *window_starts(start, end, s.ingest_interval)]
    results = [check_window(source, w, s) for source in SOURCES for w in windows]
    cands: list[Candidate] = []
    for r in results:
        for p in r["problems"]:
            w = parse_window_tag(r["window"])
            values = {"source": r["source"], "window": r["window"], "problem": p["problem"]}
            sample = (
                {"source": r["source"], "window": r["window"]}
                | {k: v for k, v in r.items() if k.endswith(("records", "rows"))}
                | p
            )
            cands.append(
                alerts.candidate(
                    det, values, w, int(p.get("count") or 1), w, w + s.ingest_interval - TICK, [sample]
                )
            )
            log.warning("reconciliation %s %s: %s: %s", r["source"], r["window"], p["problem"], p["detail"])
    fired = alerts.record(alerts.RECONCILIATION, start, end, cands, s)
    states = {f"{r['source']}@{r['window']}": r["state"] for r in results}
    log.info("reconciliation [%s, %s): %s", start, end, states)
    return {"windows": states, "alerts": fired}
