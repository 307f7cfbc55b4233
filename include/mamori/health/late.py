"""Late data: re-evaluate the detection windows that ran before their events landed.

Ingest reads objects by landing time, so a late object is picked up by the window it lands in and its rows go
to their event-time partitions. What was missing: detection had already evaluated those event hours. Ingest's
finalize records, per window, the event-time hours it wrote into that start before `window start - detect
lag` (the detection window the detect DAG runs next); `windows_to_rerun` turns those into detect runs, and
`reevaluate` repeats them with `detect.run_chunk`.

No duplicate alerts: the ledger replaces a (detection, window) contribution on every run, and alert keys
derive from (detection, dedup values, aligned bucket), so a re-run either adds hits to the same alert (one
ticket, a recurrence update) or opens the alert the first run missed.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from mamori import detect, windows
from mamori.config import Settings, load_settings
from mamori.detections.loader import load_catalog_tolerant
from mamori.health.history import summaries
from mamori.sources import detection_trail

log = logging.getLogger(__name__)


def detect_runs_for(
    event_hour: datetime, ingest_start: datetime, settings: Settings, source: str | None = None
) -> list[datetime]:
    """Data-interval starts of the detect runs that evaluated part of `event_hour` of `source` before the
    ingest window starting at `ingest_start` wrote late rows into it: those whose own detection windows
    overlap the hour up to that window's horizon (runs after it had the rows already, read directly or in
    their lookback overlap). One run when detection is hourly. `source` None: the run's own lag."""
    s = settings
    if source is None:
        lag, reread = s.detect_lag, windows.reread_span(s.detect_lag, s.detect_overlap, s.detect_interval)
    else:
        lag, reread = detection_trail(source, s)
    end = min(event_hour + windows.HOUR, windows.late_horizon(ingest_start, lag, reread))
    if end <= event_hour:
        return []
    return windows.detect_runs_over(event_hour, end, s.detect_interval, lag)


def windows_to_rerun(
    start: datetime, end: datetime, settings: Settings | None = None
) -> list[dict[str, Any]]:
    """Detect runs to repeat because the ingest windows starting in [start, end) wrote late rows.

    Only sources with enabled detections count. Each item: the detect run's data interval, the detection
    window it evaluates, and the sources whose detections must run again.
    """

    s = settings or load_settings()
    sources = sorted(
        {d.header.log_source for d in load_catalog_tolerant(s.sql_dir, include_deprecated=False)[0]}
    )
    starts = windows.window_starts(start, end, s.ingest_interval)
    runs: dict[datetime, set[str]] = {}
    for source in sources:
        for ingest_start, doc in summaries(source, starts, s).items():
            for hour in doc.late_hours if doc is not None else []:
                for x in detect_runs_for(datetime.fromisoformat(hour), ingest_start, s, source):
                    runs.setdefault(x, set()).add(source)
    out = []
    for x, srcs in sorted(runs.items()):
        w = windows.detection_window(x, x + s.detect_interval, s.detect_lag)
        out.append(
            {
                "data_interval_start": x.isoformat(),
                "data_interval_end": (x + s.detect_interval).isoformat(),
                "detection_window": [w.start.isoformat(), w.end.isoformat()],
                "sources": sorted(srcs),
            }
        )
    return out


def reevaluate(start: datetime, end: datetime, settings: Settings | None = None) -> dict[str, Any]:
    """The health DAG's late-data task: run the enabled detections of the affected sources again for each
    detection window that received late rows."""

    s = settings or load_settings()
    windows = windows_to_rerun(start, end, s)
    by_source: dict[str, list[str]] = {}
    for d in load_catalog_tolerant(s.sql_dir, include_deprecated=False)[0]:
        by_source.setdefault(d.header.log_source, []).append(d.id)
    results = []
    for w in windows:
        x, y = (
            datetime.fromisoformat(w["data_interval_start"]),
            datetime.fromisoformat(w["data_interval_end"]),
        )
        ids = [i for src in w["sources"] for i in by_source.get(src, [])]
        for i in range(0, len(ids), detect.CHUNK):
            results += detect.run_chunk(ids[i : i + detect.CHUNK], x, y, s)
        # As the detect run's record task does: alerts the late rows opened join incidents now, not when some
        # later run happens to re-read their window (which would also make that run change the ledger).
        detect.record_run_incidents(x, y, s)
        log.info(
            "late data: re-ran %d detection(s) of %s for window %s",
            len(ids),
            w["sources"],
            w["detection_window"],
        )
    alerts = sorted({k for r in results for k in r["alerts"]})
    return {
        "windows": [w["detection_window"] for w in windows],
        "detections_run": len(results),
        "alerts": alerts,
    }
