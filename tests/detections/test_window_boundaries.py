"""Rules that think in windows, at the edges of the hourly windows they run in.

Threshold, first-seen and sequence rules each get: an event just before the window, one exactly at its start
or end, and late data (a re-run of a window after more of its events arrived). Events go through the real
CloudTrail/CloudWatch parsers into DuckDB, the real rule runs per window, and the real ledger records each
window's contribution, exactly as the detect DAG does, so "one alert, no duplicates" is checked where it is
decided.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest

from mamori.alerts.builder import group_hits
from mamori.alerts.ledger import Alert, Ledger
from mamori.config import load_settings
from mamori.detections.loader import Detection, get_detection
from mamori.detections.model import Dedup
from mamori.detections.runner import run_detection
from mamori.detections.testing import case_table
from mamori.engines.duckdb import DuckDBEngine

SQL = Path(__file__).resolve().parents[2] / "sql"
ACCT = "123456789012"
H10 = datetime(2026, 11, 1, 10, tzinfo=UTC)
HOUR = timedelta(hours=1)


def at(text: str) -> datetime:
    """'09:59:59' on the test day, or a full ISO timestamp."""
    if "T" in text:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    return datetime.fromisoformat(f"2026-11-01T{text}").replace(tzinfo=UTC)


def _ct(t: datetime, name: str, source: str, ui: dict[str, Any], **extra: Any) -> dict[str, Any]:
    rid = hashlib.sha256(f"{t}{name}{ui}{extra}".encode()).hexdigest()
    return {
        "eventVersion": "1.10",
        "userIdentity": ui,
        "eventTime": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.23",
        "userAgent": "aws-cli/2.22.4",
        "eventID": f"{rid[:8]}-{rid[8:12]}-{rid[12:16]}-{rid[16:20]}-{rid[20:32]}",
        "eventType": "AwsApiCall",
        "recipientAccountId": ACCT,
        **extra,
    }


def user(name: str) -> dict[str, Any]:
    return {
        "type": "IAMUser",
        "principalId": f"AIDA{name.upper()}",
        "arn": f"arn:aws:iam::{ACCT}:user/{name}",
        "accountId": ACCT,
        "userName": name,
    }


def login(t: str, name: str, ok: bool) -> dict[str, Any]:
    extra: dict[str, Any] = {"responseElements": {"ConsoleLogin": "Success" if ok else "Failure"}}
    if not ok:
        extra["errorMessage"] = "Failed authentication"
    return _ct(
        at(t), "ConsoleLogin", "signin.amazonaws.com", user(name), eventType="AwsConsoleSignIn", **extra
    )


def caller_identity(t: str, name: str) -> dict[str, Any]:
    return _ct(at(t), "GetCallerIdentity", "sts.amazonaws.com", user(name))


class Lake:
    """Events of one source as the lake would hold them, and one ledger: run(window) = one detect run."""

    def __init__(self, tmp: Path, detection: Detection) -> None:
        self.det = detection
        self.records: list[Any] = []
        self.ledger = Ledger(f"sqlite:///{tmp / 'ledger.db'}")

    def add(self, *records: Any) -> Lake:
        self.records += records
        return self

    def _table(self) -> pa.Table:
        if self.det.header.log_source == "cloudtrail":
            data = orjson.dumps({"Records": self.records})
        else:  # CloudWatch Logs subscription (Firehose) documents, one per record batch
            data = b"".join(orjson.dumps(r) for r in self.records)
        table, quarantined = case_table(self.det.header.log_source, data)
        assert quarantined == 0
        return table

    def run(self, start: datetime, end: datetime | None = None) -> list[str]:
        """Hits of [start, end) recorded in the ledger (replacing an earlier run of the window)."""
        end = end or start + HOUR
        engine = DuckDBEngine(load_settings({"MAMORI_HOME": "/nonexistent"}), threads=1, create_views=False)
        try:
            engine.register_table(self.det.header.log_source, self._table())
            hits = run_detection(self.det, engine, start, end)
        finally:
            engine.close()
        return self.ledger.record_window(self.det, start, end, group_hits(self.det, hits))

    def alerts(self) -> list[Alert]:
        return self.ledger.alerts()


@pytest.fixture
def lake(tmp_path: Path) -> Iterator[Callable[[str], Lake]]:
    yield lambda detection_id: Lake(tmp_path, get_detection(SQL, detection_id))


# -- threshold: 5 failed console logins per user in an aligned 15-minute bucket ------------------------------


def fails(name: str, *times: str) -> list[dict[str, Any]]:
    return [login(t, name, ok=False) for t in times]


def test_threshold_event_just_before_the_window_belongs_to_the_previous_run(lake):
    ct = lake("cloudtrail_console_login_brute_force").add(
        *fails("alice", "09:59:59", "10:00:00", "10:01:00", "10:02:00", "10:03:00")
    )
    assert ct.run(H10 - HOUR) == [] and ct.run(H10) == []  # 1 + 4 in different buckets: below 5 in each
    assert ct.alerts() == []


def test_threshold_event_exactly_at_window_start_is_inside_and_end_is_outside(lake):
    ct = lake("cloudtrail_console_login_brute_force").add(
        *fails("alice", "10:00:00", "10:01:00", "10:02:00", "10:03:00", "10:04:00"),
        *fails("bob", "10:46:00", "10:50:00", "10:55:00", "10:59:59", "11:00:00"),
    )
    assert ct.run(H10 - HOUR) == []
    fired = ct.run(H10)
    (alert,) = ct.alerts()
    assert fired == [alert.key] and alert.dedup_values["actor"] == "alice" and alert.hit_count == 5
    assert ct.run(H10 + HOUR) == []  # bob's 11:00:00 is the next window's, and alone there
    assert len(ct.alerts()) == 1


def test_threshold_over_a_period_longer_than_the_window_adds_up_across_runs(lake):
    ct = lake("cloudtrail_console_login_brute_force")
    # The same rule with a 2-hour dedup period: buckets [10:00, 12:00) span two hourly runs.
    header = ct.det.header.model_copy(update={"dedup": Dedup(keys=["account_id", "actor"], period="2h")})
    ct.det = Detection(header=header, body=ct.det.body, path=ct.det.path)
    ct.add(*fails("alice", "09:58:00", "10:50:00", "10:52:00", "10:55:00", "11:01:00", "11:02:00"))
    assert ct.run(H10 - HOUR) == []  # 09:58 is in the 08:00 bucket
    assert ct.run(H10) == []  # 3 so far in the 10:00 bucket: below threshold
    fired = ct.run(H10 + HOUR)  # 3 + 2 in the same bucket, seen by two runs
    (alert,) = ct.alerts()
    assert fired == [alert.key] and alert.hit_count == 5
    for start in (H10 - HOUR, H10, H10 + HOUR):  # re-runs replace their contributions, never add them again
        ct.run(start)
    (again,) = ct.alerts()
    assert again.key == alert.key and again.hit_count == 5


def test_threshold_late_data_rerun_fires_once(lake):
    ct = lake("cloudtrail_console_login_brute_force").add(
        *fails("alice", "10:01:00", "10:02:00", "10:03:00", "10:04:00")
    )
    assert ct.run(H10) == []
    ct.add(*fails("alice", "10:05:00"))  # delivered late: lands after the window was first processed
    fired = ct.run(H10)
    (alert,) = ct.alerts()
    assert fired == [alert.key] and alert.hit_count == 5
    assert ct.run(H10) == [alert.key]  # a third run of the window: same alert, same count, no second one
    (same,) = ct.alerts()
    assert same.key == alert.key and same.hit_count == 5


# -- first-seen: GetCallerIdentity by a principal not seen in the 14-day lookback ----------------------------

HISTORY = [caller_identity("2026-10-31T20:00:00", "ci-bot")]  # >= 6 h of account history before 10:00


def test_first_seen_baseline_ends_exactly_at_the_window_start(lake):
    ct = lake("cloudtrail_first_seen_caller_identity").add(
        *HISTORY, caller_identity("09:59:59", "bob"), caller_identity("10:00:00", "bob")
    )
    assert ct.run(H10) == []  # bob at 09:59:59 is in the baseline: his 10:00:00 call is not new
    ct2 = lake("cloudtrail_first_seen_caller_identity").add(
        *HISTORY, caller_identity("10:00:00", "carol"), caller_identity("10:30:00", "carol")
    )
    fired = ct2.run(H10)
    (alert,) = ct2.alerts()  # both calls are first-seen (no baseline); one alert per principal per day
    assert (
        fired == [alert.key] and alert.hit_count == 2 and alert.dedup_values["actor"].endswith("user/carol")
    )


def test_first_seen_baseline_starts_exactly_lookback_before_the_window(lake):
    lookback = timedelta(days=14)
    just_inside = (H10 - lookback).strftime("%Y-%m-%dT%H:%M:%S")
    just_outside = (H10 - lookback - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")
    known = lake("cloudtrail_first_seen_caller_identity").add(
        *HISTORY, caller_identity(just_inside, "bob"), caller_identity("10:10:00", "bob")
    )
    assert known.run(H10) == []
    forgotten = lake("cloudtrail_first_seen_caller_identity").add(
        *HISTORY, caller_identity(just_outside, "bob"), caller_identity("10:10:00", "bob")
    )
    assert len(forgotten.run(H10)) == 1  # 14 days and 1 second ago is outside the lookback


def test_first_seen_late_data_rerun_fires_once_and_becomes_the_next_baseline(lake):
    ct = lake("cloudtrail_first_seen_caller_identity").add(*HISTORY)
    assert ct.run(H10) == []
    ct.add(caller_identity("10:15:00", "bob"))  # late delivery for the 10:00 window
    fired = ct.run(H10)
    assert len(fired) == 1 and ct.run(H10) == fired
    ct.add(caller_identity("11:10:00", "bob"))
    assert ct.run(H10 + HOUR) == []  # 10:15 is now history: bob is no longer new
    assert len(ct.alerts()) == 1


# -- sequence: 5 failed console logins, then a success for the same user within 30 minutes -------------------


def test_sequence_steps_split_across_windows_fire_once_in_the_window_of_the_last_step(lake):
    ct = lake("cloudtrail_console_login_after_failures").add(
        *fails("alice", "09:35:00", "09:36:00", "09:37:00", "09:38:00", "09:39:00"),
        login("10:00:00", "alice", ok=True),
    )
    assert ct.run(H10 - HOUR) == []  # the failures alone: no success yet in this window
    fired = ct.run(H10)
    (alert,) = ct.alerts()
    assert fired == [alert.key] and alert.first_seen.startswith("2026-11-01T10:00:00")


@pytest.mark.parametrize(("first_failure", "expected"), [("09:30:00", 1), ("09:29:59", 0)])
def test_sequence_lookback_edge_is_exactly_30_minutes_before_the_last_step(lake, first_failure, expected):
    ct = lake("cloudtrail_console_login_after_failures").add(
        *fails("alice", first_failure, "09:31:00", "09:32:00", "09:33:00", "09:34:00"),
        login("10:00:00", "alice", ok=True),
    )
    assert len(ct.run(H10)) == expected


def test_sequence_last_step_at_window_end_belongs_to_the_next_window(lake):
    ct = lake("cloudtrail_console_login_after_failures").add(
        *fails("alice", "10:50:00", "10:51:00", "10:52:00", "10:53:00", "10:54:00"),
        login("11:00:00", "alice", ok=True),
    )
    assert ct.run(H10) == []
    assert len(ct.run(H10 + HOUR)) == 1


def test_sequence_late_first_steps_rerun_fires_once(lake):
    ct = lake("cloudtrail_console_login_after_failures").add(login("10:20:00", "alice", ok=True))
    assert ct.run(H10) == []
    ct.add(*fails("alice", "10:10:00", "10:11:00", "10:12:00", "10:13:00", "10:14:00"))  # late delivery
    fired = ct.run(H10)
    assert len(fired) == 1 and ct.run(H10) == fired and ct.run(H10 + HOUR) == []
    assert len(ct.alerts()) == 1


def test_user_data_sequence_across_the_hour(lake):
    op = user("mallory")
    modify = _ct(
        at("09:57:00"),
        "ModifyInstanceAttribute",
        "ec2.amazonaws.com",
        op,
        requestParameters={
            "instanceId": "i-0abc",
            "attribute": "userData",
            "value": "<sensitiveDataRemoved>",
        },
    )
    start = _ct(
        at("10:01:30"),
        "StartInstances",
        "ec2.amazonaws.com",
        op,
        requestParameters={"instancesSet": {"items": [{"instanceId": "i-0abc"}]}},
    )
    ct = lake("cloudtrail_ec2_user_data_then_start").add(modify, start)
    assert ct.run(H10 - HOUR) == [] and len(ct.run(H10)) == 1
    (alert,) = ct.alerts()
    assert alert.dedup_values["target"] == "i-0abc"


def test_ssh_sequence_across_the_hour(lake):
    def line(t: str, msg: str) -> dict[str, Any]:
        ts = at(t)
        return {
            "id": str(int(ts.timestamp() * 1000)) + "0" * 40,
            "timestamp": int(ts.timestamp() * 1000),
            "message": f"Nov  1 {t} ip-10-0-1-15 sshd[7000]: {msg}",
        }

    fails_ = [
        line(
            f"09:{50 + i // 3}:{i % 3 * 20:02d}",
            f"Failed password for root from 198.51.100.23 port {42000 + i} ssh2",
        )
        for i in range(10)
    ]
    doc = {
        "messageType": "DATA_MESSAGE",
        "owner": ACCT,
        "logGroup": "/ec2/var/log/secure",
        "logStream": "i-0123456789abcdef0",
        "subscriptionFilters": ["mamori"],
        "logEvents": [
            *fails_,
            line("10:05:00", "Accepted password for ec2-user from 198.51.100.23 port 50022 ssh2"),
        ],
    }
    ct = lake("syslog_ssh_login_after_failures").add(doc)
    assert ct.run(H10 - HOUR) == []
    assert len(ct.run(H10)) == 1 and len(ct.alerts()) == 1


def test_a_rule_returning_hits_outside_its_window_is_refused(tmp_path):
    """A sequence that reported its earlier step would be claimed by two runs: the runner refuses it."""
    from mamori.detections.loader import load_detection
    from mamori.detections.runner import DetectionOutputError

    src = (SQL / "detections" / "cloudtrail" / "cloudtrail_console_login_after_failures.sql").read_text()
    bad = src.replace(
        "    s.event_time,\n    s.account_id,\n    s.sourceipaddress AS source_ip,",
        "    max(f.event_time) AS event_time,\n    s.account_id,\n    s.sourceipaddress AS source_ip,",
    )
    assert bad != src
    path = tmp_path / "detections" / "cloudtrail" / "cloudtrail_console_login_after_failures.sql"
    path.parent.mkdir(parents=True)
    path.write_text(bad)
    ct = Lake(tmp_path, load_detection(path)).add(
        *fails("alice", "09:35:00", "09:36:00", "09:37:00", "09:38:00", "09:39:00"),
        login("10:00:00", "alice", ok=True),
    )
    with pytest.raises(DetectionOutputError, match="outside the window"):
        ct.run(H10)
