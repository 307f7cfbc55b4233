"""CloudWatch Logs keys (Firehose and export layouts): every AWS partition's region shape is claimed;
non-ASCII digits never are."""

from __future__ import annotations

import pytest
from key_cases import REGIONS_OF_EVERY_PARTITION, odd_digit_keys

from mamori.sources.cloudwatch import SOURCE

ACCT = "123456789012"


def key(account: str = ACCT, region: str = "us-east-1", year: str = "2026") -> str:
    return (
        f"AWSLogs/{account}/CloudWatchLogs/{region}/{year}/11/22/10/"
        f"mamori-cloudwatch-logs-1-{year}-11-22-10-05-12-5f1d8a4e-1c2b-4e5f-9a7b-0c1d2e3f4a5b.gz"
    )


def export_key(account: str = ACCT, region: str = "us-east-1", year: str = "2026") -> str:
    # An export has no date in its key: `year` goes where the layout has other digits (the output file).
    return (
        f"AWSLogs/{account}/CloudWatchLogsExport/{region}/%2Fec2%2Fvar%2Flog%2Fsecure/"
        f"cda45419-90ea-4db5-9833-aade86253e66/i-0123456789abcdef0/00{year}.gz"
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
