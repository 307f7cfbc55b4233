"""The same landed data gives the same alerts whether ingest and detect run every 5, 15 or 60 minutes.

Three homes hold the same raw objects (same landing times): the demo generators' first two story hours (the port
scan at 01:00, the SSH brute force, the ALB error burst, the intrusion on the web host) plus a permission
enumeration copied from the `cloudtrail_access_denied_volume` case that runs for 86 minutes across both hour
edges. Counting rules are the ones a shorter window could split or lose (a burst straddling a window edge, a
threshold reached across windows), so the comparison covers them. Each home runs every ingest window, then every
detect run, through the functions the DAG tasks call (no Airflow: the schedule's intervals come from
mamori.windows, which is what the DAGs' timetables are built from, tests/dags/test_cadence_schedule.py).

Alert rows must be identical except `opened_window_end`, which is the point of a short cadence: the window in
which the alert first reached its threshold ends earlier.
"""

from __future__ import annotations

import gzip
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from mamori import detect, ingest, windows
from mamori.alerts.ledger import Ledger
from mamori.config import Settings, load_settings
from mamori.dev.generate import demo_sources, write_samples
from mamori.lake import Store
from mamori.sources import SOURCES

pytestmark = pytest.mark.slow
START = datetime(2026, 11, 1, tzinfo=UTC)
GENERATED = 6  # the CloudTrail story needs six hours; the pipeline runs over the first two
HOURS = 2
END = START + timedelta(hours=HOURS)
TAIL = timedelta(hours=1)  # deliveries land up to ~40 minutes after their events
CASES = Path(__file__).parent
ENUMERATION = (
    CASES / "cloudtrail_access_denied_volume/positive/enumeration_for_ninety_minutes_across_the_hour.json"
)
COUNTING_RULES = {
    "cloudtrail_access_denied_volume",
    "vpcflow_port_scan",
    "syslog_ssh_brute_force",
    "alb_error_burst",
}


def _land_enumeration(s: Settings) -> None:
    """The case's denials moved to 00:40–02:06 of the story day, delivered as CloudTrail does: one object per
    five minutes of events, landing five minutes after its last event (so the burst's objects land in different
    windows at every cadence)."""
    records = orjson.loads(ENUMERATION.read_bytes())["Records"]
    first = datetime.fromisoformat(records[0]["eventTime"].replace("Z", "+00:00"))
    shift = START + timedelta(minutes=40) - first
    objects: dict[datetime, list[dict[str, Any]]] = {}
    for r in records:
        t = datetime.fromisoformat(r["eventTime"].replace("Z", "+00:00")) + shift
        r["eventTime"] = t.strftime("%Y-%m-%dT%H:%M:%SZ")
        objects.setdefault(windows.floor(t, timedelta(minutes=5)), []).append(r)
    raw = Store(s.raw_url, s.raw_conn_id)
    for t, recs in sorted(objects.items()):
        key = (
            f"AWSLogs/123456789012/CloudTrail/us-east-1/{t:%Y/%m/%d}/"
            f"123456789012_CloudTrail_us-east-1_{t:%Y%m%dT%H%MZ}_enumeration.json.gz"
        )
        raw.write_atomic(key, gzip.compress(orjson.dumps({"Records": recs})))
        raw.set_landed(key, t + timedelta(minutes=10))


def _home(tmp_path: Path, name: str, raw: Path, monkeypatch: pytest.MonkeyPatch, minutes: int) -> Settings:
    home = tmp_path / name
    home.mkdir()
    shutil.copytree(raw, home / "raw", copy_function=shutil.copy2)  # keeps mtimes = landing times
    monkeypatch.setenv("MAMORI_HOME", str(home))
    monkeypatch.setenv("MAMORI_INGEST_INTERVAL_MINUTES", str(minutes))
    monkeypatch.delenv("MAMORI_DETECT_INTERVAL_MINUTES", raising=False)
    s = load_settings()
    assert (s.ingest_interval, s.detect_interval) == (timedelta(minutes=minutes),) * 2
    return s


def _pipeline(s: Settings) -> int:
    """Every ingest window of every source, then every detect run, as the DAG tasks do them (the detect run
    whose detection window starts at t runs once the ingest windows covering [t + lag, t + lag + interval)
    are finalized); returns the number of detect runs."""
    for b in windows.window_starts(START, END + TAIL, s.ingest_interval):
        e = b + s.ingest_interval
        for source in SOURCES:
            for batch in ingest.plan_window(source, b, e, s):
                ingest.convert_batch(batch, s)
            ingest.finalize_window(source, b, e, s)
    chunks = detect.detection_chunks(s)
    runs = [t + s.detect_lag for t in windows.window_starts(START, END, s.detect_interval)]
    for b in runs:
        e = b + s.detect_interval
        assert detect.sources_ready(e, s, start=b)
        results = [detect.run_chunk(ids, b, e, s) for ids in chunks]
        assert detect.summarize_window(results, b, e, s)["rule_errors"] == []
    return len(runs)


def _alert_rows(s: Settings) -> dict[str, dict[str, Any]]:
    return {row["alert_key"]: row for row in Ledger(s.ledger_url).dump()["alerts"]}


def test_alerts_are_identical_at_5_15_and_60_minute_cadences(settings, tmp_path, monkeypatch):
    # One lag for every source and no re-read windows, so every cadence's detection windows tile exactly the
    # story's event hours (tests/quality/test_late_overlap.py covers per-source lags and the overlap).
    monkeypatch.setenv("MAMORI_DETECT_LAG_MINUTES", "60")
    monkeypatch.setenv("MAMORI_DETECT_OVERLAP_MINUTES", "0")
    write_samples(START, GENERATED, seed=7, sources=demo_sources())
    _land_enumeration(settings)
    raw = Path(settings.raw_url.removeprefix("file://"))

    got: dict[int, dict[str, dict[str, Any]]] = {}
    for minutes in (60, 15, 5):
        s = _home(tmp_path, f"every-{minutes}m", raw, monkeypatch, minutes)
        t0 = time.monotonic()
        assert _pipeline(s) == HOURS * 60 // minutes
        got[minutes] = _alert_rows(s)
        print(f"{minutes}-minute cadence: {time.monotonic() - t0:.0f} s, {len(got[minutes])} alerts")

    hourly = got[60]
    fired = {row["detection_id"] for row in hourly.values()}
    assert fired >= COUNTING_RULES, COUNTING_RULES - fired
    assert len(hourly) >= 10
    for minutes in (15, 5):
        assert set(got[minutes]) == set(hourly), f"{minutes}-minute alert keys differ from the hourly ones"
        for key, row in hourly.items():
            short = got[minutes][key]
            assert {k: v for k, v in short.items() if k != "opened_window_end"} == {
                k: v for k, v in row.items() if k != "opened_window_end"
            }, (minutes, row["detection_id"])
            # the point of a short cadence: an alert opens in an earlier (or the same) window
            assert short["opened_window_end"] <= row["opened_window_end"]
