"""Unclaimed objects under a source's own prefixes raise a data-quality alert naming them (docs/data-quality.md).

An object under `AWSLogs/<acct>/CloudTrail/` (or any prefix a source lists) that the source's key pattern does
not recognise is either a layout AWS introduced (a new region, a new partition) or something placed there by
hand: both must reach a person, not only a log line and a manifest entry. Keys of other AWS logs that share a
folder by design (NLB and connection logs beside ALB access logs, CloudTrail digests) are routed away by name
and raise nothing.
"""

from __future__ import annotations

import gzip
import json
from datetime import timedelta
from pathlib import Path

from quality_helpers import ACCT, alerts_of, ct_record, hour, land, land_ct, run_window

ALB_LINE = (
    "https {t} app/my-lb/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "
    '"GET https://www.example.com:443/ HTTP/1.1" "curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 '
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "
    '"Root=1-58337281-1d84f3d73c47ec4e58577259" "www.example.com" "-" 1 {t} "forward" "-" "-" '
    '"10.0.0.1:80" "200" "-" "-"'
)


def test_unclaimed_keys_under_an_owned_prefix_raise_a_dq_alert_naming_them(settings, no_gx, only_sources):
    only_sources("cloudtrail")
    w = hour(4)
    land_ct(settings, [ct_record(w + timedelta(minutes=1))], w + timedelta(minutes=5))
    # A sovereign-cloud region is a region: ingested, not unclaimed.
    eusc = land_ct(
        settings,
        [ct_record(w + timedelta(minutes=2), region="eusc-de-east-1")],
        w + timedelta(minutes=6),
        region="eusc-de-east-1",
    )
    body = gzip.compress(json.dumps({"Records": [ct_record(w + timedelta(minutes=3))]}).encode(), mtime=0)
    day = f"{w:%Y/%m/%d}"
    odd_region = land(
        settings,
        f"AWSLogs/{ACCT}/CloudTrail/us-east-\u0661/{day}/{ACCT}_CloudTrail_us-east-1_x.json.gz",
        body,
        w + timedelta(minutes=7),
    )
    stray = land(
        settings, f"AWSLogs/{ACCT}/CloudTrail/us-east-1/{day}/README.txt", b"hi", w + timedelta(minutes=8)
    )

    summary = run_window(settings, "cloudtrail", w)

    assert summary["unclaimed"] == sorted([odd_region, stray])
    assert summary["rows_out"] == 2 and summary["quarantined"] == 0
    lake = Path(settings.lake_url.removeprefix("file://"))
    assert len(list(lake.glob("curated/cloudtrail/*/region=eusc-de-east-1/*/*/*.parquet"))) == 1
    manifest = json.loads((lake / "_manifests/cloudtrail/window=20261101T0400Z/batch-0000.json").read_bytes())
    assert eusc in [o["key"] for o in manifest["objects"]]
    (alert,) = alerts_of(settings, "mamori_dq_cloudtrail")
    assert alert.dedup_values == {"source": "cloudtrail", "check": "unclaimed_key"}
    assert alert.hit_count == 2
    assert sorted(s["key"] for s in alert.samples) == sorted([odd_region, stray])
    assert all(s["plan"] == "_manifests/cloudtrail/window=20261101T0400Z/_plan.json" for s in alert.samples)

    # A re-run of the window replaces its contribution: still one alert, still two hits.
    run_window(settings, "cloudtrail", w)
    (again,) = alerts_of(settings, "mamori_dq_cloudtrail")
    assert (again.key, again.hit_count) == (alert.key, 2)


def test_other_elb_logs_beside_alb_access_logs_are_routed_away_and_only_a_stray_key_alerts(
    settings, no_gx, only_sources
):
    only_sources("alb")
    w = hour(6)
    t = (w + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    folder = f"AWSLogs/{ACCT}/elasticloadbalancing/us-east-1/{w:%Y/%m/%d}"
    stamp = f"{w:%Y%m%dT%H}05Z"
    alb = f"{folder}/{ACCT}_elasticloadbalancing_us-east-1_app.my-lb.50dc6c495c0c9188_{stamp}_10.0.0.1_a1.log.gz"
    nlb = f"{folder}/{ACCT}_elasticloadbalancing_us-east-1_net.my-nlb.50dc6c495c0c9188_{stamp}_b2.log.gz"
    conn = f"{folder}/conn_log_{alb.rsplit('/', 1)[1].replace('_a1.log.gz', '_c3.log.gz')}"
    stray = f"{folder}/notes.txt"
    landed = w + timedelta(minutes=10)
    land(settings, alb, gzip.compress(ALB_LINE.format(t=t).encode() + b"\n", mtime=0), landed)
    for k in (nlb, conn):
        land(settings, k, gzip.compress(b"not an ALB access log line\n", mtime=0), landed)
    land(settings, stray, b"hello", landed)

    summary = run_window(settings, "alb", w)

    assert summary["unclaimed"] == [stray]
    assert summary["skipped_objects"] == 2 and summary["rows_out"] == 1 and summary["quarantined"] == 0
    (alert,) = alerts_of(settings, "mamori_dq_alb")
    assert alert.dedup_values == {"source": "alb", "check": "unclaimed_key"} and alert.hit_count == 1
    assert [s["key"] for s in alert.samples] == [stray]
