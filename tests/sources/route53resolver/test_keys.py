"""Route 53 Resolver keys (Firehose and export layouts of the CloudWatch Logs transport): every AWS partition's
region shape is claimed, non-ASCII digits never are, and the syslog source's keys are not this source's (nor
the other way round)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from key_cases import REGIONS_OF_EVERY_PARTITION, odd_digit_keys

from mamori.sources import classify
from mamori.sources.cloudwatch import SOURCE as SYSLOG
from mamori.sources.route53resolver import SOURCE

ACCT = "123456789012"


def key(account: str = ACCT, region: str = "us-east-1", year: str = "2026") -> str:
    return (
        f"AWSLogs/{account}/CloudWatchLogs-Route53Resolver/{region}/{year}/11/22/10/"
        f"mamori-route53resolver-1-{year}-11-22-10-05-12-5f1d8a4e-1c2b-4e5f-9a7b-0c1d2e3f4a5b.gz"
    )


def export_key(account: str = ACCT, region: str = "us-east-1", year: str = "2026") -> str:
    return (
        f"AWSLogs/{account}/CloudWatchLogsExport-Route53Resolver/{region}/%2Fmamori%2Froute53resolver/"
        f"cda45419-90ea-4db5-9833-aade86253e66/vpc-0a1b2c3d4e5f60718/00{year}.gz"
    )


@pytest.mark.parametrize("region", REGIONS_OF_EVERY_PARTITION)
@pytest.mark.parametrize("key_of", [key, export_key], ids=["firehose", "export"])
def test_classify_accepts_the_region_shape_of_every_aws_partition(region, key_of):
    r = SOURCE.classify(key_of(region=region))
    assert r is not None and (r.account, r.region, r.kind) == (ACCT, region, "events")


@pytest.mark.parametrize(
    ("case", "odd"),
    sorted(odd_digit_keys(key).items())
    + [("export-" + c, k) for c, k in sorted(odd_digit_keys(export_key).items())],
)
def test_classify_rejects_non_ascii_digits(case, odd):
    assert SOURCE.classify(odd) is None, case


@pytest.mark.parametrize("key_of", [key, export_key], ids=["firehose", "export"])
def test_the_registry_gives_each_cloudwatch_delivered_format_its_own_keys(key_of):
    found = classify(key_of())
    assert found is not None and found[0] is SOURCE
    assert SYSLOG.classify(key_of()) is None
    syslog_key = key_of().replace("-Route53Resolver/", "/")
    assert SOURCE.classify(syslog_key) is None and SYSLOG.classify(syslog_key) is not None


def test_list_prefixes_cover_only_this_formats_segments():
    prefixes = SOURCE.list_prefixes(
        datetime(2026, 11, 22, 0, tzinfo=UTC), datetime(2026, 11, 22, 1, tzinfo=UTC)
    )
    assert prefixes == [
        "AWSLogs/*/CloudWatchLogs-Route53Resolver/*/2026/11/21/",
        "AWSLogs/*/CloudWatchLogs-Route53Resolver/*/2026/11/22/",
        "AWSLogs/*/CloudWatchLogsExport-Route53Resolver/*/*/*/",
    ]
