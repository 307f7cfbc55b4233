"""Event times outside a source's plausible range are quarantined per row, with the reason, and alerted.

The plausible range of every source is [rules.SourceRules.earliest, window end + skew): AWS's logs did not exist
before 2010, and no event happens after the window it landed in closed (docs/data-quality.md, §1). A row at
1970-01-01 or in year 1 would otherwise be written under `dt=1970-01-01` / `dt=0001-01-01`, partitions Athena's
projection range never reads while DuckDB does: two engines, two answers. Such a row is quarantined alone (the
rest of its object converts), never also reported as merely late.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from quality_helpers import ACCT, alerts_of, ct_record, hour, land, land_ct, land_vpc, run_window, vpc_line

CHECK = "event_time:not_before_earliest"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
YEAR_ONE = datetime(1, 1, 1, tzinfo=UTC)
LATE_2009 = datetime(2009, 12, 31, 23, 59, 59, tzinfo=UTC)
OWNER = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"


def _alb(settings, times: list[datetime], landed: datetime) -> None:
    def line(t: datetime) -> str:
        ts = f"{t.year:04d}-{t:%m-%dT%H:%M:%S}.000000Z"
        return (
            f"https {ts} app/my-lb/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "
            '"GET https://www.example.com:443/ HTTP/1.1" "curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 '
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "
            f'"Root=1-58337281-1d84f3d73c47ec4e58577259" "www.example.com" "-" 1 {ts} "forward" "-" "-" '
            '"10.0.0.1:80" "200" "-" "-"'
        )

    key = (
        f"AWSLogs/{ACCT}/elasticloadbalancing/us-east-1/{landed:%Y/%m/%d}/{ACCT}_elasticloadbalancing_us-east-1_"
        f"app.my-lb.50dc6c495c0c9188_{landed:%Y%m%dT%H%MZ}_10.0.0.1_a1b2c3d4.log.gz"
    )
    land(settings, key, gzip.compress("".join(line(t) + "\n" for t in times).encode(), mtime=0), landed)


def _s3access(settings, times: list[datetime], landed: datetime) -> None:
    def line(t: datetime) -> str:
        ts = f"[{t:%d/%b}/{t.year:04d}:{t:%H:%M:%S} +0000]"
        return (
            f"{OWNER} my-bucket {ts} 192.0.2.3 {OWNER} 3E57427F3EXAMPLE REST.GET.OBJECT photos/puppy.jpg "
            '"GET /my-bucket/photos/puppy.jpg HTTP/1.1" 200 - 2662992 3462992 70 10 "-" "aws-cli/2.15.0" - '
            "hostid SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader my-bucket.s3.us-east-1.amazonaws.com TLSv1.2 "
            "- - us-east-1"
        )

    key = f"AWSLogs/{ACCT}/us-east-1/my-bucket/{landed:%Y/%m/%d}/{landed:%Y-%m-%d-%H-%M-%S}-0123456789ABCDEF"
    land(settings, key, "".join(line(t) + "\n" for t in times).encode(), landed)


def _cloudwatch(settings, times: list[datetime], landed: datetime) -> None:
    doc = {
        "messageType": "DATA_MESSAGE",
        "owner": ACCT,
        "logGroup": "/ec2/var/log/secure",
        "logStream": "i-0123456789abcdef0",
        "subscriptionFilters": ["mamori"],
        "logEvents": [
            {"id": str(i), "timestamp": (t - EPOCH) // timedelta(milliseconds=1), "message": f"event {i}"}
            for i, t in enumerate(times)
        ],
    }
    key = (
        f"AWSLogs/{ACCT}/CloudWatchLogs/us-east-1/{landed:%Y/%m/%d/%H}/"
        f"mamori-1-{landed:%Y-%m-%d-%H-%M-%S}-5f1d8a4e-1c2b-4e5f-9a7b-0c1d2e3f4a5b.gz"
    )
    land(settings, key, gzip.compress(json.dumps(doc).encode(), mtime=0), landed)


def _cloudtrail(settings, times: list[datetime], landed: datetime) -> None:
    # The good record comes from a sovereign-cloud region: its awsRegion is a region name like any other.
    records = [
        ct_record(
            t,
            region="eusc-de-east-1" if i == 0 else "us-east-1",
            eventTime=f"{t.year:04d}-{t:%m-%dT%H:%M:%S}Z",  # strftime writes year 1 as "1"
        )
        for i, t in enumerate(times)
    ]
    land_ct(settings, records, landed)


INSIGHT = json.loads(
    (
        Path(__file__).parents[1] / "sources" / "cloudtrail_insights" / "samples" / "aws_doc_insights.json"
    ).read_text()
)["Records"][0]


def _cloudtrail_insights(settings, times: list[datetime], landed: datetime) -> None:
    records = [
        INSIGHT | {"eventTime": f"{t.year:04d}-{t:%m-%dT%H:%M:%S}Z", "eventID": f"insight-{i}"}
        for i, t in enumerate(times)
    ]
    key = (
        f"AWSLogs/{ACCT}/CloudTrail-Insight/us-east-1/{landed:%Y/%m/%d}/"
        f"{ACCT}_CloudTrail-Insight_us-east-1_{landed:%Y%m%dT%H%MZ}_M11753GP3UIAU8GG.json.gz"
    )
    land(settings, key, gzip.compress(json.dumps({"Records": records}).encode(), mtime=0), landed)


def _route53resolver(settings, times: list[datetime], landed: datetime) -> None:
    # The event time is CloudWatch Logs' epoch-ms timestamp (the record's query_timestamp is a column).
    query = {
        "version": "1.100000",
        "account_id": ACCT,
        "region": "us-east-1",
        "vpc_id": "vpc-7example",
        "query_timestamp": "2026-11-01T10:01:00Z",
        "query_name": "www.example.com.",
        "query_type": "A",
        "query_class": "IN",
        "rcode": "NOERROR",
        "srcaddr": "10.0.1.15",
        "srcport": "56067",
        "transport": "UDP",
    }
    doc = {
        "messageType": "DATA_MESSAGE",
        "owner": ACCT,
        "logGroup": "/mamori/route53resolver/query-logs",
        "logStream": "vpc-7example",
        "logEvents": [
            {
                "id": str(i),
                "timestamp": (t - EPOCH) // timedelta(milliseconds=1),
                "message": json.dumps(query),
            }
            for i, t in enumerate(times)
        ],
    }
    key = (
        f"AWSLogs/{ACCT}/CloudWatchLogs-Route53Resolver/us-east-1/{landed:%Y/%m/%d/%H}/"
        f"mamori-route53resolver-1-{landed:%Y-%m-%d-%H-%M-%S}-5f1d8a4e-1c2b-4e5f-9a7b-0c1d2e3f4a5b.gz"
    )
    land(settings, key, gzip.compress(json.dumps(doc).encode(), mtime=0), landed)


LANDERS = {
    "cloudtrail": _cloudtrail,
    "cloudtrail_insights": _cloudtrail_insights,
    "alb": _alb,
    "s3access": _s3access,
    "cloudwatch": _cloudwatch,
    "route53resolver": _route53resolver,
}
# VPC Flow Logs check their time fields in the parser (the last test). CloudWatch Logs timestamps (and so
# Route 53 Resolver's event times) are epoch milliseconds: nothing before 1970 can be written (the parser refuses it).
IMPLAUSIBLE = {
    "cloudtrail": [EPOCH, YEAR_ONE, LATE_2009],
    "alb": [EPOCH, YEAR_ONE, LATE_2009],
    "s3access": [EPOCH, YEAR_ONE, LATE_2009],
    "cloudwatch": [EPOCH, LATE_2009],
    "route53resolver": [EPOCH, LATE_2009],
    "cloudtrail_insights": [EPOCH, YEAR_ONE, LATE_2009],
}


def _curated_days(settings, source: str) -> set[str]:
    lake = Path(settings.lake_url.removeprefix("file://"))
    return {p.name for p in (lake / "curated" / source).glob("*/*/dt=*")}


def _quarantine(settings, source: str) -> list[dict]:
    lake = Path(settings.lake_url.removeprefix("file://"))
    return [
        json.loads(x)
        for f in sorted((lake / "quarantine" / source).rglob("*.jsonl.gz"))
        for x in gzip.decompress(f.read_bytes()).splitlines()
    ]


@pytest.mark.parametrize("source", sorted(LANDERS))
def test_rows_before_the_plausible_range_are_quarantined_per_row_and_alerted(settings, only_sources, source):
    only_sources(source)
    w = hour(10)
    bad = IMPLAUSIBLE[source]
    LANDERS[source](settings, [w + timedelta(minutes=1), *bad], w + timedelta(minutes=5))

    summary = run_window(settings, source, w)

    assert summary["records_in"] == 1 + len(bad)
    assert summary["rows_out"] == 1 and summary["quarantined"] == len(bad)
    assert _curated_days(settings, source) == {"dt=2026-11-01"}  # no dt=1970-01-01, dt=0001-01-01, dt=2009-…
    reasons = [q["reason"] for q in _quarantine(settings, source)]
    assert len(reasons) == len(bad) and all(r.startswith(f"dq:{CHECK}: ") for r in reasons), reasons
    assert "2010-01-01" in reasons[0]
    failed = summary["dq"]["failed"]
    assert failed[CHECK] == {"action": "quarantine", "batches": 1, "unexpected": len(bad)}
    # Implausible is not late: the late check (flag, rows kept) does not also count the rows it never keeps.
    assert "event_time:not_older_than_late" not in failed
    assert "regex:awsregion" not in failed
    (alert,) = [a for a in alerts_of(settings, f"mamori_dq_{source}") if a.dedup_values["check"] == CHECK]
    assert alert.hit_count == len(bad)


def test_a_flow_record_with_one_implausible_time_field_is_quarantined_alone_with_its_reason(
    settings, only_sources
):
    only_sources("vpcflow")
    w = hour(10)
    t = w + timedelta(minutes=1)
    good = vpc_line(t)
    s = str(int(t.timestamp()))
    bad_start = good.replace(f" {s} ", " 0 ", 1)  # start at 1970, end fine
    bad_end = good.replace(f" {int(t.timestamp()) + 60} ", " 12 ", 1)  # start fine, end at 1970
    land_vpc(settings, [good, bad_start, bad_end], w + timedelta(minutes=5))

    summary = run_window(settings, "vpcflow", w)

    assert summary["records_in"] == 3 and summary["rows_out"] == 1 and summary["quarantined"] == 2
    assert _curated_days(settings, "vpcflow") == {"dt=2026-11-01"}
    reasons = sorted(q["reason"] for q in _quarantine(settings, "vpcflow"))
    assert len(reasons) == 2
    assert any("end 12" in r for r in reasons) and any("start 0" in r for r in reasons), reasons
    assert all("2010-01-01" in r for r in reasons), reasons


FAR_FUTURE = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


@pytest.mark.parametrize("source", ["alb", "cloudtrail"])
def test_rows_after_the_plausible_range_even_in_year_9999_are_quarantined_not_a_failed_batch(
    settings, only_sources, source
):
    only_sources(source)
    w = hour(10)
    if source == "alb":
        _alb(settings, [w + timedelta(minutes=1), FAR_FUTURE], w + timedelta(minutes=5))
    else:
        far = ct_record(w, eventTime="9999-12-31T23:59:59.999999Z")
        land_ct(settings, [ct_record(w + timedelta(minutes=1)), far], w + timedelta(minutes=5))

    summary = run_window(settings, source, w)

    assert summary["rows_out"] == 1 and summary["quarantined"] == 1
    assert _curated_days(settings, source) == {"dt=2026-11-01"}
    (q,) = _quarantine(settings, source)
    assert q["reason"].startswith("dq:event_time:not_after_window_plus_skew: ")
    failed = summary["dq"]["failed"]
    assert failed["event_time:not_after_window_plus_skew"]["unexpected"] == 1


def test_every_source_has_its_plausible_range_checked_here_or_in_the_parser():
    from mamori.sources import SPECS

    assert sorted([*LANDERS, "vpcflow"]) == sorted(SPECS)
