"""The lake on s3:// through an Airflow connection, against a moto S3 server over HTTP."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from mamori import ingest
from mamori.config import load_settings
from mamori.detections.loader import get_detection
from mamori.detections.runner import run_detection
from mamori.engines.duckdb import DuckDBEngine
from mamori.sources.cloudtrail.generate import generate_cloudtrail

pytestmark = pytest.mark.slow


@pytest.fixture
def s3_settings(moto_server, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    conn = {"conn_type": "aws", "extra": {"endpoint_url": moto_server, "region_name": "us-east-1"}}
    monkeypatch.setenv("AIRFLOW_CONN_MAMORI_S3", json.dumps(conn))
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    suffix = tmp_path.name.replace("_", "-").lower()[-20:]
    raw_bucket, lake_bucket = f"raw-{suffix}", f"lake-{suffix}"
    s3.create_bucket(Bucket=raw_bucket)
    s3.create_bucket(Bucket=lake_bucket)
    env = {
        "MAMORI_HOME": str(tmp_path),
        "MAMORI_RAW_URL": f"s3://{raw_bucket}",
        "MAMORI_LAKE_URL": f"s3://{lake_bucket}",
        "MAMORI_RAW_CONN_ID": "mamori_s3",
        "MAMORI_LAKE_CONN_ID": "mamori_s3",
        # one lag, no re-reads (tests/conftest.py)
        "MAMORI_DETECT_LAG_MINUTES": "60",
        "MAMORI_DETECT_OVERLAP_MINUTES": "0",
    }
    return load_settings(env), s3, raw_bucket, lake_bucket


def test_ingest_and_detect_on_s3(s3_settings):
    settings, s3, raw_bucket, lake_bucket = s3_settings
    # S3 stamps LastModified itself (now), and real delivery keys are dated by delivery time, so the generated
    # keys must be dated near now too for the prefix listing of the landing window to find them.
    now = datetime.now(UTC)
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=7)

    def put(key: str, data: bytes, landed_at: datetime) -> None:
        s3.put_object(Bucket=raw_bucket, Key=key, Body=data)  # S3 records its own LastModified (now)

    steps = generate_cloudtrail(
        put, start, hours=6, seed=3, accounts=("111111111111",), regions=("us-east-1",)
    )
    # Every object landed "now" per S3: one landing window around now sees all of them.
    wstart = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    wend = wstart + timedelta(hours=3)
    batches = ingest.plan_window("cloudtrail", wstart, wend, settings)
    assert batches
    for b in batches:
        ingest.convert_batch(b, settings)
    summary = ingest.finalize_window("cloudtrail", wstart, wend, settings)
    assert summary["records_in"] == summary["rows_out"] + summary["quarantined"]
    assert summary["rows_out"] > 1000 and summary["quarantined"] == 0
    assert summary["skipped_objects"] == 7  # hourly digests (hours + 1), routed away by key

    def lake_objects() -> dict[str, str]:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=lake_bucket)
        return {o["Key"]: o["ETag"] for p in pages for o in p.get("Contents", [])}

    first = lake_objects()
    # published, not staged: nothing of the batches' staging or publish records is left
    assert [k for k in first if k.startswith("_staging/") or "/_publishing-" in k] == []
    parquet = [k for k in first if k.endswith(".parquet")]
    assert all(k.startswith("curated/cloudtrail/account=111111111111/region=us-east-1/dt=") for k in parquet)
    assert len({k.split("/dt=")[1][:19] for k in parquet}) == 6  # one partition per event hour

    # Re-running the window rewrites the same keys with the same bytes.
    for b in ingest.plan_window("cloudtrail", wstart, wend, settings):
        ingest.convert_batch(b, settings)
    ingest.finalize_window("cloudtrail", wstart, wend, settings)
    assert lake_objects() == first

    # DuckDB reads the S3 lake through the same connection and finds the injected root login.
    root_step = next(st for st in steps if "cloudtrail_root_activity" in st.detections)
    engine = DuckDBEngine(settings)
    try:
        det = get_detection(settings.sql_dir, "cloudtrail_root_activity")
        hour = root_step.time.replace(minute=0, second=0, microsecond=0)
        hits = run_detection(det, engine, hour, hour + timedelta(hours=1))
    finally:
        engine.close()
    assert [h["event_name"] for h in hits] == ["ConsoleLogin"]


def test_a_batch_killed_mid_upload_leaves_nothing_under_curated_on_s3(s3_settings, tmp_path):
    """The S3 form of tests/unit/test_ingest_kill.py: what Athena reads is every object under `curated/`, so a
    convert task SIGKILLed between two uploads must have put none there; the re-run lands every row once and
    deletes the staged objects the killed attempt uploaded."""
    settings, s3, raw_bucket, lake_bucket = s3_settings
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    account, regions = "111111111111", ("us-east-1", "us-west-2", "eu-west-1")
    for region in regions:
        records = [
            {
                "eventVersion": "1.08",
                "eventTime": (now - timedelta(hours=3) + timedelta(seconds=6 * n)).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ),
                "eventSource": "ec2.amazonaws.com",
                "eventName": "DescribeInstances",
                "eventType": "AwsApiCall",
                "awsRegion": region,
                "sourceIPAddress": "203.0.113.10",
                "eventID": f"{region}-{n:05d}",
                "recipientAccountId": account,
                "userIdentity": {"type": "IAMUser", "userName": "dana", "accountId": account},
            }
            for n in range(1500)  # 2.5 hours: 3 or 4 hour partitions per region
        ]
        key = (
            f"AWSLogs/{account}/CloudTrail/{region}/{now:%Y/%m/%d}/"
            f"{account}_CloudTrail_{region}_{now:%Y%m%dT%H%MZ}_{region.replace('-', ''):0>16}.json.gz"
        )
        s3.put_object(
            Bucket=raw_bucket, Key=key, Body=gzip.compress(json.dumps({"Records": records}).encode())
        )
    wstart = now.replace(minute=0) - timedelta(hours=1)
    wend = wstart + timedelta(hours=3)
    (batch,) = ingest.plan_window("cloudtrail", wstart, wend, settings)

    def keys(prefix: str = "") -> list[str]:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=lake_bucket, Prefix=prefix)
        return sorted(o["Key"] for p in pages for o in p.get("Contents", []))

    spec = tmp_path / "batch.json"
    spec.write_text(json.dumps(batch))
    child = Path(__file__).parents[1] / "unit" / "convert_child.py"
    env = os.environ | {
        "MAMORI_HOME": str(settings.home),
        "MAMORI_RAW_URL": settings.raw_url,
        "MAMORI_LAKE_URL": settings.lake_url,
        "MAMORI_RAW_CONN_ID": "mamori_s3",
        "MAMORI_LAKE_CONN_ID": "mamori_s3",
    }
    proc = subprocess.Popen(
        [sys.executable, str(child), str(spec), "1.0", "put"], env=env, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 180
        while not any(k.endswith(".parquet") for k in keys()):
            assert proc.poll() is None, "the batch finished before it could be killed"
            assert time.monotonic() < deadline, "the batch never wrote a file"
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL

    assert keys("curated/") == []  # what Athena would read
    engine = DuckDBEngine(settings)
    try:
        assert engine.query("SELECT count(*) AS n FROM cloudtrail").to_pylist() == [{"n": 0}]
    finally:
        engine.close()

    ingest.convert_batch(batch, settings)
    summary = ingest.finalize_window("cloudtrail", wstart, wend, settings)
    assert (summary["records_in"], summary["rows_out"]) == (4500, 4500)
    assert keys("_staging/") == [] and not [k for k in keys() if "/_publishing-" in k]
    engine = DuckDBEngine(settings)
    try:
        sql = "SELECT count(*) AS n, count(DISTINCT eventid) AS ids FROM cloudtrail"
        assert engine.query(sql).to_pylist() == [{"n": 4500, "ids": 4500}]
    finally:
        engine.close()
