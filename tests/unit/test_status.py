"""mamori.status: what the status command and the Airflow UI view show, and that hostile values stay inert."""

from __future__ import annotations

import dataclasses
import html
import json
import shutil
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from mamori import status
from mamori.alerts import render
from mamori.alerts.ledger import Ledger
from mamori.detections.dedup import group_hits
from mamori.detections.loader import get_detection, load_catalog
from mamori.lake import Store
from mamori.windows import window_tag

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 1, 10, tzinfo=UTC)
NOW = T0 + timedelta(hours=3)
EVIL = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


# A window's data-quality tally as ingest writes it (mamori.quality.validate's BatchQuality.summary()).
DQ = {
    "batches": 1,
    "passed_batches": 0,
    "evaluated": 10,
    "passed": 9,
    "quarantined_rows": 1,
    "failed": {"regex:awsregion": {"action": "flag", "batches": 1, "unexpected": 1}},
}


def _finalized(settings, source: str, start: datetime, **totals) -> dict:
    """A window summary exactly where ingest.finalize_window puts it."""
    summary = {
        "source": source,
        "window_start": start.isoformat(),
        "window_end": (start + timedelta(hours=1)).isoformat(),
        "batches": 1,
        "unclaimed": totals.pop("unclaimed_keys", 0) * ["AWSLogs/x"],
        **{
            "objects": 3,
            "records_in": 10,
            "rows_out": 10,
            "quarantined": 0,
            "skipped_objects": 0,
            "files": 2,
        },
        **totals,
    }
    lake = Store(settings.lake_url)
    lake.write_atomic(f"_manifests/{source}/window={window_tag(start)}/_SUCCESS.json", orjson.dumps(summary))
    return summary


def _hit(minute: int, actor: str) -> dict:
    return {
        "event_time": T0 + timedelta(minutes=minute),
        "account_id": "111111111111",
        "actor": actor,
        "source_ip": "198.51.100.23",
        "event_name": "ConsoleLogin",
    }


@pytest.fixture
def populated(settings):
    _finalized(settings, "cloudtrail", T0)
    _finalized(
        settings,
        "cloudtrail",
        T0 + timedelta(hours=1),
        records_in=12,
        rows_out=11,
        quarantined=1,
        dq=DQ,
        streams={"111111111111/eu-west-1": {"objects": 3, "records": 12}},
    )
    _finalized(settings, "vpcflow", T0, unclaimed_keys=2)
    det = get_detection(settings.sql_dir, "cloudtrail_console_login_brute_force")
    ledger = Ledger(settings.ledger_url)
    fired = ledger.record_window(
        det, T0, T0 + timedelta(hours=1), group_hits(det, [_hit(m, EVIL) for m in range(1, 7)])
    )
    assert len(fired) == 1
    ledger.ensure_delivery(fired[0], "github")
    ledger.ensure_delivery(fired[0], "local")
    ledger.mark_delivered(fired[0], "github", "https://github.example/acme/sec/issues/7", 6)
    ledger.mark_delivered(fired[0], "local", "javascript:alert(3)", 6)
    return settings, det, fired[0]


RUNS = [
    {
        "dag_id": "detect",
        "run_id": "scheduled__2",
        "run_type": "scheduled",
        "state": "success",
        "interval_start": (T0 + timedelta(hours=1)).isoformat(),
        "interval_end": (T0 + timedelta(hours=2)).isoformat(),
        "started": None,
        "ended": None,
        "seconds": 12.5,
        "metrics": {"detections": 70, "hits": 6, "alerts": 1},
    },
    {
        "dag_id": "detect",
        "run_id": "scheduled__3",
        "run_type": "scheduled",
        "state": "running",
        "interval_start": (T0 + timedelta(hours=2)).isoformat(),
        "interval_end": (T0 + timedelta(hours=3)).isoformat(),
        "started": None,
        "ended": None,
        "seconds": None,
        "metrics": None,
    },
]


def test_collect_reports_catalog_alerts_sources_and_runs(populated):
    settings, det, key = populated
    st = status.collect(NOW, settings, runs=RUNS)

    catalog = {d["id"]: d for d in st["detections"]}
    assert set(catalog) == {d.id for d in load_catalog(settings.sql_dir)}
    brute = catalog[det.id]
    assert brute["severity"] == det.header.severity and brute["mitre"] == det.header.mitre
    assert brute["last_hits"] == {
        "window_start": T0.isoformat(),
        "window_end": (T0 + timedelta(hours=1)).isoformat(),
        "hits": 6,
    }
    assert brute["open_alerts"] == 1
    # The last *successful* detect run, shifted back by the detection lag (60 min).
    assert brute["last_run"]["window_start"] == T0.isoformat()
    deprecated = [d for d in st["detections"] if not d["enabled"]]
    assert all(d["last_run"] is None for d in deprecated)

    (alert,) = st["alerts"]
    assert alert["key"] == key and alert["dedup"]["actor"] == EVIL and alert["hit_count"] == 6
    tickets = {t["output"]: t for t in alert["tickets"]}
    assert tickets["github"]["url"] == "https://github.example/acme/sec/issues/7"
    assert tickets["local"]["url"] is None  # not an http(s) URL: shown as text, never a link
    assert st["alert_counts"] == {"open": 1, "total": 1, "open_by_severity": {det.header.severity: 1}}

    src = {s["source"]: s for s in st["sources"]}
    ct = src["cloudtrail"]
    assert ct["windows"] == 2 and ct["totals"]["records_in"] == 22 and ct["totals"]["quarantined"] == 1
    assert ct["last_window"]["window_end"] == (T0 + timedelta(hours=2)).isoformat()
    assert ct["age_minutes"] == 60 and ct["dq"] == "attention"
    assert [w["window_start"] for w in ct["recent"]] == [
        (T0 + timedelta(hours=1)).isoformat(),
        T0.isoformat(),
    ]
    assert src["vpcflow"]["unclaimed"] == 2 and src["vpcflow"]["dq"] == "attention"
    assert (
        src["alb"]["windows"] == 0 and src["alb"]["last_window"] is None and src["alb"]["age_minutes"] is None
    )
    # mamori.quality's results: GX tallies from the window summaries, freshness at the lake's latest window.
    q = ct["quality"]
    assert (q["passed"], q["evaluated"], q["batches"], q["passed_batches"]) == (9, 10, 1, 0)
    assert q["failed"] == DQ["failed"]
    assert sum(q["freshness"].values()) == 1  # one stream, judged by the health rules
    assert src["alb"]["quality"]["freshness"] == {
        "unknown": 1
    }  # its window is not finalized: unknown, not silent
    assert st["quality"] == {"freshness_at": (T0 + timedelta(hours=2)).isoformat(), "freshness_error": None}
    json.dumps(st)  # JSON-able as is: the view's status.json and `mamori status --json`


def test_collect_is_a_pure_read(settings):
    """A fresh home: no ledger file is created, nothing is written, and the answer only depends on `now`."""
    a = status.collect(NOW, settings)
    assert a == status.collect(NOW, settings)
    assert not (settings.home / "ledger.db").exists()
    assert a["alerts"] == [] and all(s["windows"] == 0 for s in a["sources"])
    assert all(d["last_run"] is None and d["last_hits"] is None for d in a["detections"])


def test_a_broken_rule_does_not_blank_the_page(settings, tmp_path):
    sql = tmp_path / "sql"
    shutil.copytree(REPO / "sql", sql)
    (sql / "detections" / "cloudtrail" / "broken.sql").write_text("SELECT 1")
    st = status.collect(NOW, dataclasses.replace(settings, sql_dir=sql))
    ids = {d["id"] for d in st["detections"]}
    assert "cloudtrail_root_activity" in ids and len(ids) >= 70  # the others are still listed
    assert "broken.sql:1: must start with a /* YAML header */ block" in st["catalog_error"]
    assert "broken.sql" in status.render_html(st)


def test_html_escapes_every_attacker_value(populated):
    settings, _, _ = populated
    page = status.render_html(status.collect(NOW, settings, runs=RUNS))
    assert "<script" not in page and "<img" not in page
    assert html.escape(EVIL, quote=True) in page
    assert "javascript:alert(3)" in page  # shown as text...
    assert not any(
        chunk.startswith(("'javascript", '"javascript')) for chunk in page.split("href=")
    )  # ...not linked
    assert "href='https://github.example/acme/sec/issues/7'" in page
    assert '<table class="catalog">' in page and '<table class="alerts">' in page
    assert "regex:awsregion</span> (flag, 1 rows)" in page and "9/10" in page


def test_safe_url():
    assert status.safe_url("https://github.com/a/b/issues/1")
    assert status.safe_url("http://127.0.0.1:8080/x")
    for bad in ("javascript:alert(1)", "data:text/html,x", "file:///etc/passwd", "//evil", "", None, 3):
        assert not status.safe_url(bad)


def test_text_rendering_and_runs_metrics(populated):
    settings, det, _ = populated
    text = status.render_text(status.collect(NOW, settings, runs=RUNS))
    assert "cloudtrail" in text and det.id in text and "detections=70" in text
    assert "expectations 9/10" in text and "regex:awsregion (flag, 1 rows)" in text
    assert status._metrics({"detections": 3, "hits": 4, "alerts": ["a", "b"], "noise": "x"}) == {
        "detections": 3,
        "hits": 4,
        "alerts": 2,
    }
    assert status._metrics("not a dict") is None


def test_status_command(populated, capsys):
    from mamori.cli import main

    assert main(["status", "--no-runs"]) == 0
    out = capsys.readouterr().out
    assert "alerts: 1 open of 1" in out and "airflow runs: unavailable (skipped (--no-runs))" in out
    assert main(["status", "--json", "--no-runs"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["alert_counts"]["open"] == 1 and st["runs"] is None


def test_airflow_runs_reads_the_metadata_db(airflow_db):
    """Against the test session's (empty) Airflow DB: the query itself is valid for this Airflow version."""
    runs, error = status.safe_airflow_runs()
    assert error is None and runs == []


_PLUGIN_PROBE = r"""
import importlib.util, json, os, sys
import airflow.plugins_manager as pm  # Airflow's own startup I/O is not the plugin's doing
before = set(sys.modules)
events = []
def hook(event, args):
    if event in ("open", "os.listdir", "os.scandir"):
        path = str(args[0]) if args and args[0] is not None else "."
        if not (path.endswith((".py", ".pyc", ".so")) or "site-packages" in path or "__pycache__" in path):
            events.append([event, path])
    elif event in ("socket.connect", "socket.getaddrinfo", "sqlite3.connect", "subprocess.Popen"):
        events.append([event, str(args[:1])])
sys.addaudithook(hook)
spec = importlib.util.spec_from_file_location("mamori_plugin", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
new = sorted(m for m in set(sys.modules) - before if m.split(".")[0] in ("fastapi", "mamori", "starlette"))
plugin = mod.MamoriPlugin
print("OUT=" + json.dumps({
    "events": events,
    "new_modules": new,
    "valid": pm.is_valid_plugin(plugin),
    "views": plugin.external_views,
    "prefix": plugin.fastapi_apps[0]["url_prefix"],
}))
"""


def test_plugin_import_is_light_and_registers_a_nav_view():
    """Airflow imports plugin files in every component: no I/O, no FastAPI/mamori import until a request."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", _PLUGIN_PROBE, str(REPO / "plugins" / "mamori_plugin.py")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.split("OUT=", 1)[1])
    assert out["events"] == [] and out["new_modules"] == []
    assert out["valid"] and out["prefix"] == "/mamori"
    assert out["views"] == [
        {"name": "mamori", "href": "/mamori/", "destination": "nav", "url_route": "mamori"}
    ]


# Bidi embeddings/overrides/isolates, zero-width characters, C0 and C1 controls, separators: each can hide or
# reorder what an analyst reads (a reversed account id, an invisible character in a user name, a terminal
# escape). They must reach the page only as visible escapes, wherever a log value can land.
INVISIBLE = (
    "a\u202eb\u202a\u202b\u202c\u202d \u2066c\u2067d\u2068e\u2069 f\u200bg\ufeffh"
    " \x00\x07\x1b[31m\x7f \x85\x9b i\u2028j"
)
HIDDEN_CATEGORIES = {"Cc", "Cf", "Zl", "Zp"}


def _hidden(text: str) -> list[str]:
    """Control, format and separator characters in `text` (newline and tab are ordinary whitespace)."""
    return sorted(
        {f"U+{ord(c):04X}" for c in text if unicodedata.category(c) in HIDDEN_CATEGORIES and c not in "\n\t"}
    )


def test_view_shows_invisible_and_control_characters_as_visible_escapes(settings):
    """Hostile characters in an alert's title, entities, samples and ticket reference: none reaches the HTML
    raw (nor as a character reference); the JSON carries the exact values, escaped, never as raw bytes."""
    det = get_detection(settings.sql_dir, "cloudtrail_console_login_brute_force")
    hostile = dataclasses.replace(det, header=det.header.model_copy(update={"title": "Brute " + INVISIBLE}))
    hits = [
        {**_hit(m, "root" + INVISIBLE), "source_ip": INVISIBLE, "event_name": INVISIBLE, INVISIBLE: 1}
        for m in range(1, 7)
    ]
    ledger = Ledger(settings.ledger_url)
    (key,) = ledger.record_window(hostile, T0, T0 + timedelta(hours=1), group_hits(hostile, hits))
    ledger.ensure_delivery(key, "github")
    ledger.ensure_delivery(key, "local")
    ledger.mark_delivered(key, "github", "https://github.example/acme/sec/issues/7" + INVISIBLE, 6)
    ledger.mark_failed(key, "local", "OSError: " + INVISIBLE, T0)

    st = status.collect(NOW, settings, runs=RUNS)
    (alert,) = st["alerts"]
    assert alert["title"] == "Brute " + INVISIBLE and alert["dedup"]["actor"] == "root" + INVISIBLE

    page = status.render_html(st)
    assert _hidden(page) == [] and _hidden(html.unescape(page)) == []
    assert render.visible("root" + INVISIBLE) in html.unescape(page)  # the entity, shown with its escapes
    assert "Brute a\\u202eb" in page and "\\u2066c\\u2067d\\u2068e\\u2069" in page

    body = status.status_json(st)
    assert _hidden(body) == []
    assert json.loads(body)["alerts"][0]["dedup"]["actor"] == "root" + INVISIBLE  # exact data for machines


def test_a_source_that_never_ingested_is_not_ok(populated):
    """A source with no window, or with windows that read no object, has no evidence of health: the view
    must say 'no data', not a green 'ok' (an unconfigured or broken delivery would otherwise look fine)."""
    settings, _, _ = populated
    _finalized(settings, "alb", T0, objects=0, records_in=0, rows_out=0, files=0, streams={})
    src = {s["source"]: s for s in status.collect(NOW, settings, runs=RUNS)["sources"]}
    assert src["alb"]["windows"] == 1 and src["alb"]["totals"]["objects"] == 0
    assert src["alb"]["dq"] == "no data"
    assert src["s3access"]["windows"] == 0 and src["s3access"]["dq"] == "no data"
    assert src["cloudtrail"]["dq"] == "attention"  # unchanged for sources with data
    page = status.render_html(status.collect(NOW, settings, runs=RUNS))
    assert "<span class='nodata'>no data</span>" in page


def test_charts_count_rows_quarantine_and_alerts_over_the_latest_data(populated):
    """Charts are drawn over the lake's latest hours (not the wall clock, so a replayed lake still draws):
    rows and quarantined records per source and hour from the window summaries, new alerts per day and
    severity from the ledger; the page carries them as inline SVG."""
    settings, det, _ = populated
    st = status.collect(NOW, settings, runs=RUNS)
    c = st["charts"]
    assert len(c["hours"]) == status.CHART_HOURS and c["hours"][-1] == (T0 + timedelta(hours=1)).isoformat()
    assert c["rows_per_hour"]["cloudtrail"][-2:] == [10, 11]
    assert c["quarantined_per_hour"]["cloudtrail"][-2:] == [0, 1]
    assert c["rows_per_hour"]["vpcflow"][-2:] == [10, 0] and sum(c["rows_per_hour"]["alb"]) == 0
    assert c["days"][-1] == T0.replace(hour=0).isoformat() and len(c["days"]) == status.CHART_DAYS
    assert c["alerts_per_day"][det.header.severity][-1] == 1
    assert sum(sum(v) for v in c["alerts_per_day"].values()) == 1
    page = status.render_html(st)
    assert page.count("<svg ") == 3 and "cloudtrail: 11</title>" in page


def test_every_page_of_the_view_shows_hostile_characters_as_visible_escapes():
    """The incident page (shared entities, member titles, triage notes and actors, pivot links), a local
    ticket and the scorecard take log- or analyst-derived text too: none of it reaches the HTML with a raw
    control, bidi or zero-width character (the main page's and the search page's tests cover theirs)."""
    member = {
        "first_seen": "2026-11-01T10:01:00+00:00",
        "severity": "high",
        "detection_id": "cloudtrail_console_login_brute_force",
        "title": "Brute " + INVISIBLE,
        "tactics": ["TA0006" + INVISIBLE],
        "entities": [{"kind": "principal", "value": "root" + INVISIBLE}],
        "hits": 6,
    }
    page = {
        "id": "a" * 32,
        "state": "open",
        "status": "open",
        "verdict": None,
        "severity": "high",
        "reason": "max of members " + INVISIBLE,
        "tactics": [],
        "entities": [
            {"kind": "principal", "value": "root" + INVISIBLE},
            {"kind": "ip", "value": "198.51.100.23" + INVISIBLE},
        ],
        "first_seen": "2026-11-01T10:01:00+00:00",
        "last_seen": "2026-11-01T10:06:00+00:00",
        "members": [member],
        "actions": [
            {
                "at": "2026-11-01T11:00:00+00:00",
                "actor": "github:" + INVISIBLE,
                "action": "acknowledge",
                "verdict": None,
                "note": "note " + INVISIBLE,
            }
        ],
    }
    score = {
        "detection_id": "cloudtrail_console_login_brute_force",
        "recommendation": "keep",
        "alerts": 1,
        "incidents": 1,
        "open": 0,
        "true_positive": 1,
        "benign_true_positive": 0,
        "false_positive": 0,
        "precision": None,
        "last_verdict": "true-positive",
        "last_verdict_by": "github:" + INVISIBLE,
        "last_verdict_at": "2026-11-01T11:00:00+00:00",
        "reason": "reason " + INVISIBLE,
    }
    pages = {
        "incident": status.render_incident_html(page, "0" * 64),
        "incident, read only": status.render_incident_html(page, None),
        "ticket": status.render_ticket_html("b" * 32, "rule" + INVISIBLE, "# title " + INVISIBLE + "\nbody"),
        "scorecard": status.render_scorecard_html([score]),
    }
    for name, body in pages.items():
        assert _hidden(body) == [] and _hidden(html.unescape(body)) == [], name
    assert "\\u202e" in pages["incident"] and "\\u202e" in pages["ticket"] and "\\u202e" in pages["scorecard"]
