"""CloudTrail Insights keys: every AWS partition's region shape is claimed; non-ASCII digits never are."""

from __future__ import annotations

import pytest
from key_cases import REGIONS_OF_EVERY_PARTITION, odd_digit_keys

from mamori.sources.cloudtrail_insights import SOURCE

ACCT = "123456789012"


def key(account: str = ACCT, region: str = "us-east-1", year: str = "2026") -> str:
    return (
        f"AWSLogs/{account}/CloudTrail-Insight/{region}/{year}/11/01/"
        f"{account}_CloudTrail-Insight_{region}_20261101T1030Z_Ab12Cd34Ef56Gh78.json.gz"
    )


@pytest.mark.parametrize("region", REGIONS_OF_EVERY_PARTITION)
def test_classify_accepts_the_region_shape_of_every_aws_partition(region):
    r = SOURCE.classify(key(region=region))
    assert r is not None and (r.account, r.region, r.kind) == (ACCT, region, "events")


@pytest.mark.parametrize(("case", "odd"), sorted(odd_digit_keys(key).items()))
def test_classify_rejects_non_ascii_digits(case, odd):
    assert SOURCE.classify(odd) is None, case
