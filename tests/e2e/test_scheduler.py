"""The real thing: scheduler, dag-processor, triggerer and api-server as processes (mamori.dev.local, the code behind
`make up-local`), driven only through the REST API, then the mamori view in a headless browser, then a stop
that must leave no process behind.

One module-scoped instance serves every test here (starting Airflow is most of the cost). Data: 6 h of
generated CloudTrail; the runs cover one detection window, [03:00, 04:00), whose events land in the ingest
windows [03:00, 04:00) and [04:00, 05:00); detect's data interval is [04:00, 05:00) (detection lag 60 min).
Tickets go to a fake GitHub server in this process, reached by the task processes over HTTP through the
`mamori_github` connection given as AIRFLOW_CONN_MAMORI_GITHUB. Airflow's metadata DB and the alert ledger
are databases of the embedded PostgreSQL that `mamori up` runs too (mamori.dev.local_pg), never SQLite.

The catalog is this repo's sql/ with the CloudTrail rules only (MAMORI_SQL_DIR), because detect waits for
every source that has enabled rules, and ingesting all six sources would triple the runtime.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mamori.dev import local

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "alerts"))
import fake_github  # noqa: E402 - the fake lives beside the alert tests

sys.path.insert(0, str(REPO / "tests" / "plugins"))
import chromium_cdp  # noqa: E402 - one browser launcher for the view tests

pytestmark = pytest.mark.slow

START = datetime(2026, 11, 1, tzinfo=UTC)
HOURS = 6  # the generator's minimum
DETECT_WINDOW = (START + timedelta(hours=3), START + timedelta(hours=4))
LAG = timedelta(minutes=60)
GH_REPO = "acme/security-alerts"


@dataclass
class Ctx:
    inst: local.Instance
    api: local.Api
    fake: fake_github.FakeGitHub
    sql_dir: Path
    steps: list[Any]
    out: Path
    timings: dict[str, float]


def _cloudtrail_only_sql(dest: Path) -> Path:
    shutil.copytree(REPO / "sql", dest)
    for d in (dest / "detections").iterdir():
        if d.is_dir() and d.name != "cloudtrail":
            shutil.rmtree(d)
    return dest


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ctx]:
    t0 = time.monotonic()
    base = tmp_path_factory.mktemp("scheduler")
    # AIRFLOW_HOME (and the embedded PostgreSQL under it) outside pytest's tmp dir: as root the server runs as
    # another user, who must traverse every parent, and each pytest session resets /tmp/pytest-of-root to 0700.
    airflow_home, mamori_home = Path(tempfile.mkdtemp(prefix="mamori-scheduler-")), base / "mamori"
    sql_dir = _cloudtrail_only_sql(base / "sql")
    fake, server = fake_github.start()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MAMORI_HOME", str(mamori_home))
        for var in ("MAMORI_RAW_URL", "MAMORI_LAKE_URL", "MAMORI_LEDGER_URL", "MAMORI_OUTBOX_URL"):
            mp.delenv(var, raising=False)
        from mamori.dev.generate import write_samples as generate

        steps = generate(START, HOURS, seed=7, sources=["cloudtrail"])
    conn = {
        "conn_type": "github",
        "password": fake_github.TOKEN,
        "host": fake.api_url,
        "extra": {"repo": GH_REPO},
    }
    extra = {
        "MAMORI_SQL_DIR": str(sql_dir),
        "MAMORI_DETECT_LAG_MINUTES": str(int(LAG.total_seconds() // 60)),
        "MAMORI_INGEST_INTERVAL_MINUTES": "60",  # the hourly windows this test triggers (the default is 5 minutes)
        "AIRFLOW_CONN_MAMORI_GITHUB": json.dumps(conn),
        # Only the runs this test triggers: no hourly runs of "now", no asset-triggered extras.
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
    }
    inst = local.start(airflow_home, mamori_home, local.free_port(), extra_env=extra, inherit=False)
    ctx = Ctx(inst, local.Api(inst.url, airflow_home), fake, sql_dir, steps, base, {})
    try:
        local.wait_healthy(ctx.api, timeout=300, instance=inst)
        local.warm_execution_api(ctx.api)  # as `mamori up` does before it triggers anything
        local.wait_dags(ctx.api, {"ingest_cloudtrail", "detect", "dispatch_alerts"})
        ctx.timings["start"] = time.monotonic() - t0
        yield ctx
    finally:
        local.stop(airflow_home, pgid=inst.pgid)  # no-op when test_stop_leaves_no_process already stopped it
        if inst.proc is not None:
            inst.proc.wait(timeout=30)
        fake_github.stop(server)
        shutil.rmtree(airflow_home / local.PG_DIR, ignore_errors=True)  # the database files; logs stay
        print(f"\nscheduler e2e timings (s): {ctx.timings}; output in {base} and {airflow_home}")


def _run(ctx: Ctx, dag_id: str, windows: list[tuple[datetime, datetime]], timeout: float = 300) -> None:
    """Trigger one run per window through the REST API, wait for all; the failure names every task state
    and the tail of each failed task's log."""
    run_ids = [ctx.api.trigger(dag_id, s, e) for s, e in windows]
    try:
        for run_id in run_ids:
            local.wait_run(ctx.api, dag_id, run_id, timeout=timeout)
    except local.LocalAirflowError as exc:
        raise AssertionError(f"{exc}\n{_failed_logs(ctx, dag_id)}") from None


def _failed_logs(ctx: Ctx, dag_id: str) -> str:
    logs = sorted((ctx.inst.airflow_home / "logs" / f"dag_id={dag_id}").rglob("*.log"))
    return "\n".join(f"--- {p}\n{p.read_text(errors='replace')[-3000:]}" for p in logs[-4:])


def test_ingest_detect_dispatch_through_the_scheduler(airflow: Ctx) -> None:
    ctx = airflow
    # Everything concurrent runs on the embedded PostgreSQL: no SQLite file for Airflow or the ledger.
    assert ctx.inst.db_url.startswith("postgresql+psycopg2://") and "?host=/" in ctx.inst.db_url
    assert ctx.inst.ledger_url.startswith("postgresql+psycopg2://")
    assert ctx.api.health()["metadatabase"]["status"] == "healthy"
    t0 = time.monotonic()
    ws, we = DETECT_WINDOW
    for dag_id in ("ingest_cloudtrail", "detect", "dispatch_alerts"):
        ctx.api.set_paused(dag_id, False)

    # Events of [03:00, 04:00) land in [03:00, 05:00): two landing windows.
    _run(ctx, "ingest_cloudtrail", [(ws, we), (we, we + timedelta(hours=1))])
    ctx.timings["ingest"] = time.monotonic() - t0
    _run(ctx, "detect", [(ws + LAG, we + LAG)])
    ctx.timings["detect"] = time.monotonic() - t0 - ctx.timings["ingest"]
    _run(ctx, "dispatch_alerts", [(we + LAG, we + LAG + timedelta(minutes=15))])
    ctx.timings["pipeline"] = time.monotonic() - t0

    from mamori.alerts.ledger import Ledger
    from mamori.config import load_settings

    s = load_settings({"MAMORI_HOME": str(ctx.inst.mamori_home), "MAMORI_SQL_DIR": str(ctx.sql_dir)})
    # The lake holds both windows, reconciled.
    from mamori.ingest import window_summaries

    wins = window_summaries("cloudtrail", s)
    assert len(wins) == 2 and all(w.records_in == w.rows_out + w.quarantined for w in wins)
    assert sum(w.rows_out for w in wins) > 100

    # Every attack step of the window raised an alert of each expected rule on the entities the step names,
    # with a GitHub issue.
    ledger = Ledger(ctx.inst.ledger_url)
    alerts = ledger.alerts()
    in_window = [st for st in ctx.steps if ws <= st.time < we]
    assert in_window, "the generator's story must have a step in the chosen window"
    for st in in_window:
        for det_id in st.detections:
            assert any(
                a.detection_id == det_id
                and a.dedup_values == st.expected_dedup_values(det_id)
                and a.bucket_start <= st.time.isoformat() < a.bucket_end
                for a in alerts
            ), (det_id, st.summary, [(a.detection_id, a.dedup_values) for a in alerts])

    issues = ctx.fake.issue_list(GH_REPO)
    # Alert rows only: an incident's own ticket row (keyed by its incident id) sits in the same table.
    incident_ids = set(ledger.incident_tickets("github"))
    refs = {
        d["alert_key"]: d
        for d in ledger.deliveries()
        if d["output"] == "github" and d["alert_key"] not in incident_ids
    }
    ticketed = [a for a in alerts if "github" in a.routes]  # experimental rules without github go to local
    assert ticketed and sorted(refs) == sorted(a.key for a in ticketed)
    assert all(d["state"] == "delivered" for d in refs.values())
    # One issue per incident (routing's `deliver_per: incident`): its members all point at it.
    assert {d["external_ref"] for d in refs.values()} == {i["html_url"] for i in issues}
    assert all(c.authorized for c in ctx.fake.calls())
    assert not (ctx.inst.airflow_home / "airflow.db").exists()
    assert not (ctx.inst.mamori_home / "ledger.db").exists()


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=60) as resp:
        return resp.status, resp.headers, resp.read().decode()


def test_status_json_has_runs_with_metrics(airflow: Ctx) -> None:
    status, headers, body = _get(f"{airflow.inst.url}/mamori/status.json")
    assert status == 200 and "script-src" not in headers["Content-Security-Policy"]
    st = json.loads(body)
    by_dag: dict[str, list[dict[str, Any]]] = {}
    for r in st["runs"]:
        by_dag.setdefault(r["dag_id"], []).append(r)
    ingest = by_dag["ingest_cloudtrail"]
    assert len(ingest) == 2 and all(
        r["state"] == "success" and r["metrics"]["records_in"] > 0 for r in ingest
    )
    (detect,) = by_dag["detect"]
    enabled = [d for d in st["detections"] if d["enabled"]]
    assert detect["metrics"]["detections"] == len(enabled) and detect["metrics"]["alerts"] >= 1
    from mamori.alerts.ledger import Ledger

    ledger = Ledger(airflow.inst.ledger_url)
    incident_ids = set(ledger.incident_tickets("github"))
    assert by_dag["dispatch_alerts"][0]["metrics"]["delivered"] == len(
        [d for d in ledger.deliveries() if d["alert_key"] not in incident_ids]
    )
    # Every enabled rule ran in that detect run's window (the lag applied).
    assert {d["last_run"]["window_start"] for d in enabled} == {DETECT_WINDOW[0].isoformat()}
    cloudtrail = next(src for src in st["sources"] if src["source"] == "cloudtrail")
    assert cloudtrail["windows"] == 2 and cloudtrail["totals"]["rows_out"] > 100


def _browser(out: Path, *args: str) -> str:
    return chromium_cdp.run_headless(out, *args)


def test_mamori_view_in_a_headless_browser(airflow: Ctx) -> None:
    ctx = airflow
    t0 = time.monotonic()
    from mamori.alerts.ledger import Ledger
    from mamori.config import load_settings
    from mamori.detections.loader import load_catalog

    s = load_settings({"MAMORI_HOME": str(ctx.inst.mamori_home), "MAMORI_SQL_DIR": str(ctx.sql_dir)})
    view = f"{ctx.inst.url}/mamori/"
    dom = _browser(ctx.out, "--dump-dom", view)
    assert "mamori — security monitoring" in dom
    catalog = dom.split('<table class="catalog">', 1)[1].split("</table>", 1)[0]
    for det in load_catalog(s.sql_dir):
        assert f"<code>{det.id}</code>" in catalog, det.id
    alerts_table = dom.split('<table class="alerts">', 1)[1].split("</table>", 1)[0]
    ledger = Ledger(ctx.inst.ledger_url)
    for a in ledger.alerts():
        assert f"<code>{a.detection_id}</code>" in alerts_table
    for ref in (d["external_ref"] for d in ledger.deliveries()):
        assert f'href="{ref}"' in alerts_table  # a link to the issue on the (fake) GitHub

    # Inside the Airflow UI: the plugin is registered, the nav page embeds the view.
    plugins = ctx.api.call("GET", "/api/v2/plugins")["plugins"]
    mamori = next(p for p in plugins if p["name"] == "mamori")
    assert mamori["external_views"][0]["url_route"] == "mamori"
    ui = f"{ctx.inst.url}/plugin/mamori"
    ui_dom = _browser(ctx.out, "--virtual-time-budget=20000", "--dump-dom", ui)
    assert "<iframe" in ui_dom and "/mamori/" in ui_dom.split("<iframe", 1)[1].split(">", 1)[0]

    shots = []
    for name, url in (("mamori-view.png", view), ("mamori-in-airflow-ui.png", ui)):
        path = ctx.out / name
        _browser(
            ctx.out, "--virtual-time-budget=20000", "--window-size=1400,1000", f"--screenshot={path}", url
        )
        assert path.stat().st_size > 20_000 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        shots.append(path)
    target = os.environ.get("MAMORI_SCREENSHOT")  # `make screenshot` → docs/mamori-view.png
    if target:
        shutil.copyfile(shots[1], target)
    ctx.timings["browser"] = time.monotonic() - t0
    print(f"\nscreenshots: {[str(p) for p in shots]}")


def test_mamori_backfill_is_airflows_own_backfill(airflow: Ctx) -> None:
    """With the instance up, `mamori backfill` is Airflow's backfill (issue 15: one backfill story): a Backfill
    per DAG visible through GET /api/v2/backfills, DagRuns of run_type backfill for exactly the data intervals
    starting in [--from, --to), all green; a second call with the same range creates nothing new."""
    ctx = airflow
    lo, hi = START + timedelta(hours=1), START + timedelta(hours=3)  # windows no earlier test ran
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAMORI_", "AIRFLOW"))}
    env.update(
        {
            "MAMORI_HOME": str(ctx.inst.mamori_home),
            "MAMORI_SQL_DIR": str(ctx.sql_dir),
            "MAMORI_DETECT_LAG_MINUTES": str(int(LAG.total_seconds() // 60)),
            "MAMORI_INGEST_INTERVAL_MINUTES": "60",
            "AIRFLOW_HOME": str(ctx.inst.airflow_home),
        }
    )
    cmd = [
        str(Path(sys.executable).with_name("mamori")),
        "backfill",
        "--from",
        lo.isoformat(),
        "--to",
        hi.isoformat(),
    ]
    t0 = time.monotonic()
    proc = subprocess.run(
        [*cmd, "--sources", "cloudtrail"], env=env, capture_output=True, text=True, timeout=900
    )
    ctx.timings["backfill"] = time.monotonic() - t0
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-4000:])
    assert "through Airflow's backfills at the local instance" in proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    expected = [lo, lo + timedelta(hours=1)]
    for dag_id in ("ingest_cloudtrail", "detect"):
        backfills = ctx.api.call("GET", f"/api/v2/backfills?dag_id={dag_id}")["backfills"]
        assert [b["id"] for b in backfills] == [summary["backfills"][dag_id]], backfills
        assert backfills[0]["completed_at"] is not None
        runs = ctx.api.call("GET", f"/api/v2/dags/{dag_id}/dagRuns?run_type=backfill&limit=100")["dag_runs"]
        assert (
            sorted(datetime.fromisoformat(r["logical_date"].replace("Z", "+00:00")) for r in runs) == expected
        )
        assert {r["state"] for r in runs} == {"success"}, runs
    assert summary["failed_runs"] == {} and summary["steps"] == 4

    # Again: the windows succeeded, so the new backfills (reprocess "failed") create no run.
    again = subprocess.run(
        [*cmd, "--sources", "cloudtrail"], env=env, capture_output=True, text=True, timeout=900
    )
    assert again.returncode == 0, again.stderr[-3000:]
    for dag_id in ("ingest_cloudtrail", "detect"):
        runs = ctx.api.call("GET", f"/api/v2/dags/{dag_id}/dagRuns?run_type=backfill&limit=100")["dag_runs"]
        assert len(runs) == 2, runs


def test_stop_leaves_no_process(airflow: Ctx) -> None:
    ctx = airflow
    pgid = ctx.inst.pgid
    assert len(local.session_members(pgid)) >= 5  # launcher + four components at least
    t0 = time.monotonic()
    survivors = local.stop(ctx.inst.airflow_home, pgid=pgid)
    ctx.timings["stop"] = time.monotonic() - t0
    assert survivors == []
    assert local.session_members(pgid) == []
    assert local.running(ctx.inst.airflow_home) is None
    assert not local.pid_file(ctx.inst.airflow_home).exists()
    assert local.local_pg.processes(ctx.inst.airflow_home / local.PG_DIR) == []  # PostgreSQL stopped too
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{ctx.inst.url}/api/v2/monitor/health", timeout=5)
