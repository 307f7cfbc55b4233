"""Helpers and fixtures (re-exported by conftest.py) for the data-quality tests: land small raw objects with
chosen landing times, run ingest windows, read alerts."""

from __future__ import annotations

import gzip
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from mamori import ingest
from mamori.lake import Store

T0 = datetime(2026, 11, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
ACCT = "123456789012"
ACCT2 = "210987654321"


def hour(n: int) -> datetime:
    return T0 + n * HOUR


def ct_record(
    t: datetime, name: str = "DescribeInstances", account: str = ACCT, region: str = "us-east-1", **extra
):
    """A complete CloudTrail record (every field real deliveries carry), so only what a test changes fails."""
    return {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "userName": "dana",
            "accountId": account,
            "arn": f"arn:aws:iam::{account}:user/dana",
        },
        "eventTime": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "ec2.amazonaws.com",
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": "203.0.113.10",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"maxResults": 5},
        "responseElements": None,
        "requestID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"req/{t}/{name}/{account}/{region}")),
        "eventID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"evt/{t}/{name}/{account}/{region}")),
        "readOnly": True,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    } | extra


def land(settings, key: str, body: bytes, landed: datetime) -> str:
    raw = Store(settings.raw_url)
    raw.write_atomic(key, body)
    raw.set_landed(key, landed)
    return key


def land_ct(
    settings,
    records: list[dict],
    landed: datetime,
    account: str = ACCT,
    region: str = "us-east-1",
    tag: str = "",
) -> str:
    """One CloudTrail delivery file with the given records, landed at `landed`."""
    name = (
        f"{account}_CloudTrail_{region}_{landed:%Y%m%dT%H%MZ}_{(tag or uuid.uuid4().hex)[:16]:0>16}.json.gz"
    )
    key = f"AWSLogs/{account}/CloudTrail/{region}/{landed:%Y/%m/%d}/{name}"
    return land(settings, key, gzip.compress(json.dumps({"Records": records}).encode(), mtime=0), landed)


V2 = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action "
    "log-status"
)


def vpc_line(t: datetime, account: str = ACCT, action: str = "ACCEPT", src: str = "10.0.1.15") -> str:
    s = int(t.timestamp())
    return f"2 {account} eni-0a1b2c3d {src} 203.0.113.9 443 49152 6 10 840 {s} {s + 60} {action} OK"


def land_vpc(
    settings,
    lines: list[str],
    landed: datetime,
    header: str | None = V2,
    account: str = ACCT,
    region: str = "us-east-1",
    tag: str = "a",
) -> str:
    body = "\n".join(([header] if header else []) + lines) + "\n"
    key = (
        f"AWSLogs/{account}/vpcflowlogs/{region}/{landed:%Y/%m/%d}/"
        f"{account}_vpcflowlogs_{region}_fl-0123456789abcdef0_{landed:%Y%m%dT%H%MZ}_{tag}.log.gz"
    )
    return land(settings, key, gzip.compress(body.encode(), mtime=0), landed)


def run_window(settings, source: str, start: datetime, end: datetime | None = None) -> dict:
    end = end or start + HOUR
    for batch in ingest.plan_window(source, start, end, settings):
        ingest.convert_batch(batch, settings)
    return ingest.finalize_window(source, start, end, settings)


def ledger(settings):
    from mamori.alerts.ledger import Ledger

    return Ledger(settings.ledger_url)


def alerts_of(settings, detection_id: str, status: str | None = None):
    return [a for a in ledger(settings).alerts(status) if a.detection_id == detection_id]


@pytest.fixture
def only_sources(monkeypatch):
    """Restrict the health checks to some sources (the others have no windows in these small tests)."""

    def restrict(*names: str) -> None:
        from mamori import sources
        from mamori.health import drift, freshness, reconcile
        from mamori.health import tasks as health

        picked = {n: sources.SOURCES[n] for n in names}
        for mod in (drift, freshness, reconcile):
            monkeypatch.setattr(mod, "SOURCES", picked)
        monkeypatch.setattr(sources, "SOURCES", picked)
        assert health  # imported so its lazy imports see the patched registry

    return restrict


@pytest.fixture
def no_gx(monkeypatch):
    """Skip Great Expectations inside ingest (3-4 s to import, ~0.3 s per batch) in tests about something else;
    the expectations themselves are tested in test_dq_validate.py."""
    from mamori.quality.validate import BatchQuality

    monkeypatch.setattr(ingest, "validate_table", lambda source, *a, **k: BatchQuality(source))
