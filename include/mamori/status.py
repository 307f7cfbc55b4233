"""What mamori is doing right now: detection catalog, recent alerts and their tickets, per-source freshness and
data quality, recent Airflow runs with their metrics. One dict, three renderings (JSON, text, HTML).

`collect()` only reads (catalog files, lake manifests, the ledger) and takes "now" as an argument, so the same
state always gives the same answer; the `mamori status` command and the Airflow UI view (plugins/) both call
it. Airflow's own run history lives in Airflow's metadata DB: `airflow_runs()` reads it separately and the
caller passes the result in, so `collect()` is testable without a scheduler and usable without Airflow.

Every value that comes from a log (dedup values, titles of alerts copied from rules, ticket references) is
attacker-controlled: `render_html()` makes control, bidi and zero-width characters visible exactly as tickets
do (`mamori.alerts.render.visible`), escapes every value it prints, and links only http(s) URLs. The JSON keeps
the exact values but escapes every non-ASCII character (`ensure_ascii`), so no raw control reaches a viewer.
Who may read any of it is decided by the UI view (plugins/), from `view_dag_ids()`.
"""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from mamori.alerts.ledger import ALERT_HITS, Ledger
from mamori.alerts.render import visible
from mamori.alerts.scorecard import MIN_VERDICTS as _MIN_VERDICTS
from mamori.alerts.triage import ACTIONS as TRIAGE_ACTIONS
from mamori.alerts.triage import TriageError
from mamori.charts import SEVERITY_COLOURS, Series, stacked_bars
from mamori.config import Settings, load_settings
from mamori.detections.loader import load_catalog_tolerant
from mamori.sources import SOURCES
from mamori.windows import DAY, HOUR, day_floor, detection_window, hour_floor, recent_starts

if TYPE_CHECKING:
    from mamori.lake.manifests import WindowSummary

# mamori.lake.manifests.WINDOW_TOTALS, restated so loading the UI view does not import the lake package
# (tests/unit/test_status.py holds the two equal).
WINDOW_TOTALS = ("objects", "records_in", "rows_out", "quarantined", "skipped_objects", "files")
SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")
# Tasks whose return value is the run's metrics (ingest: finalize; detect: record; dispatch_alerts: dispatch).
METRIC_TASKS = {"finalize": "ingest", "record": "detect", "dispatch": "dispatch"}


def view_dag_ids() -> list[str]:
    """The DAGs whose results the status shows: their alerts (detect, health, ingest's data-quality alerts),
    deliveries (dispatch_alerts), windows and runs. The UI view serves only users who may read all of them."""

    return [*(f"ingest_{name}" for name in SOURCES), "detect", "dispatch_alerts", "health"]


# -- data --------------------------------------------------------------------------------------------------
def collect(
    now: datetime,
    settings: Settings | None = None,
    runs: list[dict[str, Any]] | None = None,
    runs_error: str | None = None,
    recent_alerts: int = 25,
    recent_windows: int = 6,
    queue: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """Everything the status page shows, as plain JSON-able values; `now` only feeds the freshness ages.
    `queue` holds the incident queue's filters as the page's GET parameters gave them (`incident_queue`)."""
    s = settings or load_settings()
    detections, catalog_error = _catalog(s)
    sources, quality_meta = _sources(s, now, recent_windows)
    ledger = _open_ledger(s)
    hits = _last_hits(ledger)
    alerts, deliveries = _ledger_rows(ledger)
    queue_page = incident_queue(ledger, queue or {})
    incident_rows = queue_page.pop("rows")
    last_detect = _last_detect_window(runs or [], s)
    open_by_det = Counter(a["detection_id"] for a in alerts if a["status"] == "open")
    for d in detections:
        d["last_hits"] = hits.get(d["id"])
        d["last_run"] = last_detect if d["enabled"] else None
        d["open_alerts"] = open_by_det.get(d["id"], 0)
    recent = sorted(alerts, key=lambda a: (a["last_seen"], a["key"]), reverse=True)[:recent_alerts]
    for a in recent:
        a["tickets"] = [_ticket(d) for d in deliveries.get(a["key"], [])]
    return {
        "as_of": now.isoformat(),
        "home": str(s.home),
        "engine": s.engine,
        "lake_url": s.lake_url,
        "detections": detections,
        "catalog_error": catalog_error,
        "alert_counts": {
            "open": sum(1 for a in alerts if a["status"] == "open"),
            "total": len(alerts),
            "open_by_severity": dict(
                Counter(a["severity"] for a in alerts if a["status"] == "open").most_common()
            ),
        },
        "incidents": incident_rows,
        "queue": queue_page,
        "alerts": recent,
        "charts": _charts(sources, alerts),
        "sources": sources,
        "quality": quality_meta,
        "runs": runs,
        "runs_error": runs_error,
    }


def _catalog(s: Settings) -> tuple[list[dict[str, Any]], str | None]:
    # One broken rule must not blank the catalog: the others are listed, the broken files named with line.
    catalog, broken = load_catalog_tolerant(s.sql_dir)
    error = "\n".join(b.describe() for b in broken) or None
    return [
        {
            "id": d.id,
            "title": d.header.title,
            "severity": d.header.severity,
            "status": d.header.status,
            "log_source": d.header.log_source,
            "mitre": list(d.header.mitre),
            "enabled": d.header.status != "deprecated",
        }
        for d in catalog
    ], error


def _ledger_exists(s: Settings) -> bool:
    """A status read must not create an empty SQLite ledger as a side effect (Ledger() would)."""
    prefix = "sqlite:///"
    if s.ledger_url.startswith(prefix):
        return Path(s.ledger_url[len(prefix) :]).is_file()
    return True


def _open_ledger(s: Settings) -> Any:
    if not _ledger_exists(s):
        return None

    return Ledger(s.ledger_url)


def _ledger_rows(ledger: Any) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    if ledger is None:
        return [], {}
    alerts = [
        {
            "key": a.key,
            "detection_id": a.detection_id,
            "title": a.title,
            "severity": a.severity,
            "status": a.status,
            "log_source": a.log_source,
            "dedup": a.dedup_values,
            "first_seen": a.first_seen,
            "last_seen": a.last_seen,
            "hit_count": a.hit_count,
        }
        for a in ledger.alerts()
    ]
    deliveries: dict[str, list[dict[str, Any]]] = {}
    for d in ledger.deliveries():
        deliveries.setdefault(d["alert_key"], []).append(d)
    return alerts, deliveries


def incident_queue(ledger: Any, query: dict[str, list[str]]) -> dict[str, Any]:
    """The triage queue with the page's filters (`mamori.alerts.queue`): live incidents, the ones needing
    someone first (open, then acknowledged, then the rest), the most severe first, the latest activity first.
    A bad filter value runs nothing: the rows are empty and `error` says which parameter, in one line."""
    from mamori.alerts.queue import QueueFilters, parse_queue, queue_href
    from mamori.alerts.queue import incident_queue as run_queue

    out: dict[str, Any] = {
        "rows": [],
        "form": {k: next((v for v in query.get(k, []) if v.strip()), "") for k in QUEUE_FORM},
        "error": None,
        "page": 0,
        "more": False,
        "matched": 0,
        "truncated": False,
        "filtered": False,
        "prev_href": None,
        "next_href": None,
    }
    try:
        f = parse_queue(query)
    except ValueError as exc:
        out["error"] = str(exc)
        return out
    out["filtered"] = f.active
    if ledger is None:
        return out
    try:
        found = run_queue(ledger, f)
    except (sa.exc.OperationalError, sa.exc.ProgrammingError):  # a ledger not migrated to incidents yet
        return out
    base = QueueFilters(**{**f.__dict__, "page": 0})
    out.update(
        rows=[_incident_row(i) for i in found.rows],
        page=found.page,
        more=found.more,
        matched=found.matched,
        truncated=found.truncated,
        prev_href=search_href(queue_href(base, f.page - 1), base="") if f.page > 0 else None,
        next_href=search_href(queue_href(base, f.page + 1), base="") if found.more else None,
    )
    return out


QUEUE_FORM = ("severity", "status", "source", "rule", "entity", "match", "from", "to")


def _incident_row(i: Any) -> dict[str, Any]:
    return {
        "id": i.incident_id,
        "state": i.state,
        "status": i.status,
        "severity": i.severity,
        "reason": i.severity_reason,
        "first_seen": i.first_seen,
        "last_seen": i.last_seen,
        "alerts": len(i.members),
        "rules": sorted({a.detection_id for a in i.members}),
        "entities": [{"kind": e["kind"], "value": e["value"]} for e in i.entities],
    }


def scorecard_rows(settings: Settings | None = None) -> list[dict[str, Any]]:
    """Per-rule quality from recorded verdicts (`mamori detections scorecard`), worst first, one dict per rule
    (`RuleScore.as_dict`), for the view's panel; [] when nothing was detected yet."""
    from mamori.alerts.scorecard import scorecard

    ledger = _open_ledger(settings or load_settings())
    return [r.as_dict() for r in scorecard(ledger)] if ledger is not None else []


def resolve_incident(incident: str, settings: Settings | None = None) -> str:
    """The full id of a live or closed incident from its id or a unique prefix (TriageError otherwise)."""
    from mamori.alerts import triage

    s = settings or load_settings()
    ledger = _open_ledger(s)
    if ledger is None:
        raise TriageError("no ledger yet: nothing has been detected")
    with ledger.engine.connect() as conn:
        return str(triage.find(conn, incident).incident_id)


def triage_incident(
    incident_id: str,
    action: str,
    actor: str,
    verdict: str | None = None,
    note: str | None = None,
    settings: Settings | None = None,
) -> str:
    """One triage action from the view, recorded as `mamori incidents` records it; returns the state after
    it. TriageError for an unknown action or verdict, or an action the incident's state refuses."""
    from mamori.alerts import triage

    if action not in TRIAGE_ACTIONS:
        raise TriageError(f"unknown triage action {action[:40]!r}: use one of {', '.join(triage.ACTIONS)}")
    s = settings or load_settings()
    ledger = Ledger(s.ledger_url)
    if action == "close":
        out = triage.close(ledger, incident_id, verdict or "", actor, note=note)
    elif action == "acknowledge":
        out = triage.acknowledge(ledger, incident_id, actor, note=note)
    else:
        out = triage.reopen(ledger, incident_id, actor, note=note)
    return out.status


def incident_page(incident: str, settings: Settings | None = None) -> dict[str, Any]:
    """One incident with its alerts and triage record, for the view's incident page (TriageError when there
    is no such live incident)."""
    from mamori.alerts import incidents as inc_mod

    s = settings or load_settings()
    ledger = _open_ledger(s)
    if ledger is None:
        raise TriageError("no ledger yet: nothing has been detected")
    inc, actions = inc_mod.get_incident(ledger, incident)
    policy = inc_mod.load_policy(s)
    sql_dir = Path(s.sql_dir)
    members = []
    for a in inc.members:
        ents = sorted(
            (e for e in inc_mod.alert_entities(a) if not policy.stopped(e)),
            key=lambda e: (inc_mod.KINDS.index(e.kind), e.value),
        )
        members.append(
            {
                "first_seen": a.first_seen,
                "severity": a.severity,
                "detection_id": a.detection_id,
                "title": a.title,
                "key": a.key,
                "hits": a.hit_count,
                "tactics": list(inc_mod.rule_tactics(sql_dir, a.detection_id)),
                "entities": [{"kind": e.kind, "value": e.value} for e in ents],
            }
        )
    return {
        "id": inc.incident_id,
        "state": inc.state,
        "status": inc.status,
        "verdict": inc.verdict,
        "severity": inc.severity,
        "reason": inc.severity_reason,
        "tactics": inc.tactics,
        "entities": inc.entities,
        "first_seen": inc.first_seen,
        "last_seen": inc.last_seen,
        "members": members,
        "actions": [
            {"at": x.at, "actor": x.actor, "action": x.action, "verdict": x.verdict, "note": x.note}
            for x in actions
        ],
    }


def _last_hits(ledger: Any) -> dict[str, dict[str, Any]]:
    """Per detection, its latest window with hits: (window, hits) from the ledger's per-window contributions."""
    if ledger is None:
        return {}

    h = ALERT_HITS.c
    latest = (
        sa.select(h.detection_id, sa.func.max(h.window_start).label("ws")).group_by(h.detection_id).subquery()
    )
    q = (
        sa.select(h.detection_id, h.window_start, h.window_end, sa.func.sum(h.hits))
        .join(latest, sa.and_(h.detection_id == latest.c.detection_id, h.window_start == latest.c.ws))
        .group_by(h.detection_id, h.window_start, h.window_end)
    )
    with ledger.engine.connect() as conn:
        return {r[0]: {"window_start": r[1], "window_end": r[2], "hits": int(r[3])} for r in conn.execute(q)}


def _ticket(d: dict[str, Any]) -> dict[str, Any]:
    ref = d.get("external_ref")
    local = d["output"] == "local" and d["state"] == "delivered"
    return {
        "output": d["output"],
        "state": d["state"],
        "ref": ref,
        "url": ref if safe_url(ref) else None,
        # A local ticket is a file in the outbox that a browser may not open (file://): the view serves it
        # itself, at a path relative to the page, built from the alert key and never from the stored ref.
        "page": f"tickets/{d['alert_key']}" if local and ALERT_KEY.fullmatch(d["alert_key"]) else None,
        "failures": d["failures"],
        "last_error": d.get("last_error"),
    }


CHART_HOURS = 48
CHART_DAYS = 14

# An alert key as mamori.detections.dedup.alert_key makes it: the only shape a ticket path may take.
ALERT_KEY = re.compile(r"[0-9a-f]{32}", re.ASCII)


def local_ticket(key: str, settings: Settings | None = None) -> tuple[str, str] | None:
    """(detection id, Markdown) of the local ticket of alert `key`, or None when there is none.

    The outbox path is rebuilt from the key (a fixed hex shape) and the detection id the ledger holds for
    it, exactly as the local output wrote it; nothing a request or a log supplies becomes a path.
    """
    if not ALERT_KEY.fullmatch(key):
        return None
    s = settings or load_settings()
    ledger = _open_ledger(s)
    alert = next((a for a in ledger.alerts() if a.key == key), None) if ledger else None
    if alert is None:
        return None
    from mamori.lake import Store  # see quality_by_source: the lake package only when read

    store = Store(s.outbox_url)
    path = f"tickets/{alert.detection_id}/{key}.md"
    if not store.exists(path):
        return None
    return alert.detection_id, store.read_bytes(path).decode("utf-8", errors="replace")


def render_ticket_html(key: str, detection_id: str, markdown: str) -> str:
    """A local ticket as inert text: every line escaped and made visible like the rest of the view."""
    body = "\n".join(_e(line) for line in markdown.splitlines())
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>mamori ticket</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<p><a href='../'>&larr; mamori</a></p><h1><code>{_e(detection_id)}</code> {_e(key)}</h1>"
        f"<pre class='ticket'>{body}</pre></body></html>"
    )


def safe_url(ref: Any) -> bool:
    """Only http(s) references become links: a `javascript:` or `data:` ref must stay inert text."""
    if not isinstance(ref, str):
        return False
    try:
        parts = urlsplit(ref)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _last_detect_window(runs: list[dict[str, Any]], s: Settings) -> dict[str, Any] | None:
    """The detection window of the latest successful detect run (every enabled rule runs in every run)."""
    done = [
        r
        for r in runs
        if r.get("dag_id") == "detect" and r.get("state") == "success" and r.get("interval_end")
    ]
    if not done:
        return None
    last = max(done, key=lambda r: r["interval_end"])
    w = detection_window(
        datetime.fromisoformat(last["interval_start"]),
        datetime.fromisoformat(last["interval_end"]),
        s.detect_lag,
    )
    return {"window_start": w.start.isoformat(), "window_end": w.end.isoformat(), "run_id": last["run_id"]}


# Freshness states (mamori.health.freshness) that mean a stream needs a look.
STALE_STATES = frozenset({"silent", "low"})


def quality_by_source(s: Settings, at: datetime | None) -> tuple[dict[str, dict[str, Any]], str | None]:
    """Data quality per source: Great Expectations tallies over every finalized window (batches
    and expectations passed, rows quarantined by checks, failed checks), and the health DAG's freshness
    verdict per stream for the window ending at `at` (the lake's latest finalized window end).

    Returns (per source, freshness error): a missing sql/health/ must cost the freshness column only.
    """
    # Deferred: these load the lake package (Airflow's ObjectStoragePath), which loading the UI view must not.
    from mamori.health import freshness, report

    dq = report.dq_by_source(s)
    states: dict[str, Counter[str]] = {}
    error = None
    if at is not None:
        try:
            for h in freshness.evaluate(at - s.ingest_interval, at, s):
                states.setdefault(h.source, Counter())[h.state] += 1
        except Exception as exc:  # a broken health config shows as such; it must not blank the page
            error = f"{type(exc).__name__}: {str(exc)[:300]}"
    out = {
        src: {**tally, "freshness": dict(sorted(states.get(src, Counter()).items()))}
        for src, tally in dq.items()
    }
    return out, error


def _sources(s: Settings, now: datetime, recent: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    rows = [_source(name, s, now, recent) for name in SOURCES]
    ends = [r["last_window"]["window_end"] for r in rows if r["last_window"]]
    at = datetime.fromisoformat(max(ends)) if ends else None
    quality, error = quality_by_source(s, at)
    for r in rows:
        q = quality.get(r["source"])
        r["quality"] = q
        problems = bool(r["totals"]["quarantined"] or r["unclaimed"])
        if q:
            problems |= bool(q.get("failed")) or any(st in STALE_STATES for st in q["freshness"])
        # No object ever read is no evidence of health: an unconfigured or broken delivery must not look
        # green next to the sources that prove theirs.
        r["dq"] = "attention" if problems else ("ok" if r["totals"]["objects"] else "no data")
    return rows, {"freshness_at": at.isoformat() if at else None, "freshness_error": error}


def _source(name: str, s: Settings, now: datetime, recent: int) -> dict[str, Any]:
    from mamori.ingest import window_summaries  # see quality_by_source: the lake package only when read

    windows = sorted(window_summaries(name, s), key=lambda w: w.window_start)
    totals = {k: sum(w.totals()[k] for w in windows) for k in WINDOW_TOTALS}
    last = windows[-1] if windows else None
    age = None
    if last is not None:
        age = round((now - datetime.fromisoformat(last.window_end)).total_seconds() / 60)
    return {
        "source": name,
        "windows": len(windows),
        "last_window": _window_row(last) if last else None,
        "age_minutes": age,
        "totals": totals,
        "unclaimed": sum(len(w.unclaimed) for w in windows),
        "recent": [_window_row(w) for w in reversed(windows[-recent:])],
        # Per hour of data: [rows written, records quarantined], for the view's charts.
        "per_hour": _per_hour(windows),
    }


def _per_hour(windows: list[WindowSummary]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for w in windows:
        hour = hour_floor(datetime.fromisoformat(w.window_start)).isoformat()
        cell = out.setdefault(hour, [0, 0])
        cell[0] += w.rows_out
        cell[1] += w.quarantined
    return out


def _charts(sources: list[dict[str, Any]], alerts: list[dict[str, Any]]) -> dict[str, Any]:
    """Chart data over the latest data, not the wall clock: a lake replayed from last month still draws."""
    hours = sorted({h for s in sources for h in s["per_hour"]})
    if hours:
        end = datetime.fromisoformat(hours[-1])
        buckets = [h.isoformat() for h in recent_starts(end + HOUR, HOUR, CHART_HOURS)]
    else:
        buckets = []
    days_seen = sorted({day_floor(datetime.fromisoformat(a["first_seen"])) for a in alerts})
    days = [d.isoformat() for d in recent_starts(days_seen[-1] + DAY, DAY, CHART_DAYS)] if days_seen else []
    per_day = Counter(
        (day_floor(datetime.fromisoformat(a["first_seen"])).isoformat(), a["severity"]) for a in alerts
    )
    return {
        "hours": buckets,
        "rows_per_hour": {s["source"]: [s["per_hour"].get(h, [0, 0])[0] for h in buckets] for s in sources},
        "quarantined_per_hour": {
            s["source"]: [s["per_hour"].get(h, [0, 0])[1] for h in buckets] for s in sources
        },
        "days": days,
        "alerts_per_day": {sev: [per_day.get((d, sev), 0) for d in days] for sev in SEVERITY_ORDER},
    }


def _window_row(w: WindowSummary) -> dict[str, Any]:
    return {"window_start": w.window_start, "window_end": w.window_end} | w.totals()


# -- Airflow run history -------------------------------------------------------------------------------------
def airflow_runs(limit: int = 60) -> list[dict[str, Any]]:
    """The latest mamori DAG runs from Airflow's metadata DB, with each run's metrics (its return value).

    Reads the DB Airflow is configured with (AIRFLOW_HOME / AIRFLOW__DATABASE__SQL_ALCHEMY_CONN); runs in the
    api-server (the UI view) or next to a local install (`mamori status`).
    """
    from airflow.models.dagrun import DagRun
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    mamori_dag = sa.or_(
        DagRun.dag_id.like("ingest\\_%", escape="\\"), DagRun.dag_id.in_(["detect", "dispatch_alerts"])
    )
    with create_session() as session:
        rows = (
            session.execute(sa.select(DagRun).where(mamori_dag).order_by(DagRun.id.desc()).limit(limit))
            .scalars()
            .all()
        )
        ids = [r.id for r in rows]
        metrics: dict[int, Any] = {}
        if ids:
            for x in session.execute(
                sa.select(XComModel.dag_run_id, XComModel.value).where(
                    XComModel.dag_run_id.in_(ids),
                    XComModel.task_id.in_(list(METRIC_TASKS)),
                    XComModel.key == "return_value",
                    XComModel.map_index == -1,
                )
            ):
                metrics[x[0]] = _decode(x[1])
        return [
            {
                "dag_id": r.dag_id,
                "run_id": r.run_id,
                "run_type": str(r.run_type.value if hasattr(r.run_type, "value") else r.run_type),
                "state": str(r.state.value if hasattr(r.state, "value") else r.state),
                "interval_start": _iso(r.data_interval_start),
                "interval_end": _iso(r.data_interval_end),
                "started": _iso(r.start_date),
                "ended": _iso(r.end_date),
                "seconds": (r.end_date - r.start_date).total_seconds()
                if r.start_date and r.end_date
                else None,
                "metrics": _metrics(metrics.get(r.id)),
            }
            for r in rows
        ]


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def _decode(value: Any) -> Any:
    if isinstance(value, str | bytes):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _metrics(value: Any) -> dict[str, Any] | None:
    """The numbers worth a column from a run's return value (ingest window, detect summary, dispatch)."""
    if not isinstance(value, dict):
        return None
    keep = (*WINDOW_TOTALS, "detections", "hits", "delivered", "failed", "failing", "open_alerts")
    out: dict[str, Any] = {k: value[k] for k in keep if isinstance(value.get(k), int | float)}
    if isinstance(value.get("alerts"), list):
        out["alerts"] = len(value["alerts"])
    return out


def safe_airflow_runs(limit: int = 60) -> tuple[list[dict[str, Any]] | None, str | None]:
    """airflow_runs(), or (None, why) when there is no reachable Airflow metadata DB (status still works)."""
    try:
        return airflow_runs(limit), None
    except Exception as exc:  # a missing/unmigrated DB must not take the status page down with it
        return None, f"{type(exc).__name__}: {str(exc)[:300]}"


# -- renderings --------------------------------------------------------------------------------------------
def render_text(st: dict[str, Any]) -> str:
    """The `mamori status` terminal view."""
    out = [f"mamori status as of {st['as_of']}  (home {st['home']}, engine {st['engine']})", ""]
    out.append("sources (finalized ingest windows)")
    out.append(
        f"  {'source':20} {'windows':>7} {'last window end':26} {'age(min)':>8} {'objects':>8} "
        f"{'records':>9} {'rows':>9} {'quarant.':>8} {'files':>6} dq"
    )
    for src in st["sources"]:
        t, lw = src["totals"], src["last_window"]
        out.append(
            f"  {src['source']:20} {src['windows']:>7} {(lw or {}).get('window_end', '-'):26} "
            f"{_dash(src['age_minutes']):>8} {t['objects']:>8} {t['records_in']:>9} {t['rows_out']:>9} "
            f"{t['quarantined']:>8} {t['files']:>6} {src['dq']}"
        )
    q_meta = st.get("quality") or {}
    out.append(f"data quality (expectations; freshness of streams at {q_meta.get('freshness_at') or '-'})")
    for src in st["sources"]:
        q = src.get("quality")
        if not q:
            continue
        failed = ", ".join(
            f"{c} ({f['action']}, {f['unexpected']} rows)" for c, f in sorted(q["failed"].items())
        )
        fresh = ", ".join(f"{k} {v}" for k, v in q["freshness"].items()) or "-"
        out.append(
            f"  {src['source']:20} expectations {q['passed']}/{q['evaluated']}  batches {q['passed_batches']}/"
            f"{q['batches']}  freshness: {fresh}  failed: {failed or 'none'}"
        )
    if q_meta.get("freshness_error"):
        out.append(f"  freshness unavailable: {q_meta['freshness_error']}")
    dets = st["detections"]
    out += ["", f"detections: {len(dets)} in the catalog, {sum(d['enabled'] for d in dets)} enabled"]
    if st.get("catalog_error"):
        out.append(f"  CATALOG ERROR: {st['catalog_error']}")
    for d in dets:
        if d["last_hits"] or d["open_alerts"]:
            lh = d["last_hits"] or {}
            out.append(
                f"  {d['id']:55} {d['severity']:8} open={d['open_alerts']:<3} "
                f"last hits {lh.get('hits', 0)} in window {lh.get('window_start', '-')}"
            )
    ac = st["alert_counts"]
    sev = ", ".join(f"{k} {v}" for k, v in ac["open_by_severity"].items())
    out += ["", f"alerts: {ac['open']} open of {ac['total']} ({sev or 'none open'})"]
    for a in st["alerts"]:
        refs = " ".join(f"{t['output']}:{t['state']}:{t['ref'] or '-'}" for t in a["tickets"])
        out.append(
            f"  {a['last_seen'][:19]} {a['severity']:8} {a['detection_id']:50} hits={a['hit_count']} {refs}"
        )
    runs = st.get("runs")
    out.append("")
    if runs is None:
        out.append(f"airflow runs: unavailable ({st.get('runs_error') or 'not read'})")
    else:
        out.append(f"airflow runs: latest {len(runs)}")
        for r in runs[:20]:
            m = " ".join(f"{k}={v}" for k, v in (r["metrics"] or {}).items())
            out.append(
                f"  {r['dag_id']:22} {r['state']:8} {(r['interval_start'] or '-')[:16]} "
                f"{_secs(r['seconds']):>6} {m}"
            )
    return "\n".join(out) + "\n"


def _secs(v: float | None) -> str:
    return "-" if v is None else f"{round(v)}s"


def _dash(v: Any) -> str:
    return "-" if v is None else str(v)


def _e(v: Any) -> str:
    """Escape anything for HTML text and attribute values (quotes included), after making control, format
    (bidi overrides and isolates, zero-width) and separator characters visible as in tickets: a log value
    could otherwise hide characters or reorder what an analyst reads, e.g. show an account id reversed."""
    return html.escape(visible("" if v is None else str(v)), quote=True)


def _table(headers: Iterable[str], rows: Iterable[Iterable[str]], cls: str) -> str:
    """Cells are pre-escaped HTML fragments; headers are constants."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{_e(cls)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:16px;color:#1a202c;font-size:14px}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:20px 0 6px} .muted{color:#718096}
table{border-collapse:collapse;width:100%;margin-bottom:8px} th,td{border-bottom:1px solid #e2e8f0;
padding:4px 8px;text-align:left;vertical-align:top;overflow-wrap:anywhere} th{background:#f7fafc;font-weight:600}
td.n{text-align:right;font-variant-numeric:tabular-nums} code{font-size:12px}
.sev{border-radius:4px;padding:1px 6px;font-size:12px;color:#fff;white-space:nowrap}
table.incidents th,table.incidents td:nth-child(-n+4){white-space:nowrap}
.sev-critical{background:#9b2c2c}.sev-high{background:#c05621}.sev-medium{background:#b7791f}
.sev-low{background:#2b6cb0}.sev-info{background:#4a5568}
.ok{color:#276749}.nodata{color:#718096;font-style:italic}.attention{color:#c05621;font-weight:600}.failed{color:#c53030;font-weight:600}
.chart{display:block;margin:4px 0 10px}.chart .ct{font-size:13px;font-weight:600}
.chart .cm{font-size:11px;fill:#4a5568}
form{margin:6px 0} form.search div{margin:4px 0} form.search label{margin-right:8px}
table.results td:nth-child(-n+5){white-space:nowrap}
pre.copy{background:#f7fafc;border:1px solid #e2e8f0;padding:6px;white-space:pre-wrap;overflow-wrap:anywhere}
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{border:1px solid #e2e8f0;border-radius:6px;padding:8px 12px}
.card b{font-size:18px;display:block}
"""


def render_html(st: dict[str, Any], json_href: str = "status.json") -> str:
    """A self-contained page (no scripts, inline CSS) for the Airflow UI iframe; every value is escaped."""
    ac = st["alert_counts"]
    dets = st["detections"]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>mamori</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>mamori — security monitoring</h1>",
        f"<div class='muted'>as of {_e(st['as_of'])} · engine {_e(st['engine'])} · lake {_e(st['lake_url'])}"
        f" · <a href='search' id='search-link'>search events</a> · <a href='scorecard' id='scorecard-link'>"
        f"scorecard</a> · <a href='{_e(json_href)}'>JSON</a></div>",
        "<div class='cards'>",
        f"<div class='card' id='open-alerts'><b>{ac['open']}</b>open alerts</div>",
        f"<div class='card'><b>{sum(d['enabled'] for d in dets)}</b>enabled detections</div>",
        f"<div class='card'><b>{sum(s['windows'] for s in st['sources'])}</b>ingest windows</div>",
        "</div>",
    ]
    parts += ["<h2>Incidents</h2>", _queue_form(st.get("queue") or {}, dets)]
    parts += [_incidents_html(st.get("incidents") or [], st.get("queue") or {})]
    parts += ["<h2>Recent alerts</h2>", _alerts_html(st["alerts"])]  # times in UTC
    parts += ["<div id='charts'><h2>Activity</h2>", _charts_html(st["charts"]), "</div>"]
    parts += ["<h2>Sources: freshness and data quality</h2>", _sources_html(st["sources"], st["quality"])]
    parts += [f"<h2>Detection catalog ({len(dets)})</h2>"]
    if st.get("catalog_error"):
        parts.append(f"<pre class='failed'>{_e(st['catalog_error'])}</pre>")
    parts += [_catalog_html(dets)]
    parts += ["<h2>Recent runs</h2>", _runs_html(st.get("runs"), st.get("runs_error")), "</body></html>"]
    return "".join(parts)


def _entities_text(entities: list[dict[str, Any]], limit: int = 4) -> str:
    shown = ", ".join(f"{e['kind']} {e['value']}" for e in entities[:limit])
    return shown + (f", +{len(entities) - limit} more" if len(entities) > limit else "")


def _queue_form(q: dict[str, Any], dets: list[dict[str, Any]]) -> str:
    """The queue's filter form (GET, so a filtered queue is a link): every value shown again escaped, the
    choices of the closed sets as selects, rules and sources suggested from the catalog."""
    from mamori.alerts.queue import MATCHES, SEVERITIES, STATES, VERDICTS

    form = q.get("form") or {}

    def select(name: str, label: str, choices: Iterable[str], blank: str | None) -> str:
        value = form.get(name, "")
        opts = [f"<option value=''>{_e(blank)}</option>"] if blank is not None else []
        opts += [
            f"<option value='{_e(c)}'{' selected' if c == value else ''}>{_e(c)}</option>" for c in choices
        ]
        return f"<label>{_e(label)} <select name='{_e(name)}'>{''.join(opts)}</select></label>"

    def text(name: str, label: str, hint: str, size: int = 16, listed: str = "") -> str:
        extra = f" list='{_e(listed)}'" if listed else ""
        return (
            f"<label>{_e(label)} <input type='text' name='{_e(name)}' size='{size}' "
            f"value='{_e(form.get(name, ''))}' placeholder='{_e(hint)}'{extra}></label>"
        )

    rules = "".join(f"<option value='{_e(d['id'])}'>" for d in dets)
    sources = "".join(f"<option value='{_e(v)}'>" for v in sorted({d["log_source"] for d in dets}))
    parts = [
        "<form class='search queue' method='get' action='./'><div>",
        select("severity", "severity", SEVERITIES, "any"),
        select("status", "status", (*STATES, *VERDICTS), "any"),
        text("source", "source", "log source", 12, "queue-sources"),
        text("rule", "rule", "rule id", 24, "queue-rules"),
        "</div><div>",
        text("entity", "entity", "principal, IP, account, key", 26),
        select("match", "match", MATCHES, None),
        text("from", "from", "2026-11-01", 18),
        text("to", "to", "2026-11-02T00:00Z", 18),
        " <button type='submit'>Filter</button> <a href='./'>clear</a></div>",
        f"<datalist id='queue-rules'>{rules}</datalist><datalist id='queue-sources'>{sources}</datalist>",
        "</form>",
    ]
    if q.get("error"):
        parts.append(f"<p class='failed' id='queue-error'>{_e(q['error'])}</p>")
    return "".join(parts)


def _queue_paging(q: dict[str, Any]) -> str:
    links = []
    if q.get("prev_href"):
        links.append(f"<a href='{_e(q['prev_href'])}' rel='prev'>&larr; previous</a>")
    if q.get("next_href"):
        links.append(f"<a href='{_e(q['next_href'])}' rel='next'>next &rarr;</a>")
    note = ""
    if q.get("filtered"):
        note = f"{q.get('matched', 0)} matching"
    if q.get("truncated"):
        note += " (only the most recent incidents were searched)"
    out = [f"<span class='muted'>{_e(note)}</span>"] if note else []
    out += links
    return f"<p class='paging'>{' · '.join(out)}</p>" if out else ""


def _incidents_html(rows: list[dict[str, Any]], q: dict[str, Any] | None = None) -> str:
    q = q or {}
    if not rows:
        if q.get("error"):
            return ""
        empty = "No incidents match these filters." if q.get("filtered") else "No incidents."
        return f"<p class='muted'>{empty}</p>" + _queue_paging(q)
    out = []
    for r in rows:
        out.append(
            [
                f"<a href='incidents/{_e(r['id'])}'><code>{_e(r['id'][:12])}</code></a>",
                _e(r["state"]),
                _sev(r["severity"]),
                f"<span class='n'>{r['alerts']}</span>",
                _e(_entities_text(r["entities"])),
                _e(
                    ", ".join(r["rules"][:4])
                    + (f", +{len(r['rules']) - 4} more" if len(r["rules"]) > 4 else "")
                ),
                _e(_t(r["last_seen"])),
            ]
        )
    return _table(
        ["incident", "state", "severity", "alerts", "shared entities", "rules", "last seen"], out, "incidents"
    ) + _queue_paging(q)


_SCORECARD_COLUMNS = [
    "rule", "recommendation", "alerts", "incidents", "open", "true positive", "benign true positive",
    "false positive", "precision", "last verdict", "reason",
]  # fmt: skip


def render_scorecard_html(rows: list[dict[str, Any]]) -> str:
    """The scorecard (`scorecard_rows`, as `mamori detections scorecard` prints it) as a read-only table,
    worst rule first. The last verdict's actor can come from a ticket system (`github:<login>`): escaped with
    everything else."""
    if not rows:
        body = "<p class='muted'>No verdicts yet: nothing was detected.</p>"
    else:

        def last(r: dict[str, Any]) -> str:
            if not r["last_verdict"]:
                return ""
            return f"{r['last_verdict']} by {r['last_verdict_by']}, {_t(r['last_verdict_at'])}"

        body = _table(
            _SCORECARD_COLUMNS,
            [
                [
                    f"<code>{_e(r['detection_id'])}</code>",
                    _e(r["recommendation"]),
                    *(
                        f"<span class='n'>{_e(r[k])}</span>"
                        for k in (
                            "alerts",
                            "incidents",
                            "open",
                            "true_positive",
                            "benign_true_positive",
                            "false_positive",
                        )
                    ),
                    _e("" if r["precision"] is None else f"{r['precision']:.2f}"),
                    _e(last(r)),
                    _e(r["reason"]),
                ]
                for r in rows
            ],
            "scorecard",
        )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>mamori scorecard</title>"
        f"<style>{_CSS}</style></head><body><p><a href='./'>&larr; mamori</a></p>"
        "<h1>Detection scorecard</h1><div class='muted'>Per rule, from the verdicts of closed incidents "
        "(as <code>mamori detections scorecard</code>); precision once a rule has "
        f"{_MIN_VERDICTS} judged alerts.</div>{body}</body></html>"
    )


def render_incident_html(page: dict[str, Any], csrf: str | None) -> str:
    """One incident: why its severity, what its alerts share, its alerts oldest first, its triage record, and
    (for a user allowed to act, `csrf` given) the triage forms. Every log-derived value and every note is
    escaped and made visible; the forms post back to this page's own routes."""
    head = (
        "<!doctype html><html><head><meta charset='utf-8'><title>mamori incident</title>"
        f"<style>{_CSS}</style></head><body><p><a href='../'>&larr; mamori</a></p>"
        f"<h1>Incident <code>{_e(page['id'])}</code> {_sev(page['severity'])} {_e(page['state'])}</h1>"
        f"<div class='muted'>{_e(page['reason'])} · first {_e(_t(page['first_seen']))} · last "
        f"{_e(_t(page['last_seen']))}</div>"
    )
    shared = _e(_entities_text(page["entities"], limit=20)) or "<span class='muted'>none</span>"
    members = _table(
        ["first seen", "severity", "rule", "tactics", "entities", "hits"],
        [
            [
                _e(_t(m["first_seen"])),
                _sev(m["severity"]),
                f"<code>{_e(m['detection_id'])}</code><br>{_e(m['title'])}",
                _e(", ".join(m["tactics"])),
                _e(_entities_text(m["entities"], limit=8)),
                f"<span class='n'>{m['hits']}</span>",
            ]
            for m in page["members"]
        ],
        "alerts",
    )
    actions = (
        _table(
            ["at", "who", "action", "note"],
            [
                [
                    _e(_t(a["at"])),
                    _e(a["actor"]),
                    _e(" ".join(x for x in (a["action"], a["verdict"]) if x)),
                    _e(a["note"] or ""),
                ]
                for a in page["actions"]
            ],
            "actions",
        )
        if page["actions"]
        else "<p class='muted'>No one has acted on it yet.</p>"
    )
    forms = (
        _triage_forms(page, csrf)
        if csrf
        else "<p class='muted'>Read only: acting needs edit access to the mamori DAGs.</p>"
    )
    return "".join(
        [
            head,
            f"<h2>Shared entities</h2><p>{shared}</p>",
            _pivot_links(page),
            "<h2>Alerts</h2>",
            members,
            "<h2>Triage</h2>",
            forms,
            "<h2>Record</h2>",
            actions,
            "</body></html>",
        ]
    )


def _triage_forms(page: dict[str, Any], csrf: str) -> str:
    from mamori.alerts.triage import VERDICTS

    token = f"<input type='hidden' name='csrf' value='{_e(csrf)}'>"
    note = "<input name='note' maxlength='2000' placeholder='note (optional)' size='40'>"
    base = _e(page["id"])
    parts = []
    if page["status"] != "closed":
        if page["status"] != "acknowledged":
            parts.append(
                f"<form method='post' action='{base}/acknowledge'>{token}{note} "
                "<button type='submit'>Acknowledge</button></form>"
            )
        options = "".join(f"<option value='{_e(v)}'>{_e(v)}</option>" for v in VERDICTS)
        parts.append(
            f"<form method='post' action='{base}/close'>{token}<select name='verdict'>{options}</select> {note} "
            "<button type='submit'>Close</button></form>"
        )
    else:
        parts.append(
            f"<form method='post' action='{base}/reopen'>{token}{note} <button type='submit'>Reopen</button></form>"
        )
    return "".join(parts)


def _charts_html(c: dict[str, Any]) -> str:
    hours = [_t(h)[5:] for h in c["hours"]]  # "MM-DD HH:MMZ": the year adds nothing on a 48-hour axis
    days = [d[:10] for d in c["days"]]
    return "".join(
        [
            stacked_bars(
                f"Rows written per hour, by source (last {CHART_HOURS} hours of data)",
                hours,
                [Series(k, v) for k, v in c["rows_per_hour"].items()],
            ),
            stacked_bars(
                "Records quarantined per hour, by source",
                hours,
                [Series(k, v) for k, v in c["quarantined_per_hour"].items()],
            ),
            stacked_bars(
                f"New alerts per day, by severity (last {CHART_DAYS} days with alerts)",
                days,
                [Series(k, v) for k, v in c["alerts_per_day"].items()],
                SEVERITY_COLOURS,
            ),
        ]
    )


def _t(iso: str) -> str:
    """A compact UTC timestamp for tables (values are ISO strings in UTC throughout mamori)."""
    return iso[:16].replace("T", " ") + "Z" if len(iso) >= 16 and iso[10:11] == "T" else iso


def _sev(sev: str) -> str:
    cls = sev if sev in SEVERITY_ORDER else "info"
    return f"<span class='sev sev-{cls}'>{_e(sev)}</span>"


def _link(url: str | None, text: str) -> str:
    if url and safe_url(url):
        return f"<a href='{_e(url)}' target='_blank' rel='noopener noreferrer'>{_e(text)}</a>"
    return _e(text)


def _alerts_html(alerts: list[dict[str, Any]]) -> str:
    if not alerts:
        return "<p class='muted'>No alerts in the ledger.</p>"
    rows = []
    for a in alerts:
        tickets = "<br>".join(
            f"{_e(t['output'])}: "
            + (
                f"<a href='{_e(t['page'])}'>{_e(t['ref'])}</a>"
                if t.get("page")
                else (_link(t["url"], t["ref"]) if t["ref"] else "")
            )
            + (f" <span class='failed'>{_e(t['state'])}</span>" if t["state"] != "delivered" else "")
            for t in a["tickets"]
        )
        dedup = ", ".join(f"{k}={v}" for k, v in sorted(a["dedup"].items()))
        rows.append(
            [
                _e(_t(a["last_seen"])),
                _sev(a["severity"]),
                f"<code>{_e(a['detection_id'])}</code><br>{_e(a['title'])}",
                _e(dedup),
                f"<span class='n'>{_e(a['hit_count'])}</span>",
                _e(a["status"]),
                tickets or "<span class='muted'>not dispatched yet</span>",
            ]
        )
    return _table(
        ["last seen", "severity", "detection", "entity", "hits", "status", "tickets"], rows, "alerts"
    )


def _quality_cells(q: dict[str, Any] | None) -> tuple[str, str]:
    """(expectations, freshness) cells; each failed check names its action and unexpected rows."""
    if not q:
        return "-", "-"
    exp = f"{q['passed']}/{q['evaluated']} · batches {q['passed_batches']}/{q['batches']}"
    if q["quarantined_rows"]:
        exp += f" · {q['quarantined_rows']} rows quarantined"
    for check, f in sorted((q.get("failed") or {}).items()):
        exp += (
            f"<br><span class='attention'>{_e(check)}</span> ({_e(f['action'])}, {_e(f['unexpected'])} rows)"
        )
    fresh = ", ".join(
        f"<span class='{'attention' if st in STALE_STATES else ''}'>{_e(st)} {n}</span>"
        for st, n in q["freshness"].items()
    )
    return exp, fresh or "-"


# The CSS class of each source state (a class name cannot hold the space in "no data").
_DQ_CLASS = {"ok": "ok", "attention": "attention", "no data": "nodata"}


def _sources_html(sources: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    rows = []
    for s in sources:
        lw, t = s["last_window"], s["totals"]
        exp, fresh = _quality_cells(s.get("quality"))
        rows.append(
            [
                f"<code>{_e(s['source'])}</code>",
                _e(_t(lw["window_end"]) if lw else "never"),
                f"<span class='n'>{_e(_dash(s['age_minutes']))}</span>",
                f"<span class='n'>{s['windows']}</span>",
                f"<span class='n'>{t['objects']}</span>",
                f"<span class='n'>{t['rows_out']}</span>",
                f"<span class='n'>{t['quarantined']}</span>",
                f"<span class='n'>{s['unclaimed']}</span>",
                exp,
                fresh,
                f"<span class='{_e(_DQ_CLASS[s['dq']])}'>{_e(s['dq'])}</span>",
            ]
        )
    at = _e(meta.get("freshness_at") or "-")
    note = f"<div class='muted'>freshness: streams by state for the window ending {at}"
    if meta.get("freshness_error"):
        note += f"; <span class='failed'>unavailable: {_e(meta['freshness_error'])}</span>"
    return (
        _table(
            [
                "source",
                "last finalized window end",
                "age (min)",
                "windows",
                "objects",
                "rows",
                "quarantined",
                "unclaimed keys",
                "expectations passed",
                "freshness",
                "status",
            ],
            rows,
            "sources",
        )
        + note
        + "</div>"
    )


def _runs_html(runs: list[dict[str, Any]] | None, error: str | None) -> str:
    if runs is None:
        return f"<p class='muted'>Airflow run history unavailable: {_e(error or 'not read')}</p>"
    if not runs:
        return "<p class='muted'>No runs yet.</p>"
    rows = []
    for r in runs[:30]:
        m = ", ".join(f"{k} {v}" for k, v in (r["metrics"] or {}).items())
        state_cls = "failed" if r["state"] == "failed" else ""
        rows.append(
            [
                f"<code>{_e(r['dag_id'])}</code>",
                f"<span class='{state_cls}'>{_e(r['state'])}</span>",
                _e(r["run_type"]),
                _e(f"{(r['interval_start'] or '-')[:16]} → {(r['interval_end'] or '-')[11:16]}"),
                f"<span class='n'>{_e(_secs(r['seconds']))}</span>",
                _e(m),
            ]
        )
    return _table(["dag", "state", "type", "data interval", "seconds", "metrics"], rows, "runs")


def _catalog_html(dets: list[dict[str, Any]]) -> str:
    order = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    rows = []
    for d in sorted(dets, key=lambda d: (order.get(d["severity"], 9), d["id"])):
        lh, lr = d["last_hits"], d["last_run"]
        rows.append(
            [
                f"<code>{_e(d['id'])}</code>",
                _sev(d["severity"]),
                _e(d["status"]),
                _e(d["log_source"]),
                _e(", ".join(d["mitre"])),
                _e(_t(lr["window_end"]) if lr else "-"),
                _e(f"{lh['hits']} in {_t(lh['window_start'])}" if lh else "-"),
                f"<span class='n'>{d['open_alerts']}</span>",
            ]
        )
    return _table(
        ["id", "severity", "status", "source", "MITRE", "last run (window end)", "last hits", "open alerts"],
        rows,
        "catalog",
    )


def status_json(st: dict[str, Any]) -> str:
    """The status as JSON (`mamori status --json`, the view's status.json): exact values for machines, with
    every non-ASCII character as a \\u escape, so no raw bidi or control character reaches a browser or a
    terminal showing it."""
    return json.dumps(st, indent=2, sort_keys=True, default=str, ensure_ascii=True)


# -- the search page ---------------------------------------------------------------------------------------
# The view's search: `mamori search` (mamori.search.events) behind a GET form. Read only (DuckDB views over the
# lake, or Athena under the same byte budget as the command line), always time-bounded, and bounded in what
# one request may cost: a range of at most SEARCH_MAX_RANGE, at most SEARCH_VALUES values per filter, and
# SEARCH_PAGE_ROWS rows a page over at most SEARCH_MAX_PAGES pages (a page reads the rows before it too: the
# search streams in time order and stops at the limit). Every value is bound as a literal by the search module,
# never spliced; every cell is escaped and made visible. A longer range is not run: the page shows the Athena
# SQL and the command line for the same filters, to copy.
SEARCH_PAGE_ROWS = 100
SEARCH_MAX_PAGES = 10
SEARCH_VALUES = 5
SEARCH_MAX_RANGE = 7 * DAY
SEARCH_DEFAULT_LAST = "24h"
# Query parameter → `mamori search` option; repeated parameters OR their values, as repeated options do.
SEARCH_FILTERS = {
    "ip": "--ip",
    "principal": "--principal",
    "account": "--account",
    "event_name": "--event-name",
    "contains": "--contains",
    "source": "--source",
}
SEARCH_PARAMS = ("from", "to", "last", *SEARCH_FILTERS, "order", "page")
# Which search filter an incident's entity pivots to (the kinds the search form has a filter for).
PIVOT_FILTER = {"principal": "principal", "ip": "ip", "account": "account"}
PIVOT_MARGIN = HOUR


def search_page(
    query: dict[str, list[str]], now: datetime, settings: Settings | None = None
) -> dict[str, Any]:
    """Run the view's search form: `query` maps SEARCH_PARAMS to their values as the request gave them (a
    missing parameter is absent or empty). Nothing runs until the form was submitted (any parameter present).
    Returns the form's values to show again, the rows of the requested page (values as text), whether there
    is a next page, the SQL and command line for copying, or the one-line reason it did not run."""
    from mamori.search.events import Filters, parse_contains, plan, run_search
    from mamori.search.execute import QueryError, Refused, configured_budget
    from mamori.search.timerange import resolve_range

    def one(name: str) -> str:
        return next((v.strip() for v in query.get(name, []) if v.strip()), "")

    form: dict[str, Any] = {
        "from": one("from"),
        "to": one("to"),
        "last": one("last"),
        **{k: [v for v in query.get(k, []) if v.strip()] for k in SEARCH_FILTERS},
        "order": "asc" if one("order") == "asc" else "desc",
    }
    submitted = any(name in query for name in SEARCH_PARAMS)
    out: dict[str, Any] = {
        "form": form,
        "ran": False,
        "error": None,
        "range": None,
        "rows": [],
        "page": 0,
        "more": False,
        "sql": None,
        "command": None,
        "stats": None,
        "sources": sorted(s.table for s in SOURCES.values()),
    }
    if not submitted:
        return out
    s = settings or load_settings()
    try:
        too_many = [k for k in SEARCH_FILTERS if len(form[k]) > SEARCH_VALUES]
        if too_many:
            raise ValueError(f"at most {SEARCH_VALUES} values per filter ({', '.join(too_many)})")
        page_text = one("page") or "0"
        if not page_text.isdigit() or int(page_text) >= SEARCH_MAX_PAGES:
            raise ValueError(f"page must be a number below {SEARCH_MAX_PAGES}")
        page = out["page"] = int(page_text)
        # Neither a start nor a duration: the last 24 h (to `to` when given), as `mamori search` on DuckDB.
        last = form["last"] or (None if form["from"] else SEARCH_DEFAULT_LAST)
        rng = resolve_range(form["from"] or None, form["to"] or None, last, now)
        assert rng is not None  # `last` is set whenever `from` is not
        filters = Filters(
            ips=tuple(form["ip"]),
            principals=tuple(form["principal"]),
            accounts=tuple(form["account"]),
            event_names=tuple(form["event_name"]),
            contains=parse_contains(form["contains"]),
            sources=tuple(form["source"]),
        )
        p = plan(filters)  # validates every value (SearchError) before anything is read
        out["range"] = str(rng)
        out["sql"] = p.sql(rng, p.tables, form["order"], None)
        out["command"] = _search_command(form, rng)
        if rng.end - rng.start > SEARCH_MAX_RANGE:
            raise ValueError(
                f"the view searches at most {SEARCH_MAX_RANGE.days} days; run the command or the SQL below "
                "for a longer range"
            )
        shown = SEARCH_PAGE_ROWS * (page + 1)
        results = run_search(
            s, filters, rng, order=form["order"], limit=shown + 1, budget=configured_budget()
        )
        rows: list[dict[str, Any]] = []
        for batch in results.batches:
            rows.extend(batch.to_pylist())
        out["ran"] = True
        out["more"] = len(rows) > shown and page + 1 < SEARCH_MAX_PAGES
        out["rows"] = [_search_row(r) for r in rows[shown - SEARCH_PAGE_ROWS : shown]]
        st = results.stats
        out["stats"] = {
            "files": st.files,
            "partitions": st.partitions,
            "seconds": round(st.seconds, 3),
        }
    except (ValueError, Refused, QueryError) as exc:  # SearchError, RangeError, ParamError are ValueErrors
        out["error"] = str(exc)
    return out


def _search_row(r: dict[str, Any]) -> dict[str, str]:
    t = r.get("event_time")
    when = t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z" if isinstance(t, datetime) else str(t or "")
    return {k: when if k == "event_time" else ("" if r.get(k) is None else str(r[k])) for k in r}


def _search_command(form: dict[str, Any], rng: Any) -> str:
    """The same search as a command line (each value shell-quoted): a range the view refuses, or an export."""
    import shlex

    args = ["mamori", "search", "--from", rng.start.isoformat(), "--to", rng.end.isoformat()]
    for name, option in SEARCH_FILTERS.items():
        for v in form[name]:
            args += [option, v]
    if form["order"] == "desc":
        args.append("--desc")
    return " ".join(shlex.quote(a) for a in args)


def search_href(params: Iterable[tuple[str, str]], base: str = "search") -> str:
    """A link to the search page with these parameters, every value percent-encoded (never raw in a URL)."""
    from urllib.parse import urlencode

    return f"{base}?{urlencode(list(params))}"


def _pivot_links(page: dict[str, Any]) -> str:
    """From each of an incident's shared entities that the search form can filter on, a link to its events
    from an hour before the incident's first alert to an hour after its last (incident page → search)."""
    from mamori.search.timerange import parse_time

    try:
        start = (parse_time(page["first_seen"]) - PIVOT_MARGIN).isoformat()
        end = (parse_time(page["last_seen"]) + PIVOT_MARGIN).isoformat()
    except ValueError:
        return ""
    links = []
    for e in page["entities"]:
        name = PIVOT_FILTER.get(e["kind"])
        if name is None:
            continue
        href = search_href([("from", start), ("to", end), (name, e["value"])], base="../search")
        links.append(f"<a class='pivot' href='{_e(href)}'>search {_e(e['kind'])} {_e(e['value'])}</a>")
    return "<p>" + " · ".join(links) + "</p>" if links else ""


_SEARCH_COLUMNS = ("event_time", "source", "account", "region", "event_name", "principal", "ips", "detail")


def render_search_html(page: dict[str, Any]) -> str:
    """The search form (GET, posting back to itself), the page of results as escaped text, paging links,
    and the SQL and command line to copy. Nothing from a result or a request becomes markup."""
    f = page["form"]

    def text(name: str, label: str, value: str, hint: str, size: int = 22) -> str:
        return (
            f"<label>{_e(label)} <input name='{_e(name)}' value='{_e(value)}' placeholder='{_e(hint)}' "
            f"size='{size}' maxlength='4096'></label> "
        )

    def first(name: str) -> str:
        return str(f[name][0]) if f[name] else ""

    sources = "".join(
        f"<option value='{_e(t)}'{' selected' if first('source') == t else ''}>{_e(t)}</option>"
        for t in page["sources"]
    )
    order = "".join(
        f"<option value='{v}'{' selected' if f['order'] == v else ''}>{label}</option>"
        for v, label in (("desc", "newest first"), ("asc", "oldest first"))
    )
    form = (
        "<form method='get' action='search' class='search'>"
        "<div>"
        + text("from", "from", f["from"], "2026-11-01T02:00Z", 28)
        + text("to", "to", f["to"], "now", 28)
        + text("last", "or last", f["last"], SEARCH_DEFAULT_LAST, 8)
        + "</div><div>"
        + text("ip", "IP", first("ip"), "203.0.113.7")
        + text("principal", "principal", first("principal"), "arn:aws:iam::…:user/…")
        + text("account", "account", first("account"), "123456789012")
        + "</div><div>"
        + text("event_name", "event name", first("event_name"), "ConsoleLogin")
        + text("contains", "field contains", first("contains"), "useragent=sqlmap")
        + f"<label>source <select name='source'><option value=''>all</option>{sources}</select></label> "
        + f"<label>order <select name='order'>{order}</select></label> "
        + "<button type='submit'>Search</button></div></form>"
    )
    # Extra values of a filter (a repeated parameter from a link) ride along as hidden fields.
    extra = "".join(
        f"<input type='hidden' name='{_e(k)}' value='{_e(v)}'>" for k in SEARCH_FILTERS for v in f[k][1:]
    )
    form = form.replace("</form>", extra + "</form>")
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>mamori search</title>",
        f"<style>{_CSS}</style></head><body><p><a href='./'>&larr; mamori</a></p>",
        "<h1>Search events</h1>",
        "<div class='muted'>Every source's events through the common columns (as <code>mamori search</code>): "
        "values of one filter OR, filters AND; at most "
        f"{SEARCH_MAX_RANGE.days} days, {SEARCH_PAGE_ROWS} rows a page, {SEARCH_MAX_PAGES} pages.</div>",
        form,
    ]
    if page["error"]:
        parts.append(f"<p class='failed' id='search-error'>{_e(page['error'])}</p>")
    if page["ran"]:
        st = page["stats"] or {}
        first_row = page["page"] * SEARCH_PAGE_ROWS + 1
        count = (
            f"rows {first_row}–{first_row + len(page['rows']) - 1}" if page["rows"] else "no matching events"
        )
        parts.append(
            f"<p class='muted' id='search-summary'>{_e(page['range'])} · {count} · {st.get('files', 0)} files "
            f"in {st.get('partitions', 0)} partitions · {st.get('seconds', 0)} s</p>"
        )
        if page["rows"]:
            parts.append(
                _table(
                    _SEARCH_COLUMNS,
                    [[_e(r.get(c, "")) for c in _SEARCH_COLUMNS] for r in page["rows"]],
                    "results",
                )
            )
        parts.append(_search_paging(page))
    if page["sql"]:
        parts += [
            "<h2>The same search elsewhere</h2>",
            "<div class='muted'>Athena SQL over the same range (values bound as literals):</div>",
            f"<pre class='copy' id='search-sql'>{_e(page['sql'])}</pre>",
            "<div class='muted'>Command line (exports: add <code>--format csv --out FILE</code>):</div>",
            f"<pre class='copy' id='search-command'>{_e(page['command'])}</pre>",
        ]
    parts.append("</body></html>")
    return "".join(parts)


def _search_paging(page: dict[str, Any]) -> str:
    f = page["form"]
    base: list[tuple[str, str]] = [(k, f[k]) for k in ("from", "to", "last", "order") if f[k]]
    base += [(k, v) for k in SEARCH_FILTERS for v in f[k]]
    links = []
    if page["page"] > 0:
        href = search_href([*base, ("page", str(page["page"] - 1))])
        links.append(f"<a href='{_e(href)}' rel='prev'>&larr; previous</a>")
    if page["more"]:
        href = search_href([*base, ("page", str(page["page"] + 1))])
        links.append(f"<a href='{_e(href)}' rel='next'>next &rarr;</a>")
    return f"<p class='paging'>{' · '.join(links)}</p>" if links else ""
