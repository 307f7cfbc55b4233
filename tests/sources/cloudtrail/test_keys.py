"""CloudTrail keys: every AWS partition's region shape is claimed; non-ASCII digits never are."""

from __future__ import annotations

import pytest
from key_cases import REGIONS_OF_EVERY_PARTITION, odd_digit_keys

from mamori.sources.cloudtrail import SOURCE

ACCT = "123456789012"


def key(account: str = ACCT, region: str = "us-east-1", year: str = "2026", kind: str = "CloudTrail") -> str:
    return (
        f"AWSLogs/{account}/{kind}/{region}/{year}/11/01/"
        f"{account}_{kind}_{region}_20261101T1030Z_Ab12Cd34Ef56Gh78.json.gz"
    )


@pytest.mark.parametrize("region", REGIONS_OF_EVERY_PARTITION)
@pytest.mark.parametrize("kind", ["CloudTrail", "CloudTrail-Digest", "CloudTrail-Insight"])
def test_classify_accepts_the_region_shape_of_every_aws_partition(region, kind):
    r = SOURCE.classify(key(region=region, kind=kind))
    assert r is not None and (r.account, r.region) == (ACCT, region)
    org = SOURCE.classify("AWSLogs/o-abcdefghij/" + key(region=region, kind=kind).removeprefix("AWSLogs/"))
    assert org is not None and org.region == region


@pytest.mark.parametrize(("case", "odd"), sorted(odd_digit_keys(key).items()))
def test_classify_rejects_non_ascii_digits(case, odd):
    assert SOURCE.classify(odd) is None, case
