"""An archive copied into the raw bucket today (a forensic import, `aws s3 sync`): last month's CloudTrail keys,
landed now. Ingest reads objects by landing time under the key dates around each window, so no window reads
them; the next day's first window warns and counts them, `mamori backfill --by key-date` imports them, and
running either again (the backfill, the landing window) changes neither the lake nor the alerts.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from mamori import detect, ingest
from mamori.alerts.ledger import Ledger
from mamori.backfill import make_plan, run_backfill
from mamori.config import load_settings
from mamori.lake import Store, layout
from mamori.lake.manifests import WindowSummary
from mamori.sources.cloudtrail.generate import generate_cloudtrail

pytestmark = pytest.mark.slow
KEY_DAY = datetime(2026, 10, 5, tzinfo=UTC)  # the archive's events and key dates
TODAY = datetime(2026, 11, 3, 10, tzinfo=UTC)  # the hour it was copied in
NEXT_DAY = datetime(2026, 11, 4, tzinfo=UTC)  # the first window of the next day checks the day's landings
HOUR = timedelta(hours=1)


def lake_digest(home: Path) -> dict[str, str]:
    lake = home / "lake"
    return {
        str(p.relative_to(lake)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(lake.rglob("*"))
        if p.is_file() and not str(p.relative_to(lake)).startswith("_backfill")
    }


def run_window(start: datetime, s) -> WindowSummary:
    for b in ingest.plan_window("cloudtrail", start, start + HOUR, s):
        ingest.convert_batch(b, s)
    ingest.finalize_window("cloudtrail", start, start + HOUR, s)
    return WindowSummary.from_json(Store(s.lake_url).read_bytes(layout.success_key("cloudtrail", start)))


def test_an_archive_landed_today_is_warned_about_then_imported_once_by_key_date(
    tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv("MAMORI_HOME", str(tmp_path))
    s = load_settings()
    raw = Store(s.raw_url)
    archive: list[str] = []

    def copy_in(key: str, data: bytes, landed: datetime) -> None:  # `aws s3 sync` today, in a few minutes
        raw.write_atomic(key, data)
        raw.set_landed(key, TODAY + timedelta(seconds=len(archive)))
        archive.append(key)

    steps = generate_cloudtrail(copy_in, KEY_DAY, 6, seed=11)
    events = [k for k in archive if "/CloudTrail/" in k]
    # One object delivered today as usual (key dated today): the landing window reads it, no import needed.
    today_key = events[0].replace("/2026/10/05/", "/2026/11/03/").replace("_20261005T", "_20261103T")
    record = orjson.loads(gzip.decompress(raw.read_bytes(events[0])))["Records"][0]
    record |= {"eventTime": "2026-11-03T10:05:00Z", "eventID": "11111111-2222-3333-4444-555555555555"}
    raw.write_atomic(today_key, gzip.compress(orjson.dumps({"Records": [record]})))
    raw.set_landed(today_key, TODAY + timedelta(minutes=30))

    # The landing window reads only today's object; the next day's first window warns about the archive
    # (log + window summary), as the first window of each day checks the day's landings.
    before = run_window(TODAY, s)
    assert (before.objects, before.out_of_range) == (1, 0)
    with caplog.at_level(logging.WARNING, logger="mamori.ingest"):
        assert run_window(NEXT_DAY, s).out_of_range == len(archive)
    assert any("mamori backfill --by key-date" in r.getMessage() for r in caplog.records)

    # The key-date backfill imports the archive into the window it landed in and detects over its days.
    ids = sorted({d for st in steps for d in st.detections})
    plan = make_plan(KEY_DAY, KEY_DAY + timedelta(days=1), ["cloudtrail"], ids, settings=s, by="key-date")
    summary = run_backfill(plan, s)
    assert summary["imported_objects"] == {"cloudtrail": len(archive)}
    after = run_window(TODAY, s)  # the landing window as the schedule re-runs it: reads the imports too
    assert (after.objects, after.out_of_range) == (1 + len(archive), 0)
    assert run_window(NEXT_DAY, s).out_of_range == 0  # imported: nothing left to warn about
    assert after.late_hours == []  # the backfill detected over those hours: nothing for the health DAG
    alerts = Ledger(s.ledger_url).alerts()
    assert {a.detection_id for a in alerts} >= set(ids) - {"mamori_rule_error"}
    paging = [(a.detection_id, a.routes) for a in alerts if "pagerduty" in a.routes]
    assert paging == []  # a backfill tickets, it does not page; nor does the import's data-quality check

    # Idempotent: the backfill again, the landing window again, and today's detect run change nothing.
    lake, state = lake_digest(tmp_path), sorted((a.key, a.hit_count) for a in alerts)
    run_backfill(plan, s, restart=True)
    assert run_window(TODAY, s).rows_out == after.rows_out
    detect.run_chunk(ids, TODAY - s.detect_lag, TODAY + HOUR - s.detect_lag, s)
    assert lake_digest(tmp_path) == lake
    assert sorted((a.key, a.hit_count) for a in Ledger(s.ledger_url).alerts()) == state


def test_key_date_backfill_takes_whole_days(settings):
    with pytest.raises(ValueError, match="whole days"):
        make_plan(KEY_DAY, KEY_DAY + HOUR, ["cloudtrail"], [], settings=settings, by="key-date")
