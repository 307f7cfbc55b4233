"""AWS mode against moto (S3 + Athena API shapes) through a recording proxy: ingest and detection with the lake
on S3, the Athena tables from sql/ddl/ (maintain_tables), a detection on the Athena engine; then every AWS
action the code called must be allowed by docs/aws-iam-policy.json, on the resources it grants, and nothing
may write to the raw bucket."""

from __future__ import annotations

import fnmatch
import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from moto_support import seed_athena

from mamori import ingest
from mamori.config import load_settings
from mamori.detections.loader import get_detection
from mamori.detections.runner import run_detection
from mamori.engines import get_engine, tables
from mamori.engines.duckdb import DuckDBEngine
from mamori.sources.cloudtrail.generate import generate_cloudtrail

from .aws_recorder import recording_proxy

# What cloudtrail_root_activity selects first; moto's Athena returns the queued rows (its SQL is not run here:
# tests/e2e/test_athena_engine.py runs the statement Athena receives).
COLUMNS = [
    ("event_time", "timestamp"),
    ("account_id", "varchar"),
    ("actor", "varchar"),
    ("source_ip", "varchar"),
    ("event_name", "varchar"),
]


def seed(moto_url: str, rows: list[list[str]]) -> None:
    seed_athena(moto_url, COLUMNS, [list(r) for r in rows])


pytestmark = pytest.mark.slow
POLICY = Path(__file__).resolve().parents[2] / "docs" / "aws-iam-policy.json"
ACCOUNT, REGION, WORKGROUP, DATABASE = "123456789012", "us-east-1", "primary", "mamori"


def allowed(policy: dict, action: str, resource: str) -> bool:
    for st in policy["Statement"]:
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        if (
            st["Effect"] == "Allow"
            and action in actions
            and any(fnmatch.fnmatchcase(resource, r) for r in resources)
        ):
            return True
    return False


def test_aws_mode_calls_only_what_the_policy_allows(moto_server, monkeypatch, tmp_path):
    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(k, v)
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name=REGION)
    suffix = tmp_path.name.replace("_", "-").lower()[-16:]
    raw_bucket, lake_bucket, results_bucket = f"raw-{suffix}", f"lake-{suffix}", f"results-{suffix}"
    for b in (raw_bucket, lake_bucket, results_bucket):
        s3.create_bucket(Bucket=b)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)

    delivered = {"records": 0}

    def put(key: str, data: bytes, landed_at: datetime) -> None:  # AWS delivers: not through the proxy
        s3.put_object(Bucket=raw_bucket, Key=key, Body=data)
        if "/CloudTrail/" in key:  # digests land under CloudTrail-Digest/ and carry no records
            delivered["records"] += len(json.loads(gzip.decompress(data))["Records"])

    generate_cloudtrail(
        put,
        now - timedelta(hours=7),
        hours=6,
        seed=3,
        accounts=(ACCOUNT,),
        regions=(REGION,),
        events_per_file=10,
    )

    with recording_proxy(moto_server) as (proxy, rec):
        s3_conn = {"conn_type": "aws", "extra": {"endpoint_url": proxy, "region_name": REGION}}
        athena_conn = {
            "conn_type": "aws",
            "extra": {
                "endpoint_url": proxy,
                "region_name": REGION,
                "s3_staging_dir": f"s3://{results_bucket}/athena/",
                "work_group": WORKGROUP,
            },
        }
        # Own connection ids: Airflow caches a filesystem per connection id, and this one points at a proxy
        # that is gone after the test; other tests must not inherit it.
        monkeypatch.setenv("AIRFLOW_CONN_MAMORI_S3_RECORDED", json.dumps(s3_conn))
        monkeypatch.setenv("AIRFLOW_CONN_MAMORI_ATHENA_RECORDED", json.dumps(athena_conn))
        env = {
            "MAMORI_HOME": str(tmp_path),
            "MAMORI_RAW_URL": f"s3://{raw_bucket}",
            "MAMORI_LAKE_URL": f"s3://{lake_bucket}",
            "MAMORI_RAW_CONN_ID": "mamori_s3_recorded",
            "MAMORI_LAKE_CONN_ID": "mamori_s3_recorded",
            "MAMORI_ATHENA_CONN_ID": "mamori_athena_recorded",
            "MAMORI_ACCOUNTS": ACCOUNT,
            "MAMORI_REGIONS": REGION,
            # one lag, no re-reads (tests/conftest.py)
            "MAMORI_DETECT_LAG_MINUTES": "60",
            "MAMORI_DETECT_OVERLAP_MINUTES": "0",
        }
        settings = load_settings(env)

        # Ingest (raw read, lake write, re-run deletes), then a detection on DuckDB over the S3 lake.
        wstart, wend = now - timedelta(hours=1), now + timedelta(hours=2)
        for _ in range(2):
            for b in ingest.plan_window("cloudtrail", wstart, wend, settings):
                ingest.convert_batch(b, settings)
            summary = ingest.finalize_window("cloudtrail", wstart, wend, settings)
        # Every delivered record reaches the lake once, however many the hour of day produced
        # (the generator follows a daily curve, so a fixed floor failed at night).
        assert delivered["records"] > 0
        assert summary["rows_out"] == delivered["records"]
        assert summary["quarantined"] == 0
        engine = DuckDBEngine(settings)
        try:
            det = get_detection(settings.sql_dir, "cloudtrail_console_login_brute_force")
            run_detection(det, engine, now - timedelta(hours=7), now - timedelta(hours=1))
        finally:
            engine.close()

        # Athena mode: the tables from sql/ddl/, then a detection on the Athena engine.
        athena_settings = load_settings({**env, "MAMORI_ENGINE": "athena"})
        made = tables.maintain_tables(athena_settings)
        assert made["tables"][0] == "database" and made["tables"][-1] == "all_events"
        seed(
            moto_server,
            [
                [
                    "2026-11-01 02:43:10.000",
                    ACCOUNT,
                    f"arn:aws:iam::{ACCOUNT}:root",
                    "198.51.100.23",
                    "ConsoleLogin",
                ]
            ],
        )
        athena = get_engine(athena_settings)
        try:
            hits = run_detection(
                get_detection(settings.sql_dir, "cloudtrail_root_activity"),
                athena,
                datetime(2026, 11, 1, 2, tzinfo=UTC),
                datetime(2026, 11, 1, 3, tzinfo=UTC),
            )
        finally:
            athena.close()
        assert len(hits) == 1

    # What Athena received for the tables: projection over the configured accounts/regions, the S3 lake.
    client = boto3.client("athena", endpoint_url=moto_server, region_name=REGION)
    queries = [
        client.get_query_execution(QueryExecutionId=i)["QueryExecution"]["Query"]
        for i in client.list_query_executions()["QueryExecutionIds"]
    ]
    ddl = next(q for q in queries if "EXTERNAL TABLE IF NOT EXISTS mamori.cloudtrail_delivered " in q)
    assert any(q.startswith("CREATE OR REPLACE VIEW mamori.cloudtrail AS") for q in queries)
    assert (
        f"'projection.account.values' = '{ACCOUNT}'" in ddl
        and f"s3://{lake_bucket}/curated/cloudtrail/" in ddl
    )

    policy_text = POLICY.read_text()
    for placeholder, value in {
        "${RawBucket}": raw_bucket,
        "${LakeBucket}": lake_bucket,
        "${AthenaResultsBucket}": results_bucket,
        "${Region}": REGION,
        "${Account}": ACCOUNT,
        "${WorkGroup}": WORKGROUP,
        "${Database}": DATABASE,
    }.items():
        policy_text = policy_text.replace(placeholder, value)
    policy = json.loads(policy_text)

    called = sorted(set(rec.actions))
    assert {a for a, _ in called} >= {
        "s3:GetObject",
        "s3:PutObject",
        "s3:ListBucket",
        "athena:StartQueryExecution",
    }
    denied = []
    for action, bucket in called:
        if action.startswith("s3:"):
            arn = (
                f"arn:aws:s3:::{bucket}"
                if action in ("s3:ListBucket", "s3:GetBucketLocation")
                else f"arn:aws:s3:::{bucket}/key"
            )
        else:
            arn = f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/{WORKGROUP}"
        if not allowed(policy, action, arn):
            denied.append((action, arn))
    assert denied == [], f"calls the policy does not allow: {denied}"
    raw_writes = [
        a
        for a, b in called
        if b == raw_bucket and a not in ("s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation")
    ]
    assert raw_writes == [], "raw objects are never modified"
    # and the policy itself grants no write on the raw bucket
    for action in ("s3:PutObject", "s3:DeleteObject"):
        assert not allowed(policy, action, f"arn:aws:s3:::{raw_bucket}/key")
