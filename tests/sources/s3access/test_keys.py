"""S3 server access log keys (both layouts): every AWS partition's region shape is claimed and listed;
non-ASCII digits never are (this source's pattern was already ASCII-only: the test keeps it so)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from key_cases import REGIONS_OF_EVERY_PARTITION, odd_digit_keys

from mamori.lake import Store
from mamori.sources.s3access import SOURCE

ACCT = "123456789012"


def key(account: str = ACCT, region: str = "us-east-1", year: str = "2026") -> str:
    return f"AWSLogs/{account}/{region}/my-bucket/{year}/11/01/{year}-11-01-10-30-00-0123456789ABCDEF"


def simple_key(account: str = ACCT, region: str = "us-east-1", year: str = "2026") -> str:
    return f"s3-access-logs/{account}/{region}/my-bucket/{year}-11-01-10-30-00-0123456789ABCDEF"


@pytest.mark.parametrize("region", REGIONS_OF_EVERY_PARTITION)
@pytest.mark.parametrize("key_of", [key, simple_key], ids=["partitioned", "simple"])
def test_classify_accepts_the_region_shape_of_every_aws_partition(region, key_of):
    r = SOURCE.classify(key_of(region=region))
    assert r is not None and (r.account, r.region, r.kind) == (ACCT, region, "events")


def test_listing_descends_into_every_partitions_region_folders(tmp_path):
    store = Store(f"file://{tmp_path}")
    keys = [key(region=r) for r in REGIONS_OF_EVERY_PARTITION] + [
        simple_key(region=r) for r in ("eusc-de-east-1",)
    ]
    for k in keys:
        store.write_atomic(k, b"x")
    start = datetime(2026, 11, 1, 10, tzinfo=UTC)
    found = {
        o.key
        for pattern in SOURCE.list_prefixes(start, start + timedelta(hours=1))
        for prefix in store.glob_prefixes(pattern)
        for o in store.find(prefix)
    }
    assert found == set(keys)


@pytest.mark.parametrize(
    ("case", "odd"),
    sorted(odd_digit_keys(key).items())
    + [("simple-" + c, k) for c, k in sorted(odd_digit_keys(simple_key).items())],
)
def test_classify_rejects_non_ascii_digits(case, odd):
    assert SOURCE.classify(odd) is None, case
