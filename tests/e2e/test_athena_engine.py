"""The Athena engine over HTTP against an Athena that executes what it is sent (moto for the API, DuckDB for
the SQL, see moto_support.executing_athena): the statement Athena receives is the detection as rendered for
the window (Athena SQL, not the DuckDB transpile), and the hits are what that statement selects from the
table, paged and typed the way GetQueryResults delivers them, then converted by the engine's client."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import duckdb
import pyarrow as pa
import pytest
import sqlglot
from moto_support import ExecutingAthena, Result, executing_athena

from mamori.config import load_settings
from mamori.detections.loader import get_detection
from mamori.detections.render import window_predicate
from mamori.detections.runner import run_detection
from mamori.engines import Engine, get_engine
from mamori.engines.dialect import athena_to_duckdb

pytestmark = pytest.mark.slow
REPO_SQL = Path(__file__).resolve().parents[2] / "sql"
START, END = datetime(2026, 11, 1, 2, tzinfo=UTC), datetime(2026, 11, 1, 3, tzinfo=UTC)
ACCOUNT = "111111111111"
ROOT = {"type": "Root", "invokedby": None, "arn": f"arn:aws:iam::{ACCOUNT}:root", "principalid": ACCOUNT}
HITS = 1_250  # more than one GetQueryResults page (1,000 rows, the header row counting on the first)
# DuckDB types → the type names Athena reports in ResultSetMetadata.
ATHENA_TYPES = {
    "VARCHAR": "varchar",
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "DOUBLE": "double",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP_MS": "timestamp",  # DuckDB's type for a TIMESTAMP(3), Athena's timestamp precision
}
# Syntax DuckDB accepts and Athena (Trino) does not: casts, arrows, DuckDB-only functions.
DUCKDB_ONLY = re.compile(
    r"::|->>?|\bilike\b|\b(json_extract_string|json_type|date_sub|struct_extract|list_\w+|epoch_ms|strftime|"
    r"regexp_matches|string_split)\s*\(",
    re.I,
)

# One 60-minute lag for every source and no re-reads, as the rest of the tests (tests/conftest.py).
ONE_LAG = {"MAMORI_DETECT_LAG_MINUTES": "60", "MAMORI_DETECT_OVERLAP_MINUTES": "0"}


def event(t: datetime, i: int, **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "event_time": t.replace(tzinfo=None),
        "account_id": ACCOUNT,
        "sourceipaddress": f"198.51.100.{i % 250}",
        "eventname": "ConsoleLogin" if i % 3 == 0 else "CreateAccessKey",
        "eventsource": "signin.amazonaws.com" if i % 3 == 0 else "iam.amazonaws.com",
        "awsregion": "us-east-1",
        "useragent": f"Mozilla/5.0 ({i})",
        "useridentity": {**ROOT, "accesskeyid": None if i % 3 == 0 else f"ASIA{i:016d}"},
        "eventid": f"ev-{i:05d}",
        "additionaleventdata": json.dumps({"MFAUsed": "No"}) if i % 3 == 0 else None,
        "eventtype": "AwsConsoleSignIn" if i % 3 == 0 else "AwsApiCall",
        "errorcode": None,
        "responseelements": json.dumps({"ConsoleLogin": "Success"}) if i % 3 == 0 else None,
    }
    row.update(changes)
    row["dt"], row["hour"] = row["event_time"].strftime("%Y-%m-%d"), row["event_time"].strftime("%H")
    return row


def cloudtrail_rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(table rows, the hits cloudtrail_root_activity must return for [START, END)), hits in time order."""
    hits = [event(START + timedelta(milliseconds=2_879 * i), i) for i in range(HITS)]
    hits.append(event(END - timedelta(milliseconds=1), HITS))  # the last instant inside the window
    t = START + timedelta(minutes=30)
    others = [
        event(END, 9_001),  # the window is half-open
        event(START - timedelta(milliseconds=1), 9_002),
        event(t, 9_003, useridentity={**ROOT, "type": "IAMUser", "accesskeyid": None}),
        event(
            t, 9_004, useridentity={**ROOT, "invokedby": "cloudformation.amazonaws.com", "accesskeyid": None}
        ),
        event(t, 9_005, eventtype="AwsServiceEvent"),
        event(t, 9_006, errorcode="AccessDenied"),
        event(t, 9_009, responseelements=json.dumps({"ConsoleLogin": "Failure"})),  # i % 3 == 0: a sign-in
    ]
    expected = [
        {
            "event_time": r["event_time"].replace(tzinfo=UTC),
            "account_id": ACCOUNT,
            "source_ip": r["sourceipaddress"],
            "event_name": r["eventname"],
            "event_source": r["eventsource"],
            "aws_region": "us-east-1",
            "user_agent": r["useragent"],
            "access_key_id": r["useridentity"]["accesskeyid"],
            "event_id": r["eventid"],
            "actor": ROOT["arn"],
            "mfa_used": "No" if r["eventname"] == "ConsoleLogin" else None,
        }
        for r in hits
    ]
    return hits + others, expected


def duckdb_athena(rows: list[dict[str, Any]]) -> Any:
    """The SQL Athena receives, run on DuckDB over `rows` as the `cloudtrail` table, typed as Athena types."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        """CREATE TABLE cloudtrail (event_time TIMESTAMP, account_id VARCHAR, sourceipaddress VARCHAR,
        eventname VARCHAR, eventsource VARCHAR, awsregion VARCHAR, useragent VARCHAR,
        useridentity STRUCT(type VARCHAR, invokedby VARCHAR, arn VARCHAR, principalid VARCHAR,
        accesskeyid VARCHAR), eventid VARCHAR, additionaleventdata VARCHAR, eventtype VARCHAR,
        errorcode VARCHAR, responseelements VARCHAR, dt VARCHAR, hour VARCHAR)"""
    )
    table = pa.Table.from_pylist(rows)
    con.register("incoming", table)
    con.execute("INSERT INTO cloudtrail BY NAME SELECT * FROM incoming")

    def execute(sql: str) -> Result:
        cur = con.cursor()
        cur.execute(athena_to_duckdb(sql))
        columns = [(d[0], ATHENA_TYPES[str(d[1])]) for d in cur.description or []]
        return columns, cur.fetchall()

    return execute


@pytest.fixture
def athena(
    moto_server, monkeypatch, tmp_path
) -> Iterator[tuple[Engine, ExecutingAthena, list[dict[str, Any]]]]:
    rows, expected = cloudtrail_rows()
    with executing_athena(moto_server, duckdb_athena(rows)) as fake:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        extra = {
            "endpoint_url": fake.url,
            "region_name": "us-east-1",
            "s3_staging_dir": "s3://athena-results/",
            "work_group": "primary",
        }
        monkeypatch.setenv("AIRFLOW_CONN_MAMORI_ATHENA", json.dumps({"conn_type": "aws", "extra": extra}))
        s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
        if "athena-results" not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
            s3.create_bucket(Bucket="athena-results")
        settings = load_settings({"MAMORI_HOME": str(tmp_path), "MAMORI_ENGINE": "athena", **ONE_LAG})
        engine = get_engine(settings)
        assert engine.name == "athena"
        try:
            yield engine, fake, expected
        finally:
            engine.close()


def test_detection_runs_on_athena(athena, moto_server):
    engine, fake, expected = athena
    det = get_detection(REPO_SQL, "cloudtrail_root_activity")
    hits = run_detection(det, engine, START, END)

    # Athena received the detection as rendered for the window: Athena SQL, with the window predicate.
    (sent,) = fake.queries
    assert sent == det.render(START, END)
    assert window_predicate(START, END) in sent  # partition pruning and the exact event-time range
    assert "dt = '2026-11-01' AND hour IN ('02')" in sent
    sqlglot.parse_one(sent, read="athena")  # raises on SQL Athena's dialect cannot parse
    assert not DUCKDB_ONLY.search(sent), DUCKDB_ONLY.search(sent)
    assert sent != athena_to_duckdb(sent)  # the transpile would differ: it was not what got sent
    athena_api = boto3.client("athena", endpoint_url=moto_server, region_name="us-east-1")
    ids = athena_api.list_query_executions()["QueryExecutionIds"]
    execution = athena_api.get_query_execution(QueryExecutionId=ids[-1])["QueryExecution"]
    assert execution["Query"] == sent and execution["QueryExecutionContext"]["Database"] == "mamori"

    # The hits are what the statement selected, read over every page and converted from Athena's text.
    assert len(fake.result_requests) >= 2 and fake.result_requests[1].get("NextToken")
    assert len(hits) == len(expected) == HITS + 1
    assert hits == expected


def test_result_types_survive_the_wire(athena):
    """Each Athena type arrives as text in GetQueryResults; the engine's Arrow table has the real types."""
    engine, fake, _ = athena
    table = engine.query(
        "SELECT CAST(7 AS BIGINT) AS n, CAST(2 AS INTEGER) AS i, 1.5e0 AS d, true AS b, DATE '2026-11-01' AS day, "
        "TIMESTAMP '2026-11-01 02:43:10.123' AS t, CAST(NULL AS VARCHAR) AS missing, 'a,\"b\"\n' AS s"
    )
    assert table.to_pylist() == [
        {
            "n": 7,
            "i": 2,
            "d": 1.5,
            "b": True,
            "day": date(2026, 11, 1),
            "t": datetime(2026, 11, 1, 2, 43, 10, 123_000),
            "missing": None,
            "s": 'a,"b"\n',
        }
    ]
    assert [str(f.type) for f in table.schema] == [
        "int64",
        "int64",
        "double",
        "bool",
        "date32[day]",
        "timestamp[us]",
        "null",
        "string",
    ]
    assert [c for c, _ in fake.results[next(iter(fake.results))][0]] == list(table.column_names)


def test_a_detect_run_on_athena_sends_no_query_for_a_source_without_data(athena, tmp_path):
    """On Athena each query is billed at least 10 MB: a source with no data file in the window's hour
    partitions (asked of the lake's listing) gets none; a source with data gets one query per rule, as
    rendered (Athena has no shared scan)."""
    from mamori import detect
    from mamori.lake import layout
    from mamori.sources.base import Partition

    _, fake, expected = athena
    settings = load_settings({"MAMORI_HOME": str(tmp_path), "MAMORI_ENGINE": "athena", **ONE_LAG})
    # the lake's listing is what decides: a data file in the window's hour partition of cloudtrail only
    key = layout.curated_file(
        "cloudtrail", Partition(ACCOUNT, "us-east-1", "2026-11-01", "02").relpath(), "x"
    )
    path = Path(settings.lake_url.removeprefix("file://")) / key
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PAR1")  # its content is never read: Athena answers from its own table here
    start, end = START + settings.detect_lag, END + settings.detect_lag
    vpcflow = next(c for c in detect.detection_chunks(settings) if c[0].startswith("vpcflow_"))
    sent = len(fake.queries)

    skipped = detect.run_chunk(vpcflow, start, end, settings)
    assert len(fake.queries) == sent and all(r["skipped"] for r in skipped)

    [root] = detect.run_chunk(["cloudtrail_root_activity"], start, end, settings)
    assert fake.queries[sent:] == [get_detection(REPO_SQL, "cloudtrail_root_activity").render(START, END)]
    assert root["hits"] == len(expected) and "skipped" not in root
