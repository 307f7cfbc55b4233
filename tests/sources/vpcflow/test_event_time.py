"""VPC Flow Logs times: `start` and `end` are both event times. Either one outside the plausible range
(2010-01-01 .. 2100) quarantines that record alone, with a reason naming the field; the rest of the object
converts (the columnar path agrees: tests/sources/conftest.py compares both on every parse_object call)."""

from __future__ import annotations

import gzip

import pytest

from mamori.sources.vpcflow import DEFAULT_FORMAT, SOURCE

KEY = (
    "AWSLogs/123456789010/vpcflowlogs/us-east-1/2026/11/01/"
    "123456789010_vpcflowlogs_us-east-1_fl-1234abcd_20261101T1030Z_fe123456.log.gz"
)
START = 1793529600  # 2026-11-01T09:20:00Z


def record(start: str, end: str) -> str:
    return f"2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 {start} {end} ACCEPT OK"


@pytest.mark.parametrize(
    ("start", "end", "reason"),
    [
        ("0", str(START + 60), "start 0"),
        (str(START), "0", "end 0"),
        (str(START), "12", "end 12"),
        ("-", "1262303999", "end 1262303999"),  # no start: end times the record, and 2009-12-31 is too early
        (str(START), "99999999999", "end 99999999999"),
    ],
    ids=["start-1970", "end-1970", "end-12", "end-only-2009", "end-year-5138"],
)
def test_one_implausible_time_field_quarantines_that_record_only(start, end, reason):
    raw = SOURCE.classify(KEY)
    assert raw is not None
    good = record(str(START), str(START + 60))
    body = "\n".join([" ".join(DEFAULT_FORMAT), good, record(start, end), good]) + "\n"
    res = SOURCE.parse_object(raw, gzip.compress(body.encode(), mtime=0))
    assert len(res.rows) == 2
    (q,) = res.quarantined
    assert q.index == 2 and reason in q.reason and "2010-01-01" in q.reason, q.reason
