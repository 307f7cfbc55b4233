"""Every source through ingest into one lake; one Athena-dialect query joins an IP across VPC Flow, ALB and
CloudTrail through the common columns (the all_events view), run on DuckDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mamori import ingest
from mamori.dev.generate import write_samples as generate
from mamori.engines import get_engine
from mamori.sources import SOURCES

pytestmark = pytest.mark.slow
START = datetime(2026, 11, 1, tzinfo=UTC)
HOURS = 6

JOIN = """
WITH seen AS (
    SELECT
        source,
        ip,
        min(event_time) AS first_seen,
        count(*) AS events
    FROM all_events
    CROSS JOIN UNNEST(related_ips) AS t (ip)
    WHERE dt = '2026-11-01'
    GROUP BY source, ip
)
SELECT
    v.ip,
    v.events AS vpc_flows,
    a.events AS alb_requests,
    c.events AS cloudtrail_calls,
    v.first_seen AS first_in_vpc
FROM seen AS v
INNER JOIN seen AS a ON v.ip = a.ip AND a.source = 'alb'
INNER JOIN seen AS c ON v.ip = c.ip AND c.source = 'cloudtrail'
WHERE v.source = 'vpcflow'
ORDER BY v.ip
"""


def test_one_query_joins_an_ip_across_vpcflow_alb_and_cloudtrail(settings):
    steps = generate(START, HOURS, seed=7)
    # The stories of the three joined sources fall inside the generated hours.
    expected = {d.split("_")[0] for st in steps for d in st.detections}
    assert {"vpcflow", "alb", "cloudtrail"} <= expected
    rows_by_source = dict.fromkeys(SOURCES, 0)
    for name in SOURCES:
        t = START
        while t < START + timedelta(hours=HOURS + 1):
            for batch in ingest.plan_window(name, t, t + timedelta(hours=1), settings):
                ingest.convert_batch(batch, settings)
            summary = ingest.finalize_window(name, t, t + timedelta(hours=1), settings)
            assert summary["records_in"] == summary["rows_out"] + summary["quarantined"]
            assert summary["unclaimed"] == []
            rows_by_source[name] += summary["rows_out"]
            t += timedelta(hours=1)

    engine = get_engine(settings)
    try:
        per_source = engine.query(
            "SELECT source, count(*) AS n FROM all_events GROUP BY source ORDER BY source"
        ).to_pylist()
        rows = engine.query(JOIN).to_pylist()
        ips = {
            table: {
                r["ip"]
                for r in engine.query(
                    f"SELECT DISTINCT ip FROM {table} CROSS JOIN UNNEST(related_ips) AS t (ip)"
                ).to_pylist()
            }
            for table in ("vpcflow", "alb", "cloudtrail")
        }
    finally:
        engine.close()
    assert {"vpcflow", "alb", "cloudtrail", "s3access", "cloudwatch"} <= {
        s for s, n in rows_by_source.items() if n
    }
    assert {r["source"]: r["n"] for r in per_source} == {s: n for s, n in rows_by_source.items() if n}
    attacker = [r for r in rows if r["ip"] == "198.51.100.23"]
    assert len(attacker) == 1
    assert attacker[0]["vpc_flows"] >= 200  # the port scan
    assert attacker[0]["alb_requests"] >= 200  # the scanner burst
    assert attacker[0]["cloudtrail_calls"] >= 1
    # The join through all_events equals the intersection taken from each source's own table.
    assert [r["ip"] for r in rows] == sorted(ips["vpcflow"] & ips["alb"] & ips["cloudtrail"])
