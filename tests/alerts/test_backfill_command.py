"""`mamori backfill` over three days: twice gives the same lake bytes and the same tickets; killed mid-way and
resumed gives the same result as an uninterrupted run; and a backfill records and tickets without paging."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from fake_github import TOKEN

from mamori.alerts.incidents import list_incidents
from mamori.alerts.ledger import Ledger
from mamori.backfill import make_plan, run_backfill
from mamori.config import load_settings
from mamori.lake import Store
from mamori.sources.cloudtrail.generate import generate_cloudtrail

pytestmark = pytest.mark.slow
START = datetime(2026, 11, 1, tzinfo=UTC)
HOURS = 72


def lake_digest(home: Path) -> dict[str, str]:
    """sha256 of every lake file but the backfill's own progress record."""
    lake = home / "lake"
    return {
        str(p.relative_to(lake)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(lake.rglob("*"))
        if p.is_file() and not str(p.relative_to(lake)).startswith("_backfill")
    }


def alert_state(home: Path) -> list[tuple[str, str, int, list[str]]]:
    ledger = Ledger(f"sqlite:///{home / 'ledger.db'}")
    return sorted((a.key, a.detection_id, a.hit_count, a.routes) for a in ledger.alerts())


def incident_state(home: Path) -> dict[str, list[str]]:
    """Incident id → its alerts' keys: what a backfill must reproduce exactly, however it was interrupted."""
    ledger = Ledger(f"sqlite:///{home / 'ledger.db'}")
    return {i.incident_id: sorted(a.key for a in i.members) for i in list_incidents(ledger)}


@pytest.fixture
def raw_days(tmp_path):
    """Three days of CloudTrail (light volume) in a raw store, and the rules its attack story triggers."""
    raw = tmp_path / "seed"
    store = Store(f"file://{raw}")

    def put(key: str, data: bytes, landed: datetime) -> None:
        store.write_atomic(key, data)
        store.set_landed(key, landed)

    steps = generate_cloudtrail(put, START, hours=HOURS, seed=3, events_per_file=6)
    return raw, sorted({d for st in steps for d in st.detections})


def home_with(tmp_path: Path, name: str, raw: Path) -> Path:
    home = tmp_path / name
    home.mkdir()
    shutil.copytree(raw, home / "raw", copy_function=shutil.copy2)  # keeps mtimes = landing times
    return home


def test_backfill_twice_and_killed_then_resumed_give_one_result(tmp_path, monkeypatch, raw_days, fake_github):
    raw, ids = raw_days
    # 6-hour data intervals (a supported schedule) keep three days to 13 intervals, so three backfills fit the
    # slow tier; the code path is the hourly one with a different step.
    monkeypatch.setenv("MAMORI_INGEST_INTERVAL_MINUTES", "360")
    monkeypatch.setenv("MAMORI_DETECT_LAG_MINUTES", "360")
    monkeypatch.setenv(
        "AIRFLOW_CONN_MAMORI_GITHUB",
        json.dumps(
            {
                "conn_type": "github",
                "password": TOKEN,
                "host": fake_github.api_url,
                "extra": {"repo": "acme/security-alerts"},
            }
        ),
    )
    end = START + timedelta(hours=HOURS + 6)  # one more interval: late deliveries and the detection lag

    # 1. a clean backfill, then its tickets
    home = home_with(tmp_path, "a", raw)
    monkeypatch.setenv("MAMORI_HOME", str(home))
    s = load_settings()
    plan = make_plan(START, end, sources=["cloudtrail"], detections=ids, settings=s)
    first = run_backfill(plan, s)
    assert first["ran"] == first["steps"] == 2 * (HOURS + 6) // 6
    from mamori.detect import dispatch

    dispatch(s)
    lake_a, alerts_a = lake_digest(home), alert_state(home)
    issues_a = sorted(i["title"] for i in fake_github.issue_list())
    assert all("pagerduty" not in routes and "slack" not in routes for *_, routes in alerts_a)  # no paging
    incidents_a = incident_state(home)  # the backfill grouped what it detected
    assert sorted(k for keys in incidents_a.values() for k in keys) == sorted(
        k for k, det, *_ in alerts_a if not det.startswith("mamori_")
    )
    assert len(incidents_a) < len(alerts_a)
    # One issue per incident (routing's default `deliver_per: incident`), one per health alert (in none).
    health = [k for k, det, *_ in alerts_a if det.startswith("mamori_")]
    assert len(alerts_a) >= 5 and len(issues_a) == len(incidents_a) + len(health)

    # 2. resuming a finished backfill does nothing; forcing it again rewrites the same bytes and tickets
    assert run_backfill(plan, s)["ran"] == 0
    again = run_backfill(plan, s, restart=True)
    assert again["ran"] == again["steps"]
    dispatch(s)
    assert lake_digest(home) == lake_a and alert_state(home) == alerts_a
    assert incident_state(home) == incidents_a
    assert sorted(i["title"] for i in fake_github.issue_list()) == issues_a

    # 3. the same backfill in a fresh home through the CLI, SIGKILLed mid-way, then resumed
    home_b = home_with(tmp_path, "b", raw)
    env = {**os.environ, "MAMORI_HOME": str(home_b)}
    argv = [
        sys.executable,
        "-c",
        "from mamori.cli import main; raise SystemExit(main())",
        "backfill",
        "--from",
        START.isoformat(),
        "--to",
        end.isoformat(),
        "--sources",
        "cloudtrail",
        "--detections",
        ",".join(ids),
    ]
    state_dir = home_b / "lake" / "_backfill"
    proc = subprocess.Popen(argv, env=env, start_new_session=True, stderr=subprocess.DEVNULL)
    done = 0
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        states = list(state_dir.glob("*.json")) if state_dir.exists() else []
        if states:
            done = len(orjson.loads(states[0].read_bytes())["done"])  # atomic writes: never partial
        if done >= first["steps"] // 3:
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the backfill finished before it could be killed"
    assert 0 < done < first["steps"]

    resumed = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    summary = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert summary["already_done"] >= done and summary["ran"] == summary["steps"] - summary["already_done"]
    assert lake_digest(home_b) == lake_a
    assert alert_state(home_b) == alerts_a
    assert incident_state(home_b) == incidents_a
