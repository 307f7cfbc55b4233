"""A small real lake for the command-line tests: six hours of generated CloudTrail (its whole attack story
falls inside), ingested window by window through mamori's own ingest (Great Expectations
included), plus one hand-written delivery whose eventSource is not an AWS service, so the data-quality
report has a flagged check to show. Built once per session (~20 s); each test gets a copy (conftest.py)."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

START = datetime(2026, 11, 1, tzinfo=UTC)
HOURS = 6
WINDOWS = HOURS + 1  # the last landing window holds the stragglers delivered after the last event
ACCT, ACCT_B = "111111111111", "222222222222"
# Lands in the third window; its eventSource fails the `regex:eventsource` expectation (action: flag).
ODD_SOURCE_AT = START + timedelta(hours=2, minutes=10)


@dataclass
class Lake:
    home: Path
    steps: list[Any]
    records: list[dict[str, Any]]  # every generated CloudTrail record: the oracle the tests count from
    objects: list[tuple[str, datetime, int]]  # (key, landed, records) of every CloudTrail delivery


def _odd_record(t: datetime) -> dict[str, Any]:
    return {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAODDSOURCE0000001",
            "arn": f"arn:aws:iam::{ACCT}:user/dana",
            "accountId": ACCT,
            "userName": "dana",
        },
        "eventTime": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "telemetry.example.com",
        "eventName": "PutTelemetry",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.10",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": None,
        "responseElements": None,
        "requestID": "req-odd-source",
        "eventID": "00000000-0000-0000-0000-0000000000aa",
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCT,
        "eventCategory": "Management",
    }


def build(home: Path) -> Lake:
    from mamori import ingest
    from mamori.config import load_settings
    from mamori.lake import Store
    from mamori.sources.cloudtrail.generate import generate_cloudtrail

    s = load_settings(
        {"MAMORI_HOME": str(home), "MAMORI_DETECT_LAG_MINUTES": "60", "MAMORI_DETECT_OVERLAP_MINUTES": "0"}
    )
    raw = Store(s.raw_url)
    records: list[dict[str, Any]] = []
    objects: list[tuple[str, datetime, int]] = []

    def put(key: str, data: bytes, landed: datetime) -> None:
        raw.write_atomic(key, data)
        raw.set_landed(key, landed)
        if "/CloudTrail/" in key:
            recs = json.loads(gzip.decompress(data))["Records"]
            records.extend(recs)
            objects.append((key, landed, len(recs)))

    steps = generate_cloudtrail(put, START, hours=HOURS, seed=7)
    landed = ODD_SOURCE_AT + timedelta(minutes=5)
    put(
        f"AWSLogs/{ACCT}/CloudTrail/us-east-1/{landed:%Y/%m/%d}/"
        f"{ACCT}_CloudTrail_us-east-1_{landed:%Y%m%dT%H%MZ}_oddsource0000000.json.gz",
        gzip.compress(json.dumps({"Records": [_odd_record(ODD_SOURCE_AT)]}).encode(), mtime=0),
        landed,
    )
    for i in range(WINDOWS):
        t = START + timedelta(hours=i)
        for batch in ingest.plan_window("cloudtrail", t, t + timedelta(hours=1), s):
            ingest.convert_batch(batch, s)
        ingest.finalize_window("cloudtrail", t, t + timedelta(hours=1), s)
    return Lake(home, steps, records, objects)
