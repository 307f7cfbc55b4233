"""The lake on s3:// through an Airflow connection, against a moto S3 server over HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from mamori import ingest
from mamori.config import load_settings
from mamori.detections.loader import get_detection
from mamori.detections.runner import run_detection
from mamori.engines.duckdb import DuckDBEngine
from mamori.generate.cloudtrail import generate_cloudtrail

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
