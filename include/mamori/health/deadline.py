"""The detect deadline: a detection window whose result was not recorded in time raises `mamori_detect_deadline`.

A window is due `MAMORI_DETECT_DEADLINE_MINUTES` after its detect run's data interval ends (window end + detection
lag + budget, `mamori.windows.detect_due`). Two things watch it, and both record the same alert (one per window,
keyed by the window, so either one, both, and any re-run give one alert and one ticket):

- the health DAG's `detect_deadline` check (`run`), for the windows due in its own data interval: it also sees
  windows no detect run exists for (a scheduler that skipped them, catchup being off);
- the detect DAG's Airflow `DeadlineAlert` (`on_detect_deadline_missed`), fired by the scheduler when a run is
  still not done `MAMORI_DETECT_DEADLINE_MINUTES` after it was queued: minutes after the miss, not at the next
  health run.

Both judge by the same record, the ledger's `detect_windows` (when the detect run's `record` task first
recorded a window, `mamori.detect.summarize_window`), and by the same rule (`mamori.windows.missed_deadlines`).
Replays are never late: the demo's and `mamori up`'s runs, backfills and manual runs evaluate history on
purpose (see `missed_deadlines` for how the health check tells them apart, `on_detect_deadline_missed` for the
callback).

Imported at DAG-parse time by dags/detect.py (the callback's path): the ledger and alert modules are imported
inside the functions, so parsing stays cheap and does no I/O.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from mamori import windows
from mamori.config import Settings, load_settings

log = logging.getLogger(__name__)

DETECT_DEADLINE = "mamori_detect_deadline"


def run(
    start: datetime, end: datetime, settings: Settings | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """The health DAG's check for its data interval [start, end): one alert per detection window due in it
    whose result was not recorded by its due time. `now` is the wall clock (injectable for tests); it only
    keeps windows not due yet out of the judgement."""
    from mamori.alerts.ledger import Ledger

    s = settings or load_settings()
    now = now or datetime.now(UTC)
    start, end = windows.utc(start), windows.utc(end)
    runs = windows.detect_runs_due(start, end, s.detect_interval, s.detect_deadline)
    if not runs:
        return {"judged": [], "missed": [], "alerts": []}
    ledger = Ledger(s.ledger_url)
    first = windows.detection_window(runs[0], runs[0] + s.detect_interval, s.detect_lag)
    last = windows.detection_window(runs[-1], runs[-1] + s.detect_interval, s.detect_lag)
    misses = windows.missed_deadlines(
        start,
        end,
        now,
        s.detect_interval,
        s.detect_lag,
        s.detect_deadline,
        ledger.evaluations(first.start, last.end),
        ledger.live_since(),
    )
    alerts = sorted({k for m in misses for k in record_miss(m, s, "health check")})
    return {
        "judged": [
            windows.detection_window(x, x + s.detect_interval, s.detect_lag).start.isoformat() for x in runs
        ],
        "missed": [m.window.start.isoformat() for m in misses],
        "alerts": alerts,
    }


def record_miss(miss: windows.DeadlineMiss, settings: Settings, found_by: str) -> list[str]:
    """Record one missed window as its own contribution (keyed by the detection window, so the health check
    and the Airflow callback replace each other's, never add): one alert per window, the same key every time."""
    from mamori.quality.alerts import candidate, health_detection, record

    w = miss.window
    det = health_detection(settings.sql_dir, DETECT_DEADLINE)
    sample = {
        "window_start": w.start.isoformat(),
        "window_end": w.end.isoformat(),
        "data_interval_start": miss.data_start.isoformat(),
        "data_interval_end": (miss.data_start + settings.detect_interval).isoformat(),
        "due": miss.due.isoformat(),
        "recorded_at": None if miss.recorded_at is None else miss.recorded_at.isoformat(),
        "found_by": found_by,
    }
    cand = candidate(det, {"window": windows.window_tag(w.start)}, w.start, 1, w.start, w.last, [sample])
    return record(DETECT_DEADLINE, w.start, w.end, [cand], settings)


def on_detect_deadline_missed(context: dict[str, Any] | None = None, **_: Any) -> dict[str, Any]:
    """The detect DAG's `DeadlineAlert` callback (a `SyncCallback`, run by the executor): the run was not done
    `MAMORI_DETECT_DEADLINE_MINUTES` after it was queued.

    Airflow calls it with `context={"dag_run": <the run as the REST API shows it, JSON values>, "deadline":
    {"id", "deadline_time"}}` (airflow.models.deadline.Deadline.handle_miss). It records the window's
    `mamori_detect_deadline` alert unless

    - the run is not a scheduled one: a manual run, a backfill or the demo's `dag.test()` replays a window on
      purpose; many queued at once wait for `max_active_runs`, which is not lateness (the health check still
      judges the scheduler's windows, whoever evaluated them); or
    - the window's result was recorded by its due time (the run's `record` task was in time; only a later task
      such as `check_rules` was not), which is the health check's rule too.
    """
    from mamori.alerts.ledger import Ledger

    run = (context or {}).get("dag_run") or {}
    run_type = str(run.get("run_type") or "")
    run_id = str(run.get("dag_run_id") or run.get("run_id") or "?")
    if run_type != "scheduled":
        log.info("detect deadline of %s (%s run): a replay, not judged", run_id, run_type or "unknown")
        return {"run_id": run_id, "alerts": [], "reason": f"{run_type or 'unknown'} run"}
    s = load_settings()
    x, y = _instant(run["data_interval_start"]), _instant(run["data_interval_end"])
    w = windows.detection_window(x, y, s.detect_lag)
    due = windows.detect_due(y, s.detect_deadline)
    recorded = Ledger(s.ledger_url).evaluations(w.start, w.end).get(w.start)
    if recorded is not None and recorded <= due:
        log.info("detect deadline of %s: window %s was recorded in time (%s)", run_id, w.start, recorded)
        return {"run_id": run_id, "alerts": [], "reason": "recorded in time"}
    alerts = record_miss(windows.DeadlineMiss(w, x, due, recorded), s, "airflow deadline")
    log.warning("detect deadline missed by %s: window [%s, %s), due %s", run_id, w.start, w.end, due)
    return {"run_id": run_id, "alerts": alerts, "reason": "missed"}


def _instant(value: Any) -> datetime:
    """A datetime from the callback's context: ISO text (the JSON Airflow stores) or a datetime."""
    return windows.utc(value if isinstance(value, datetime) else datetime.fromisoformat(str(value)))
