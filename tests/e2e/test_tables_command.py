"""`mamori tables` in AWS mode against a moto server (S3 + Athena API shapes): the statements it prints are the
ones it sends to Athena, in order; `--recreate` drops each table first; bad configuration is refused with one
line before anything is sent; and on the embedded engine it says there is nothing to create."""

from __future__ import annotations

import json

import boto3
import pytest

from mamori.cli import main
from mamori.sources import SPECS

pytestmark = pytest.mark.slow
REGION = "us-east-1"
ACCOUNTS = "111111111111,222222222222"


@pytest.fixture
def aws_mode(moto_server, monkeypatch, tmp_path):
    """AWS-mode settings for the command line, with a database name no other test uses (moto's Athena keeps
    every query of the session)."""
    database = "cli_" + tmp_path.name.lower().replace("-", "_")[-24:]
    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(k, v)
    boto3.client("s3", endpoint_url=moto_server, region_name=REGION).create_bucket(
        Bucket="cli-athena-results"
    )
    extra = {
        "endpoint_url": moto_server,
        "region_name": REGION,
        "s3_staging_dir": "s3://cli-athena-results/athena/",
        "work_group": "primary",
    }
    # Its own connection id: Airflow caches a filesystem/client per id across tests.
    monkeypatch.setenv(
        "AIRFLOW_CONN_MAMORI_ATHENA_TABLES_CLI", json.dumps({"conn_type": "aws", "extra": extra})
    )
    for k, v in {
        "MAMORI_HOME": str(tmp_path),
        "MAMORI_ENGINE": "athena",
        "MAMORI_ATHENA_CONN_ID": "mamori_athena_tables_cli",
        "MAMORI_ATHENA_DATABASE": database,
        "MAMORI_LAKE_URL": "s3://cli-lake",
        "MAMORI_ACCOUNTS": ACCOUNTS,
        "MAMORI_REGIONS": "us-east-1,eu-west-1",
    }.items():
        monkeypatch.setenv(k, v)
    athena = boto3.client("athena", endpoint_url=moto_server, region_name=REGION)

    def sent() -> list[str]:
        """Statements Athena received that name this test's database, oldest first."""
        ids = athena.list_query_executions()["QueryExecutionIds"]
        queries = [athena.get_query_execution(QueryExecutionId=i)["QueryExecution"] for i in ids]
        queries.sort(key=lambda q: q["Status"]["SubmissionDateTime"])
        return [q["Query"] for q in queries if database in q["Query"]]

    return database, sent


def _printed(out: str) -> list[tuple[str, str]]:
    """(name, statement) pairs of `mamori tables --print`: '-- name' then the statement ending in ';'."""
    pairs = []
    for block in out.strip().split("\n\n"):
        name, _, sql = block.partition("\n")
        assert name.startswith("-- ") and sql.endswith(";"), block
        pairs.append((name[3:], sql[:-1]))
    return pairs


def test_tables_prints_then_issues_the_same_ddl(aws_mode, capsys):
    database, sent = aws_mode
    # Each table, then its projection update; a source whose events can be delivered twice is its
    # `<table>_delivered` table (and update) then its `<table>` view.
    specs = list(SPECS.values())
    names = [
        n
        for s in specs
        for n in (
            [s.delivered_table, f"projection {s.delivered_table}"]
            + ([s.table] if s.duplicate_delivery else [])
        )
    ]

    assert main(["tables", "--print"]) == 0
    printed = _printed(capsys.readouterr().out)
    assert [n for n, _ in printed] == ["database", *names, "all_events"]
    assert printed[0][1] == f"CREATE DATABASE IF NOT EXISTS {database}"
    for s in specs:
        # existing tables follow the configured accounts and regions
        alter = dict(printed)[f"projection {s.delivered_table}"]
        assert alter.startswith(f"ALTER TABLE {database}.{s.delivered_table} SET TBLPROPERTIES (")
        sql = dict(printed)[s.delivered_table]
        assert f"CREATE EXTERNAL TABLE IF NOT EXISTS {database}.{s.delivered_table} (" in sql
        assert f"LOCATION 's3://cli-lake/curated/{s.table}/'" in sql
        assert f"'projection.account.values' = '{ACCOUNTS}'" in sql
        if s.duplicate_delivery:
            assert f"CREATE OR REPLACE VIEW {database}.{s.table} AS" in dict(printed)[s.table]
    assert f"CREATE OR REPLACE VIEW {database}.all_events AS" in printed[-1][1]
    assert sent() == []  # printing sends nothing

    assert main(["tables"]) == 0
    # The summary is the last line (Airflow's logging, configured on import, also writes to stdout).
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result == {"engine": "athena", "statements": len(printed), "tables": [n for n, _ in printed]}
    assert [q.strip() for q in sent()] == [sql.strip() for _, sql in printed]

    # --recreate: each table is dropped right before it is created again (external tables: no data lost); a
    # merged view's name is dropped as either kind first (it was a table before the view existed).
    before = len(sent())
    assert main(["tables", "--recreate"]) == 0
    again = [q.strip() for q in sent()[before:]]
    expected = [f"CREATE DATABASE IF NOT EXISTS {database}"]
    for s in specs:
        if s.duplicate_delivery:
            expected += [
                f"DROP VIEW IF EXISTS {database}.{s.table}",
                f"DROP TABLE IF EXISTS {database}.{s.table}",
            ]
        expected += [
            f"DROP TABLE IF EXISTS {database}.{s.delivered_table}",
            f"CREATE EXTERNAL TABLE IF NOT EXISTS {database}.{s.delivered_table}",
            f"ALTER TABLE {database}.{s.delivered_table} SET TBLPROPERTIES",
        ]
        if s.duplicate_delivery:
            expected.append(f"CREATE OR REPLACE VIEW {database}.{s.table} AS")
    expected.append(f"CREATE OR REPLACE VIEW {database}.all_events")
    assert len(again) == len(expected) and all(e in q for q, e in zip(again, expected, strict=True))


def test_tables_refuses_bad_configuration_before_sending_anything(aws_mode, capsys, monkeypatch):
    _, sent = aws_mode
    monkeypatch.setenv("MAMORI_ACCOUNTS", "111111111111,not-an-account")
    assert main(["tables"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("tables: MAMORI_ACCOUNTS must list the 12-digit accounts")
    assert sent() == []

    monkeypatch.setenv("MAMORI_ACCOUNTS", ACCOUNTS)
    monkeypatch.setenv("MAMORI_ENGINE", "duckdb")  # the embedded engine has no tables to create
    assert main(["tables"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("tables: MAMORI_ENGINE is duckdb")
    assert sent() == []
