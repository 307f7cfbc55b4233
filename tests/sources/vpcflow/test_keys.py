"""VPC Flow Logs keys (both layouts): every AWS partition's region shape is claimed; non-ASCII digits never
are."""

from __future__ import annotations

import pytest
from key_cases import REGIONS_OF_EVERY_PARTITION, odd_digit_keys

from mamori.sources.vpcflow import SOURCE

ACCT = "123456789012"


def key(account: str = ACCT, region: str = "us-east-1", year: str = "2026") -> str:
    return (
        f"AWSLogs/{account}/vpcflowlogs/{region}/{year}/11/01/"
        f"{account}_vpcflowlogs_{region}_fl-1234abcd_20261101T1030Z_fe123456.log.gz"
    )


def hive_key(account: str = ACCT, region: str = "us-east-1", year: str = "2026") -> str:
    return (
        f"AWSLogs/aws-account-id={account}/aws-service=vpcflowlogs/aws-region={region}/"
        f"year={year}/month=11/day=01/hour=10/{account}_vpcflowlogs_{region}_fl-0_20261101T1010Z_0a.log.parquet"
    )


@pytest.mark.parametrize("region", REGIONS_OF_EVERY_PARTITION)
@pytest.mark.parametrize("key_of", [key, hive_key], ids=["plain", "hive"])
def test_classify_accepts_the_region_shape_of_every_aws_partition(region, key_of):
    r = SOURCE.classify(key_of(region=region))
    assert r is not None and (r.account, r.region, r.kind) == (ACCT, region, "events")


@pytest.mark.parametrize(
    ("case", "odd"),
    sorted(odd_digit_keys(key).items())
    + [("hive-" + c, k) for c, k in sorted(odd_digit_keys(hive_key).items())],
)
def test_classify_rejects_non_ascii_digits(case, odd):
    assert SOURCE.classify(odd) is None, case
