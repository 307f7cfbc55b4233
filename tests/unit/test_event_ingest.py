"""Event-driven ingest (issue 19) without Airflow: which window a notification-triggered run reads, that it
leaves a finalized window alone, and that a notification (or two of the same one) changes nothing a scheduled
run would not have written.

An asset-triggered Airflow run has no data interval, only `run_after`; the window is the most recent closed one
at `run_after` (`mamori.windows.event_window`), and `mamori.ingest.run_window` skips it when it is finalized.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from lake_support import lake_digest

from mamori import ingest
from mamori.config import ConfigError, load_settings
from mamori.lake import Store
from mamori.windows import Window, event_window

T0 = datetime(2026, 11, 1, 10, tzinfo=UTC)
ACCT = "123456789012"
FIVE = timedelta(minutes=5)


@pytest.mark.parametrize(
    ("run_after", "interval", "want"),
    [
        # mid-window: the window that closed last, never the open one objects still land in
        (datetime(2026, 11, 1, 5, 42, 17, tzinfo=UTC), FIVE, ("05:35", "05:40")),
        # exactly on a boundary: the window ending there has closed
        (datetime(2026, 11, 1, 5, 40, tzinfo=UTC), FIVE, ("05:35", "05:40")),
        (datetime(2026, 11, 1, 5, 39, 59, 999999, tzinfo=UTC), FIVE, ("05:30", "05:35")),
        # hourly, across midnight
        (datetime(2026, 11, 2, 0, 0, 3, tzinfo=UTC), timedelta(hours=1), ("23:00", "00:00")),
    ],
)
def test_event_window_is_the_last_closed_cadence_window(run_after, interval, want):
    w = event_window(run_after, interval)
    assert (w.start.strftime("%H:%M"), w.end.strftime("%H:%M")) == want
    assert w.end <= run_after < w.end + interval
    assert w.end - w.start == interval


def test_event_window_reads_naive_and_offset_times_as_utc():
    from datetime import timezone

    tokyo = datetime(2026, 11, 1, 14, 42, tzinfo=timezone(timedelta(hours=9)))  # 05:42 UTC
    assert event_window(tokyo, FIVE) == event_window(datetime(2026, 11, 1, 5, 42), FIVE)
    assert event_window(tokyo, FIVE).start == datetime(2026, 11, 1, 5, 35, tzinfo=UTC)


def test_sqs_url_is_opt_in_and_aws_only(tmp_path):
    home = {"MAMORI_HOME": str(tmp_path)}
    assert load_settings(home).ingest_sqs_url is None
    url = "https://sqs.eu-west-1.amazonaws.com/111122223333/mamori-landed"
    aws = home | {"MAMORI_RAW_URL": "s3://org-logs", "MAMORI_INGEST_SQS_URL": url}
    assert load_settings(aws).ingest_sqs_url == url
    with pytest.raises(ConfigError) as local:
        load_settings(home | {"MAMORI_INGEST_SQS_URL": url})
    assert local.value.setting == "MAMORI_INGEST_SQS_URL" and "s3://" in str(local.value)
    for bad in ("mamori-landed", "sqs://x/y", "https://sqs.eu-west-1.amazonaws.com/"):
        with pytest.raises(ConfigError, match="MAMORI_INGEST_SQS_URL must be an SQS queue URL"):
            load_settings(aws | {"MAMORI_INGEST_SQS_URL": bad})


def _land(settings, name: str, minute: float) -> str:
    landed = T0 + timedelta(minutes=minute)
    key = (
        f"AWSLogs/{ACCT}/CloudTrail/us-east-1/{landed:%Y/%m/%d}/"
        f"{ACCT}_CloudTrail_us-east-1_{landed:%Y%m%dT%H%MZ}_{name}.json.gz"
    )
    rec = {
        "eventVersion": "1.08",
        "eventTime": (landed - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "ec2.amazonaws.com",
        "eventName": "DescribeInstances",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.10",
        "recipientAccountId": ACCT,
        "userIdentity": {"type": "IAMUser", "userName": "dana", "accountId": ACCT},
    }
    raw = Store(settings.raw_url)
    raw.write_atomic(key, gzip.compress(json.dumps({"Records": [rec]}).encode()))
    raw.set_landed(key, landed)
    return key


def _ingest(settings, w: Window) -> dict:
    for batch in ingest.plan_window("cloudtrail", w.start, w.end, settings):
        ingest.convert_batch(batch, settings)
    return ingest.finalize_window("cloudtrail", w.start, w.end, settings)


def _event_run(settings, run_after: datetime) -> dict | None:
    """What the DAG's tasks do in a notification-triggered run (no data interval)."""
    w = ingest.run_window("cloudtrail", None, None, run_after, settings)
    return None if w is None else _ingest(settings, w)


@pytest.fixture
def five(settings):
    return replace(settings, ingest_interval=FIVE)


def test_a_scheduled_run_always_reads_its_interval_even_when_finalized(five):
    start, end = T0, T0 + FIVE
    _ingest(five, Window(start, end))
    assert ingest.run_window("cloudtrail", start, end, end, five) == Window(start, end)


def test_an_event_run_ingests_the_closed_window_the_scheduled_run_would(five, tmp_path):
    _land(five, "INWINDOW00000001", 1)
    _land(five, "INWINDOW00000002", 4.5)
    _land(five, "OPENWINDOW000001", 6)  # lands in the open window: not this run's
    summary = _event_run(five, T0 + timedelta(minutes=6, seconds=2))
    assert summary is not None
    assert (summary["window_start"], summary["objects"]) == (T0.isoformat(), 2)
    event_lake = lake_digest(five)

    # the same window through its scheduled run, on a second lake over the same raw objects
    sched = replace(five, lake_url=(tmp_path / "lake2").resolve().as_uri())
    _ingest(sched, Window(T0, T0 + FIVE))
    assert lake_digest(sched) == event_lake


def test_duplicate_notifications_and_reruns_change_nothing(five):
    _land(five, "INWINDOW00000001", 2)
    at = T0 + timedelta(minutes=5, seconds=30)
    assert _event_run(five, at) is not None
    once = lake_digest(five)
    # the same message delivered again (SQS is at-least-once), or a later notification in the same open window
    assert _event_run(five, at) is None
    assert _event_run(five, at + timedelta(minutes=4)) is None
    assert lake_digest(five) == once
    # the scheduled run of the window comes after (the safety net): a re-run, byte-identical
    _ingest(five, Window(T0, T0 + FIVE))
    assert lake_digest(five) == once


def test_a_notification_for_a_foreign_key_ingests_only_the_window_listing(five):
    """Keys in notifications are attacker-influenced; the run never reads the message, so an object under a
    prefix no source lists (or a key crafted to look like a path) adds nothing to the lake."""
    _land(five, "INWINDOW00000001", 2)
    Store(five.raw_url).write_atomic("../../etc/AWSLogs/x'; DROP TABLE t;--.json.gz", b"not a log")
    summary = _event_run(five, T0 + timedelta(minutes=5, seconds=1))
    assert summary is not None and summary["objects"] == 1
    assert not any("DROP" in k or "etc" in k for k in lake_digest(five))


def test_an_event_run_leaves_the_window_to_its_running_scheduled_run(five):
    """A busy bucket's first notification of a period comes seconds after the window's scheduled run started:
    the event run must not ingest the same window a second time alongside it."""
    _land(five, "INWINDOW00000001", 2)
    asked: list[Window] = []

    def busy(w: Window) -> bool:
        asked.append(w)
        return True

    at = T0 + timedelta(minutes=5, seconds=3)
    assert ingest.run_window("cloudtrail", None, None, at, five, scheduled_busy=busy) is None
    assert asked == [Window(T0, T0 + FIVE)]  # asked about the window that closed last, by its start
    assert not ingest.window_complete("cloudtrail", T0, five)
    # a scheduled run is never held back by that question
    assert ingest.run_window("cloudtrail", T0, T0 + FIVE, at, five, scheduled_busy=busy) == Window(
        T0, T0 + FIVE
    )
    assert ingest.event_run_window(at, five) == Window(T0, T0 + FIVE)
