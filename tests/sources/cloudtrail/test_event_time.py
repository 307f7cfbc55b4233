"""CloudTrail event times: a time Python cannot hold once normalised to UTC is an invalid record, not a crash."""

from __future__ import annotations

import json

import pytest

from mamori.sources.cloudtrail import SOURCE, parse_event_time

KEY = (
    "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/01/"
    "123456789012_CloudTrail_us-east-1_20261101T1030Z_Ab12Cd34Ef56Gh78.json.gz"
)


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_time_that_overflows_when_normalised_to_utc_is_invalid_not_an_exception(value):
    assert parse_event_time(value) is None
    good = {
        "eventTime": "2026-11-01T10:00:00Z",
        "eventSource": "ec2.amazonaws.com",
        "eventName": "RunInstances",
    }
    raw = SOURCE.classify(KEY)
    assert raw is not None
    res = SOURCE.parse_object(raw, json.dumps({"Records": [good, good | {"eventTime": value}]}).encode())
    assert len(res.rows) == 1 and [q.index for q in res.quarantined] == [1]
    assert "eventTime" in res.quarantined[0].reason
