"""The Athena engine against moto's Athena API over HTTP: the SQL sent is the Athena SQL as rendered (not the
DuckDB transpile), and results (seeded, since moto executes no SQL) come back as typed hits."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from moto_support import seed_athena

from mamori.config import load_settings
from mamori.detections.loader import get_detection
from mamori.detections.runner import run_detection
from mamori.engines import get_engine

pytestmark = pytest.mark.slow
COLUMNS = [
    ("event_time", "timestamp"),
    ("account_id", "varchar"),
    ("actor", "varchar"),
    ("source_ip", "varchar"),
    ("event_name", "varchar"),
]


def seed(moto_url: str, rows: list[list[str]]) -> None:
    seed_athena(moto_url, COLUMNS, [list(r) for r in rows])


def test_detection_runs_on_athena(moto_server, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    extra = {
        "endpoint_url": moto_server,
        "region_name": "us-east-1",
        "s3_staging_dir": "s3://athena-results/",
        "work_group": "primary",
    }
    monkeypatch.setenv("AIRFLOW_CONN_MAMORI_ATHENA", json.dumps({"conn_type": "aws", "extra": extra}))
    boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1").create_bucket(
        Bucket="athena-results"
    )
    seed(
        moto_server,
        [
            [
                "2026-11-01 02:43:10.000",
                "111111111111",
                "arn:aws:iam::111111111111:root",
                "198.51.100.23",
                "ConsoleLogin",
            ]
        ],
    )

    settings = load_settings({"MAMORI_HOME": str(tmp_path), "MAMORI_ENGINE": "athena"})
    engine = get_engine(settings)
    assert engine.name == "athena"
    det = get_detection(settings.sql_dir, "cloudtrail_root_activity")
    try:
        hits = run_detection(
            det, engine, datetime(2026, 11, 1, 2, tzinfo=UTC), datetime(2026, 11, 1, 3, tzinfo=UTC)
        )
    finally:
        engine.close()
    assert [(h["event_name"], h["event_time"]) for h in hits] == [
        ("ConsoleLogin", datetime(2026, 11, 1, 2, 43, 10, tzinfo=UTC))
    ]

    athena = boto3.client("athena", endpoint_url=moto_server, region_name="us-east-1")
    ids = athena.list_query_executions()["QueryExecutionIds"]
    sent = athena.get_query_execution(QueryExecutionId=ids[-1])["QueryExecution"]
    assert sent["QueryExecutionContext"]["Database"] == "mamori"
    query = sent["Query"]
    assert "dt = '2026-11-01' AND hour IN ('02')" in query  # partition pruning reaches Athena
    assert (
        "TIMESTAMP '2026-11-01 02:00:00.000'" in query and "json_extract_scalar" in query
    )  # Athena SQL as written
