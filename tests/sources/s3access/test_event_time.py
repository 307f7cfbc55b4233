"""S3 access log request times: a time Python cannot hold once normalised to UTC is quarantined with its line,
not a crash that fails the whole batch."""

from __future__ import annotations

import pytest

from mamori.sources.s3access import SOURCE, parse_request_time

KEY = "AWSLogs/123456789012/us-west-1/amzn-s3-demo-bucket1/2019/02/06/2019-02-06-00-05-12-4AF1F4A7F7F2B3E6"
OWNER = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"


def line(time: str) -> str:
    return (
        f"{OWNER} my-bucket [{time}] 192.0.2.3 {OWNER} 3E57427F3EXAMPLE REST.GET.OBJECT photos/puppy.jpg "
        '"GET /my-bucket/photos/puppy.jpg HTTP/1.1" 200 - 2662992 3462992 70 10 "-" "aws-cli/2.15.0" - '
        "hostid SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader my-bucket.s3.us-west-1.amazonaws.com TLSv1.2 - - us-east-1"
    )


@pytest.mark.parametrize("value", ["01/Jan/0001:00:00:00 +0100", "31/Dec/9999:23:59:59 -0100"])
def test_a_time_that_overflows_when_normalised_to_utc_is_quarantined_with_its_line(value):
    assert parse_request_time(value) is None
    raw = SOURCE.classify(KEY)
    assert raw is not None
    body = f"{line('06/Feb/2019:00:00:38 +0000')}\n{line(value)}\n".encode()
    res = SOURCE.parse_object(raw, body)
    assert len(res.rows) == 1 and [q.index for q in res.quarantined] == [1]
