"""ALB request times: a time Python cannot hold once normalised to UTC is quarantined with its line, not a crash
that fails the whole batch."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from mamori.sources.alb import SOURCE

KEY = (
    "AWSLogs/123456789012/elasticloadbalancing/us-east-2/2018/07/02/123456789012_elasticloadbalancing_us-east-2_"
    "app.my-loadbalancer.50dc6c495c0c9188_20180702T2225Z_172.160.001.192_20sg8hgm.log.gz"
)
HTTPS = (Path(__file__).parent / "samples" / "aws_doc.log").read_text().splitlines()[0]


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00.000000+01:00", "9999-12-31T23:59:59.000000-01:00"])
def test_a_time_that_overflows_when_normalised_to_utc_is_quarantined_with_its_line(value):
    raw = SOURCE.classify(KEY)
    assert raw is not None
    bad = HTTPS.replace("2018-07-02T22:23:00.186641Z", value, 1)
    res = SOURCE.parse_object(raw, gzip.compress(f"{HTTPS}\n{bad}\n".encode(), mtime=0))
    assert len(res.rows) == 1 and [q.index for q in res.quarantined] == [1]
    assert "time" in res.quarantined[0].reason and value[:10] in res.quarantined[0].reason
