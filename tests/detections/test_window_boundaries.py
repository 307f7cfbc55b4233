"""Rules that think in windows, at the edges of the hourly windows they run in.

Threshold, first-seen and sequence rules each get: an event just before the window, one exactly at its start
or end, and late data (a re-run of a window after more of its events arrived). Events go through the real
CloudTrail/CloudWatch parsers into DuckDB, the real rule runs per window, and the real ledger records each
window's contribution, exactly as the detect DAG does, so "one alert, no duplicates" is checked where it is
decided.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp

from mamori.alerts.ledger import Alert, Ledger
from mamori.config import load_settings
from mamori.detections.dedup import group_hits
from mamori.detections.loader import Detection, get_detection, load_catalog
from mamori.detections.model import Dedup
from mamori.detections.runner import run_detection
from mamori.detections.testing import case_table
from mamori.engines.duckdb import DuckDBEngine

SQL = Path(__file__).resolve().parents[2] / "sql"
ACCT = "123456789012"
H10 = datetime(2026, 11, 1, 10, tzinfo=UTC)
HOUR = timedelta(hours=1)
VPC_HEADER = (  # the default (v2) format's header line
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action"
    " log-status"
)


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
        elif self.det.header.log_source == "vpcflow":  # one text object: the header line, then the records
            data = "\n".join([VPC_HEADER, *self.records]).encode()
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
        fired == [alert.key]
        and alert.hit_count == 2
        and alert.dedup_values["principal"].endswith("user/carol")
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


# -- counting rules: a sliding period that reaches back across the run windows ---------------------------------
#
# Every rule that counts or sums inside its SQL (not through the ledger's threshold) gets the same three checks
# over the hourly runs [10:00, 11:00) and [11:00, 12:00): a burst straddling 11:00 is one alert, whether it
# reaches the limit after the edge or before it and goes on after it; re-running both windows keeps it one; the
# same events spread so that no sliding period reaches the limit raise nothing.

H11 = H10 + HOUR
MIB = 1024 * 1024


def spread(first: str, last: str, n: int) -> list[datetime]:
    """n instants evenly from first to last (both included), to the second."""
    a, b = at(first), at(last)
    return [a + timedelta(seconds=round(i * (b - a).total_seconds() / (n - 1))) for i in range(n)]


# 30 different denied API actions across services: the shape of permission enumeration with a stolen key.
DENIED_ACTIONS = [
    (f"{svc}.amazonaws.com", name)
    for svc, names in (
        ("iam", "ListUsers ListRoles ListPolicies GetAccountAuthorizationDetails ListGroups"),
        ("s3", "ListBuckets GetBucketPolicy GetBucketAcl GetBucketLogging GetBucketTagging"),
        ("ec2", "DescribeInstances DescribeVolumes DescribeSnapshots DescribeImages DescribeVpcs"),
        ("lambda", "ListFunctions GetFunction ListLayers GetPolicy ListAliases"),
        (
            "secretsmanager",
            "ListSecrets GetSecretValue DescribeSecret GetResourcePolicy ListSecretVersionIds",
        ),
        ("kms", "ListKeys DescribeKey ListResourceTags GetKeyPolicy ListGrants"),
    )
    for name in names.split()
]


def denials(times: list[datetime]) -> list[dict[str, Any]]:
    """One AccessDenied per instant for the IAM user mallory, on the next of the 30 API actions each time."""
    return [
        _ct(t, name, source, user("mallory"), errorCode="AccessDenied", errorMessage="not authorized")
        for t, (source, name) in zip(times, itertools.cycle(DENIED_ACTIONS), strict=False)
    ]


# 48 different read calls (List/Describe/Get) across 12 services: the shape of a discovery sweep.
READ_CALLS = [
    (f"{svc}.amazonaws.com", f"{verb}{thing}")
    for svc in ("iam", "s3", "ec2", "lambda", "rds", "kms", "sns", "sqs", "dynamodb", "logs", "ecr", "ssm")
    for verb, thing in (("List", "Resources"), ("Describe", "Resources"), ("Get", "Policy"), ("List", "Tags"))
]
REGIONS = [
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-west-2", "eu-west-3",
    "eu-central-1", "eu-north-1", "ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-southeast-1",
    "ap-southeast-2",
]  # fmt: skip


def reads(times: list[datetime]) -> list[dict[str, Any]]:
    """One successful read per instant by the IAM user mallory, on the next of the 48 read calls each time."""
    return [
        _ct(t, name, source, user("mallory"), readOnly=True)
        for t, (source, name) in zip(times, itertools.cycle(READ_CALLS), strict=False)
    ]


def region_reads(times: list[datetime]) -> list[dict[str, Any]]:
    """One DescribeInstances per instant by the IAM user mallory, in the next of 14 regions each time."""
    return [
        _ct(t, "DescribeInstances", "ec2.amazonaws.com", user("mallory"), awsRegion=region, readOnly=True)
        for t, region in zip(times, itertools.cycle(REGIONS), strict=False)
    ]


def password_requests(times: list[datetime]) -> list[dict[str, Any]]:
    """One denied GetPasswordData per instant for the IAM user mallory, each for another Windows instance."""
    return [
        _ct(
            t,
            "GetPasswordData",
            "ec2.amazonaws.com",
            user("mallory"),
            errorCode="Client.UnauthorizedOperation",
            errorMessage="You are not authorized to perform this operation.",
            requestParameters={"instanceId": f"i-0a1b2c3d4e5f{i:05d}"},
        )
        for i, t in enumerate(times)
    ]


def data_events(name: str, times: list[datetime], prefix: str = "a/") -> list[dict[str, Any]]:
    """One S3 data event (`name`: GetObject or DeleteObject) per instant by the IAM user mallory, each on
    another object of one bucket."""
    return [
        _ct(
            t,
            name,
            "s3.amazonaws.com",
            user("mallory"),
            requestParameters={"bucketName": "acme-finance", "key": f"{prefix}{i:05d}.parquet"},
            additionalEventData={"bytesTransferredOut": 1024 if name == "GetObject" else 0},
            readOnly=name == "GetObject",
            managementEvent=False,
            eventCategory="Data",
        )
        for i, t in enumerate(times)
    ]


def key_decrypts(times: list[datetime], keys: int = 6) -> list[dict[str, Any]]:
    """One KMS Decrypt per instant by the IAM user mallory, on the next of `keys` keys each time."""
    return [
        _ct(
            t,
            "Decrypt",
            "kms.amazonaws.com",
            user("mallory"),
            requestParameters={"encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
            resources=[{"type": "AWS::KMS::Key", "ARN": f"arn:aws:kms:us-east-1:{ACCT}:key/k-{i % keys}"}],
            readOnly=True,
        )
        for i, t in enumerate(times)
    ]


SCANNED_PORTS = (21, 22, 23, 25, 53, 80, 88, 110, 111, 135, 139, 143, 389, 443, 445, 636, 873, 993, 995, 1433)


def flow(t: datetime, src: str, dst: str, sport: int, dport: int, nbytes: int, action: str) -> str:
    """One VPC flow log v2 line (TCP), starting at t and lasting a second."""
    epoch = int(t.timestamp())
    packets = max(1, nbytes // 1400)
    return (
        f"2 {ACCT} eni-0a1b2c3d4e5f60718 {src} {dst} {sport} {dport} 6 {packets} {nbytes} {epoch} {epoch + 1} "
        f"{action} OK"
    )


def probes(times: list[datetime], ports: Sequence[int] = SCANNED_PORTS) -> list[str]:
    """A rejected SYN from 198.51.100.23 to the next of `ports` of 10.0.1.15 per instant."""
    assert len(times) <= len(ports)
    return [
        flow(t, "198.51.100.23", "10.0.1.15", 40000 + i, port, 44, "REJECT")
        for i, (t, port) in enumerate(zip(times, ports, strict=False))
    ]


def uploads(times: list[datetime], mib: int) -> list[str]:
    """An upload of `mib` MiB per instant from 10.0.1.15 to the internet address 198.51.100.23 on 443."""
    return [
        flow(t, "10.0.1.15", "198.51.100.23", 40000 + i, 443, mib * MIB, "ACCEPT")
        for i, t in enumerate(times)
    ]


def failed_then_accepted(times: list[datetime], accepted: str) -> list[dict[str, Any]]:
    """sshd: a failed root password per instant from 198.51.100.23, then an accepted login at `accepted`."""

    def line(t: datetime, msg: str) -> dict[str, Any]:
        ms = int(t.timestamp() * 1000)
        return {
            "id": str(ms) + "0" * 40,
            "timestamp": ms,
            "message": f"Nov  1 {t:%H:%M:%S} ip-10-0-1-15 sshd[7000]: {msg}",
        }

    events = [
        line(t, f"Failed password for root from 198.51.100.23 port {42000 + i} ssh2")
        for i, t in enumerate(times)
    ]
    events.append(line(at(accepted), "Accepted password for ec2-user from 198.51.100.23 port 50022 ssh2"))
    return [
        {
            "messageType": "DATA_MESSAGE",
            "owner": ACCT,
            "logGroup": "/ec2/var/log/secure",
            "logStream": "i-0123456789abcdef0",
            "subscriptionFilters": ["mamori"],
            "logEvents": events,
        }
    ]


@dataclass(frozen=True)
class Bursts:
    """Events for one counting rule around the 11:00 edge between two hourly runs."""

    after: Callable[[], list[Any]]  # reaches the rule's limit after 11:00
    before: Callable[[], list[Any]]  # reaches it before 11:00, and goes on after it
    spread: Callable[[], list[Any]]  # like `after`, spread so that no sliding period reaches the limit
    # Rules that report a burst once: a burst at the limit across 10:00, resumed after 11:00 while its last
    # event at the limit is less than a period old (the same burst, even though the 11:00 run only sees
    # that it was at the limit by reading back that event's own period too).
    resumed: Callable[[], list[Any]] | None = None


COUNTING_RULES: dict[str, Bursts] = {
    # >= 20 denials over >= 10 actions within an hour
    "cloudtrail_access_denied_volume": Bursts(
        # the example: 30 calls on 30 actions from 10:50 to 11:07, 18 + 12 (the 20th at 11:01:08)
        after=lambda: denials(spread("10:50:00", "11:07:00", 30)),
        # one every 40 s from 10:46:40: the 20th at 10:59:20, then 25 more (>= 20 in each run on its own)
        before=lambda: denials(spread("10:46:40", "11:16:00", 45)),
        # one every 4 minutes from 10:02 to 11:58: at most 16 in any hour
        spread=lambda: denials(spread("10:02:00", "11:58:00", 30)),
        # 25 from 09:55 to 10:05, at the limit from 10:02:55; 20 more from 11:00, at the limit at 11:00:57
        # (with the 10 of 10:01:15 to 10:05)
        resumed=lambda: [
            *denials(spread("09:55:00", "10:05:00", 25)),
            *denials(spread("11:00:00", "11:02:00", 20)),
        ],
    ),
    # >= 3 denials of one sensitive API by one principal within an hour
    "cloudtrail_sensitive_api_denied": Bursts(
        # 10:40, 10:55 and the third at 11:10
        after=lambda: password_requests(spread("10:40:00", "11:10:00", 3)),
        # one every 5 minutes from 10:45: the third at 10:55, then 5 more from 11:00
        before=lambda: password_requests(spread("10:45:00", "11:20:00", 8)),
        # one every 39 minutes from 10:00: at most 2 in any hour
        spread=lambda: password_requests(spread("10:00:00", "11:57:00", 4)),
        # at the limit at 10:05 (with 09:58 and 10:02), resumed at 11:00 and 11:02: the 10:05 attempt at the
        # limit is less than an hour before either
        resumed=lambda: password_requests(
            [at("09:58:00"), at("10:02:00"), at("10:05:00"), at("11:00:00"), at("11:02:00")]
        ),
    ),
    # >= 300 different objects read (GetObject) by one principal within an hour
    "cloudtrail_s3_bulk_object_read": Bursts(
        # 330 reads from 10:50 to 11:07: 194 before 11:00, the 300th at 11:05
        after=lambda: data_events("GetObject", spread("10:50:00", "11:07:00", 330)),
        # 12 a minute from 10:30: the 300th at 10:55, then 240 more after 11:00
        before=lambda: data_events("GetObject", spread("10:30:00", "11:20:00", 600)),
        # 320 reads from 10:02 to 11:58: about 165 in any hour
        spread=lambda: data_events("GetObject", spread("10:02:00", "11:58:00", 320)),
        # 310 from 09:55 to 10:05, at the limit from 10:04:40; 260 others from 11:00, at the limit at 11:01:35
        # (with the reads of 10:01:35 to 10:05)
        resumed=lambda: [
            *data_events("GetObject", spread("09:55:00", "10:05:00", 310)),
            *data_events("GetObject", spread("11:00:00", "11:02:00", 260), prefix="b/"),
        ],
    ),
    # >= 100 different objects deleted (DeleteObject) by one principal within an hour
    "cloudtrail_s3_mass_delete": Bursts(
        # 110 deletes from 10:55 to 11:05: the 100th at 11:04
        after=lambda: data_events("DeleteObject", spread("10:55:00", "11:05:00", 110)),
        # 200 from 10:40 to 11:10: the 100th at 10:55, then 67 more after 11:00
        before=lambda: data_events("DeleteObject", spread("10:40:00", "11:10:00", 200)),
        # 150 from 10:00 to 11:59: at most 76 in any hour
        spread=lambda: data_events("DeleteObject", spread("10:00:00", "11:59:00", 150)),
        # 110 from 09:55 to 10:05, at the limit from 10:04; 110 others from 11:00, at the limit at 11:01
        resumed=lambda: [
            *data_events("DeleteObject", spread("09:55:00", "10:05:00", 110)),
            *data_events("DeleteObject", spread("11:00:00", "11:03:00", 110), prefix="b/"),
        ],
    ),
    # >= 5 different KMS keys used to decrypt by one principal within an hour
    "cloudtrail_kms_decrypt_many_keys": Bursts(
        # one key every 160 s from 10:52: the 5th key at 11:02:40
        after=lambda: key_decrypts(spread("10:52:00", "11:08:00", 7)),
        # one every 146 s from 10:50: the 5th key at 10:59:46, then five more calls after 11:00
        before=lambda: key_decrypts(spread("10:50:00", "11:12:00", 10)),
        # six keys, one every 23 minutes from 10:02: at most three in any hour
        spread=lambda: key_decrypts(spread("10:02:00", "11:58:00", 6)),
        # six keys from 09:58 to 10:05 (the 5th at 10:03:36), six again from 11:00: at the limit at 11:00 with
        # the keys of 10:00:48 to 10:05
        resumed=lambda: [
            *key_decrypts(spread("09:58:00", "10:05:00", 6)),
            *key_decrypts(spread("11:00:00", "11:02:00", 6)),
        ],
    ),
    # >= 30 different read calls over >= 10 services by one principal within an hour
    "cloudtrail_discovery_breadth": Bursts(
        # one every 26 s from 10:50: the 30th call at 11:02:38
        after=lambda: reads(spread("10:50:00", "11:07:00", 40)),
        # one every 51 s from 10:30: the 30th at 10:54:33, then 25 more after 11:00
        before=lambda: reads(spread("10:30:00", "11:20:00", 60)),
        # one every ~3 minutes from 10:02: at most 21 in any hour
        spread=lambda: reads(spread("10:02:00", "11:58:00", 40)),
        # 45 from 09:55 to 10:05 (at the limit from about 10:01:35: the rule counts calls with approx_distinct,
        # so the margin is wide); 45 again from 11:00, at the limit within a minute with the 22 calls of 10:00
        # to 10:05, while the 10:05 call at the limit is less than an hour old
        resumed=lambda: [
            *reads(spread("09:55:00", "10:05:00", 45)),
            *reads(spread("11:00:00", "11:02:00", 45)),
        ],
    ),
    # >= 10 regions read (List/Describe) by one principal within an hour
    "cloudtrail_region_enumeration": Bursts(
        # one region every 74 s from 10:52: the 10th at 11:03:04
        after=lambda: region_reads(spread("10:52:00", "11:08:00", 14)),
        # one every 95 s from 10:45: the 10th region at 10:59:12, then 10 more calls after 11:00
        before=lambda: region_reads(spread("10:45:00", "11:15:00", 20)),
        # one region every ~9 minutes from 10:02: at most 7 in any hour
        spread=lambda: region_reads(spread("10:02:00", "11:58:00", 14)),
        # 12 regions from 09:58 to 10:05 (the 10th at 10:03:44); 12 again from 11:00, at the limit at 11:00:11
        # with the 8 regions of 10:00:33 to 10:05
        resumed=lambda: [
            *region_reads(spread("09:58:00", "10:05:00", 12)),
            *region_reads(spread("11:00:00", "11:02:00", 12)),
        ],
    ),
    # >= 10 distinct ports of one host within 10 minutes
    "vpcflow_port_scan": Bursts(
        # one port every 40 s from 10:55: 8 + 8, the 10th at 11:01
        after=lambda: probes(spread("10:55:00", "11:05:00", 16)),
        # one every 30 s from 10:55: the 10th at 10:59:30, then 10 more (a scan in each run on its own)
        before=lambda: probes(spread("10:55:00", "11:04:30", 20)),
        # one every 75 s from 10:50: at most 9 in any 10 minutes
        spread=lambda: probes(spread("10:50:00", "11:08:45", 16)),
        # 12 ports from 10:48 to 10:51:40, at the limit from 10:51; 10 other ports from 11:00, at the limit at
        # 11:00:20 (with the 5 of 10:50:20 to 10:51:40)
        resumed=lambda: [
            *probes(spread("10:48:00", "10:51:40", 12)),
            *probes(spread("11:00:00", "11:00:45", 10), ports=range(8000, 8010)),
        ],
    ),
    # >= 100 MiB to one internet address within an hour
    "vpcflow_large_egress": Bursts(
        # 25 MiB every 7 minutes from 10:45: 75 + 25, the 100th MiB at 11:06
        after=lambda: uploads(spread("10:45:00", "11:06:00", 4), mib=25),
        # 40 MiB every 4 minutes from 10:50: 120 MiB by 10:58, then 120 more (over the limit in each run)
        before=lambda: uploads(spread("10:50:00", "11:10:00", 6), mib=40),
        # 25 MiB every 21 minutes from 10:12: at most 75 MiB in any hour
        spread=lambda: uploads(spread("10:12:00", "11:57:00", 6), mib=25),
        # 60 MiB at 09:50 and 10:05 (at the limit at 10:05), 60 more at 11:00 (at the limit with the 10:05 one)
        resumed=lambda: uploads([at("09:50:00"), at("10:05:00"), at("11:00:00")], mib=60),
    ),
    # sequence rules: >= 5 failed console logins in the 30 minutes before a success
    "cloudtrail_console_login_after_failures": Bursts(
        after=lambda: [
            *fails("alice", "10:57:00", "10:58:00", "10:59:00", "11:00:00", "11:01:00"),
            login("11:02:00", "alice", ok=True),
        ],
        before=lambda: [
            *fails("alice", "10:55:00", "10:56:00", "10:57:00", "10:58:00", "10:59:00"),
            login("10:59:30", "alice", ok=True),
            *fails("alice", "11:00:00", "11:01:00"),
        ],
        # only 10:40, 10:50 and 11:00 are within 30 minutes of the success
        spread=lambda: [
            *fails("alice", "10:20:00", "10:30:00", "10:40:00", "10:50:00", "11:00:00"),
            login("11:05:00", "alice", ok=True),
        ],
    ),
    # >= 10 failed SSH passwords from one address on one host in the 30 minutes before an accepted login
    "syslog_ssh_login_after_failures": Bursts(
        after=lambda: failed_then_accepted(spread("10:55:00", "11:04:00", 10), accepted="11:05:00"),
        before=lambda: failed_then_accepted(spread("10:50:00", "10:59:00", 10), accepted="11:00:00"),
        # one every 5 minutes from 10:20: 6 within 30 minutes of the login
        spread=lambda: failed_then_accepted(spread("10:20:00", "11:05:00", 10), accepted="11:06:00"),
    ),
}
COUNTING = sorted(COUNTING_RULES)


def run_both_windows(ct: Lake) -> list[str]:
    return ct.run(H10) + ct.run(H11)


def describe(alerts: list[Alert]) -> str:
    return f"{len(alerts)} alert(s)" + "".join(f" [{a.first_seen} x{a.hit_count}]" for a in alerts)


@pytest.mark.parametrize("scenario", ["reaches_limit_after_the_edge", "reaches_limit_before_the_edge"])
@pytest.mark.parametrize("rule", COUNTING)
def test_counting_burst_straddling_the_hour_is_one_alert_and_reruns_keep_it_one(lake, rule, scenario):
    bursts = COUNTING_RULES[rule]
    ct = lake(rule).add(*(bursts.after() if scenario == "reaches_limit_after_the_edge" else bursts.before()))
    fired = run_both_windows(ct)
    alerts = ct.alerts()
    assert len(alerts) == 1, f"{rule}: burst across 11:00 gave {describe(alerts)}; expected exactly one"
    (alert,) = alerts
    assert set(fired) == {alert.key}
    assert alert.hit_count == 1, f"{rule}: one burst counted {alert.hit_count} times (once per run?)"
    for start in (H11, H10, H10, H11):  # re-runs, in any order, replace their own contributions
        ct.run(start)
    again = ct.alerts()
    assert len(again) == 1, f"{rule}: after re-running both windows {describe(again)}"
    assert (again[0].key, again[0].hit_count, again[0].first_seen) == (
        alert.key,
        alert.hit_count,
        alert.first_seen,
    )


@pytest.mark.parametrize("rule", [r for r in COUNTING if COUNTING_RULES[r].resumed])
def test_counting_burst_resuming_within_its_period_is_still_one_hit(lake, rule):
    resumed = COUNTING_RULES[rule].resumed
    assert resumed is not None
    ct = lake(rule).add(*resumed())
    run_both_windows(ct)
    alerts = ct.alerts()
    assert len(alerts) == 1 and alerts[0].hit_count == 1, f"{rule}: resumed burst gave {describe(alerts)}"


@pytest.mark.parametrize("rule", COUNTING)
def test_counting_burst_spread_below_the_limit_in_every_sliding_period_is_quiet(lake, rule):
    ct = lake(rule).add(*COUNTING_RULES[rule].spread())
    assert run_both_windows(ct) == []
    assert ct.alerts() == [], f"{rule}: {describe(ct.alerts())}"


def test_every_rule_that_counts_in_its_sql_has_boundary_cases():
    """A rule that aggregates (count, sum, distinct, window functions) must be in COUNTING_RULES. First-seen
    rules aggregate only their baseline (a min per principal), which ends where the window starts."""
    counting = set()
    for det in load_catalog(SQL):
        tree = sqlglot.parse_one(det.render(H10, H11), read="athena")
        if det.header.lookback is None and any(tree.find_all(exp.AggFunc, exp.Window)):
            counting.add(det.id)
    assert counting == set(COUNTING_RULES)
