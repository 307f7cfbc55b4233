"""CloudTrail Insights events: a Start/End pair for the attack's unusual CreateAccessKey rate, and one
background error-rate insight, in AWS's CloudTrail-Insight key layout."""

from __future__ import annotations

import gzip
import json
import random
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from mamori.sources.cloudtrail.generate import AttackStep, Put


def _insight(
    t: datetime,
    account: str,
    region: str,
    shared: str,
    state: str,
    source: str,
    name: str,
    kind: str,
    baseline: float,
    observed: float,
    rng: random.Random,
) -> dict[str, object]:
    stats: dict[str, object] = {"baseline": {"average": baseline}, "insight": {"average": observed}}
    if state == "End":
        stats |= {"insightDuration": 20, "baselineDuration": 10080}
    return {
        "eventVersion": "1.08",
        "eventTime": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "awsRegion": region,
        "eventID": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "eventType": "AwsCloudTrailInsight",
        "recipientAccountId": account,
        "sharedEventID": shared,
        "insightDetails": {
            "state": state,
            "eventSource": source,
            "eventName": name,
            "insightType": kind,
            "insightContext": {
                "statistics": stats,
                "attributions": [
                    {
                        "attribute": "userIdentityArn",
                        "insight": [{"value": f"arn:aws:iam::{account}:user/alice", "average": observed}],
                        "baseline": [
                            {"value": f"arn:aws:iam::{account}:role/ci-deploy", "average": baseline}
                        ],
                    },
                ],
            },
        },
        "eventCategory": "Insight",
    }


def generate_cloudtrail_insights(
    put: Put,
    start: datetime,
    hours: int = 24,
    seed: int = 7,
    accounts: Sequence[str] = ("111111111111", "222222222222"),
    regions: Sequence[str] = ("us-east-1", "eu-west-1"),
) -> list[AttackStep]:
    """Deterministic by seed; insights land ~30 minutes after the period they describe, as AWS delivers them."""
    rng = random.Random(seed * 7919 + 17)  # noqa: S311 - synthetic data, determinism is the point
    end = start + timedelta(hours=hours)
    steps = []
    plans = [
        (
            accounts[0],
            regions[0],
            start + timedelta(hours=8),
            "iam.amazonaws.com",
            "CreateAccessKey",
            "ApiCallRateInsight",
            0.01,
            1.5,
            True,
        ),
        (
            accounts[-1],
            regions[-1],
            start + timedelta(hours=12, minutes=10),
            "ec2.amazonaws.com",
            "DescribeInstances",
            "ApiErrorRateInsight",
            0.02,
            0.4,
            False,
        ),
    ]
    for account, region, t0, source, name, kind, base, seen, attack in plans:
        if t0 + timedelta(minutes=20) >= end:
            continue
        shared = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        for state, t in (("Start", t0), ("End", t0 + timedelta(minutes=20))):
            delivered = t + timedelta(minutes=30)
            rand = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(16))
            key = (
                f"AWSLogs/{account}/CloudTrail-Insight/{region}/{delivered:%Y/%m/%d}/"
                f"{account}_CloudTrail-Insight_{region}_{delivered:%Y%m%dT%H%MZ}_{rand}.json.gz"
            )
            rec = _insight(t, account, region, shared, state, source, name, kind, base, seen, rng)
            body = json.dumps({"Records": [rec]}, separators=(",", ":")).encode()
            put(key, gzip.compress(body, mtime=0), delivered + timedelta(minutes=2))
        if attack:
            steps.append(
                AttackStep(t0, account, region, (), f"CloudTrail Insights: unusual {name} call rate (alice)")
            )
    return steps
