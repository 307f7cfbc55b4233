"""Insights events go to their own table; the event table routes them away."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from mamori.sources import cloudtrail, cloudtrail_insights
from mamori.sources.cloudtrail_insights.generate import generate_cloudtrail_insights

START = datetime(2026, 11, 1, tzinfo=UTC)


def generated(seed: int = 7) -> list[tuple[str, bytes, datetime]]:
    out: list[tuple[str, bytes, datetime]] = []
    generate_cloudtrail_insights(lambda k, d, t: out.append((k, d, t)), START, hours=24, seed=seed)
    return out


def test_insights_parse_into_their_own_table_and_the_event_table_skips_them():
    objects = generated()
    assert len(objects) == 4
    for key, data, landed in objects:
        raw = cloudtrail_insights.SOURCE.classify(key)
        assert raw is not None and raw.kind == "events"
        res = cloudtrail_insights.SOURCE.parse_object(raw, data)
        assert res.quarantined == [] and len(res.rows) == 1
        row = res.rows[0][1]
        assert row["source"] == "cloudtrail_insights" and row["eventcategory"] == "Insight"
        details = json.loads(row["insightdetails"])
        assert details["state"] in ("Start", "End") and details["insightType"].endswith("Insight")
        assert row["sharedeventid"]
        assert (row["eventsource"], row["eventname"]) == (details["eventSource"], details["eventName"])
        # The event table's source classifies the same key as an insight file and skips it.
        ct_raw = cloudtrail.SOURCE.classify(key)
        assert ct_raw is not None and ct_raw.kind == "insight"
        assert cloudtrail.SOURCE.parse_object(ct_raw, data).skipped_reason
        assert landed > row["event_time"]


def test_insights_source_claims_only_insight_keys():
    ct_key = (
        "AWSLogs/111111111111/CloudTrail/us-east-1/2026/11/01/"
        "111111111111_CloudTrail_us-east-1_20261101T0005Z_A.json.gz"
    )
    assert cloudtrail_insights.SOURCE.classify(ct_key) is None
    prefixes = cloudtrail_insights.SOURCE.list_prefixes(START, START.replace(hour=1))
    assert prefixes and all("CloudTrail-Insight/" in p for p in prefixes)


def test_generator_is_deterministic_and_pairs_start_with_end():
    assert generated() == generated()
    assert generated(1) != generated(2)
    shared = {}
    for key, data, _ in generated():
        rec = json.loads(__import__("gzip").decompress(data))["Records"][0]
        shared.setdefault(rec["sharedEventID"], []).append(rec["insightDetails"]["state"])
    assert sorted(map(sorted, shared.values())) == [["End", "Start"], ["End", "Start"]]
