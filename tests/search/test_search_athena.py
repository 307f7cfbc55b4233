"""The Athena code path against a moto server (Athena + S3 over HTTP): the SQL sent is one Athena statement
with the window's partition predicate and the values as literals, the scan is sized from the lake's
partitions before anything runs, and runs without a time range or over the budget are refused without a
single Athena call. moto executes no SQL: results are seeded, as in tests/e2e."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
import sqlglot
from moto_support import athena_connection, seed_athena
from sqlglot import exp

from mamori.cli import main
from mamori.config import load_settings
from mamori.hunts import load_hunts
from mamori.search.events import EVENT_NAME, SEARCH_SCHEMA, Filters, run_search
from mamori.search.execute import Refused, run_sql
from mamori.search.timerange import TimeRange
from mamori.sources import SOURCES

RNG = TimeRange(datetime(2026, 11, 1, 2, tzinfo=UTC), datetime(2026, 11, 1, 4, tzinfo=UTC))
PART = "account=111111111111/region=us-east-1/dt=2026-11-01"
LAKE_OBJECTS = {  # key → size: two hours in range, one before, one after, one in-flight temp file
    f"curated/cloudtrail/{PART}/hour=02/a.parquet": 1000,
    f"curated/cloudtrail/{PART}/hour=03/a.parquet": 2000,
    f"curated/cloudtrail/{PART}/hour=03/.b.parquet.tmp": 50_000,
    f"curated/cloudtrail/{PART}/hour=01/a.parquet": 40_000,
    f"curated/cloudtrail/{PART}/hour=04/a.parquet": 80_000,
    f"curated/vpcflow/{PART}/hour=02/a.parquet": 300,
    f"curated/s3access/{PART}/hour=05/a.parquet": 7_000,
}
IN_RANGE = {"cloudtrail": 3000, "vpcflow": 300, "s3access": 0}


@pytest.fixture
def athena(moto_url, monkeypatch, tmp_path):
    """Settings for Athena + an s3:// lake, both on moto; returns (settings, boto3 Athena client)."""
    extra = athena_connection(moto_url, monkeypatch)
    monkeypatch.setenv("AIRFLOW_CONN_MAMORI_S3", json.dumps({"conn_type": "aws", "extra": extra}))
    s3 = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1")
    bucket = "lake-" + tmp_path.name.replace("_", "-").lower()[-20:]
    s3.create_bucket(Bucket=bucket)
    for key, size in LAKE_OBJECTS.items():
        s3.put_object(Bucket=bucket, Key=key, Body=b"x" * size)
    env = {
        "MAMORI_HOME": str(tmp_path),
        "MAMORI_ENGINE": "athena",
        "MAMORI_LAKE_URL": f"s3://{bucket}",
        "MAMORI_LAKE_CONN_ID": "mamori_s3",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return load_settings(env), boto3.client("athena", endpoint_url=moto_url, region_name="us-east-1")


def sent_queries(client) -> list[str]:
    ids = client.list_query_executions()["QueryExecutionIds"]
    return [client.get_query_execution(QueryExecutionId=i)["QueryExecution"]["Query"] for i in ids]


SEARCH_COLUMNS = [(f.name, "timestamp" if f.name == "event_time" else "varchar") for f in SEARCH_SCHEMA]


def test_search_sends_one_pruned_statement_and_reads_seeded_rows(athena, moto_url):
    settings, client = athena
    before = len(sent_queries(client))
    seed_athena(
        moto_url,
        SEARCH_COLUMNS,
        [
            [
                "2026-11-01 02:43:10.000",
                "cloudtrail",
                "111111111111",
                "us-east-1",
                "111111111111",
                "ConsoleLogin",
                "arn:aws:iam::111111111111:root",
                "203.0.113.5",
                "signin.amazonaws.com 203.0.113.5",
            ],
            [
                "2026-11-01 03:01:00.000",
                "vpcflow",
                "111111111111",
                "us-east-1",
                "111111111111",
                "REJECT",
                None,
                "203.0.113.5,10.0.1.15",
                "203.0.113.5 4444 -> 10.0.1.15 22 6 44",
            ],
        ],
    )
    messages: list[str] = []
    res = run_search(
        settings, Filters(ips=("203.0.113.5",), principals=("x' OR '1'='1",)), RNG, progress=messages.append
    )
    batches = list(res.batches)
    rows = [r for b in batches for r in b.to_pylist()]
    assert all(b.schema.equals(SEARCH_SCHEMA) for b in batches)
    assert [(r["event_time"], r["source"], r["principal"]) for r in rows] == [
        (datetime(2026, 11, 1, 2, 43, 10), "cloudtrail", "arn:aws:iam::111111111111:root"),
        (datetime(2026, 11, 1, 3, 1), "vpcflow", None),
    ]
    queries = sent_queries(client)[before:]
    assert len(queries) == 1
    [tree] = sqlglot.parse(queries[0], read="athena")
    literals = [lit.this for lit in tree.find_all(exp.Literal) if lit.is_string]
    assert "203.0.113.5" in literals and "x' OR '1'='1" in literals
    assert (
        queries[0].count("(dt = '2026-11-01' AND hour IN ('02', '03'))")
        == len(list(tree.find_all(exp.Union))) + 1
    )
    assert "TIMESTAMP '2026-11-01 02:00:00.000'" in queries[0]  # the window macro as written, not a transpile
    # Sized before running: cloudtrail and vpcflow objects of hours 02-03 (temp files and other hours excluded).
    assert res.stats.estimated_bytes == sum(IN_RANGE.values())
    assert res.stats.files == 3 and res.stats.scanned_bytes == 0  # moto reports 0 bytes scanned
    assert "estimated scan ≤ 3.2 KiB (3 objects in 3 partitions of alb, cloudtrail" in messages[0]


def test_refusals_happen_before_any_athena_call(athena):
    settings, client = athena
    before = len(sent_queries(client))
    with pytest.raises(Refused, match="give a time range"):
        run_search(settings, Filters(ips=("203.0.113.5",)), None)
    with pytest.raises(Refused, match="over the budget"):
        run_search(settings, Filters(ips=("203.0.113.5",)), RNG, budget=3000)
    with pytest.raises(Refused, match="over the budget"):
        run_sql(settings, "SELECT eventname FROM cloudtrail WHERE {{ window() }}", RNG, budget=2999)
    with pytest.raises(Refused, match=r"does not use \{\{ window\(\) \}\}"):
        run_sql(settings, "SELECT eventname FROM cloudtrail", RNG)
    with pytest.raises(Refused, match="give a time range"):
        run_sql(settings, "SELECT eventname FROM cloudtrail", None)
    assert len(sent_queries(client)) == before


def test_query_budget_force_and_estimate_per_table(athena, moto_url):
    settings, client = athena
    seed_athena(moto_url, [("n", "bigint")], [["42"]])
    res = run_sql(
        settings, "SELECT count(*) AS n FROM cloudtrail WHERE {{ window() }}", RNG, budget=100, force=True
    )
    assert [r for b in res.batches for r in b.to_pylist()] == [{"n": 42}]
    assert res.stats.estimated_bytes == IN_RANGE["cloudtrail"]
    seed_athena(moto_url, [("n", "bigint")], [["1"]])
    res = run_sql(settings, "SELECT count(*) AS n FROM all_events WHERE {{ window() }}", RNG)
    list(res.batches)
    assert res.stats.estimated_bytes == sum(IN_RANGE.values())  # all_events reads every source table
    assert sent_queries(client)[-1].startswith(
        "SELECT count(*) AS n FROM all_events WHERE ((dt = '2026-11-01' AND hour IN ('02', '03'))"
    )


def test_hunt_on_athena_binds_hostile_values_as_literals(athena, moto_url):
    settings, client = athena
    hunt = load_hunts(settings.sql_dir)["principal_timeline"]
    hostile = "arn:aws:iam::111111111111:user/x'); DROP TABLE cloudtrail; --"
    seed_athena(
        moto_url,
        [("event_time", "timestamp"), ("event_name", "varchar")],
        [["2026-11-01 02:00:01.000", "GetUser"]],
    )
    res = run_sql(settings, hunt.body, RNG, hunt.bind_params({"principal": hostile, "limit": "10"}))
    assert [r for b in res.batches for r in b.to_pylist()] == [
        {"event_time": datetime(2026, 11, 1, 2, 0, 1), "event_name": "GetUser"}
    ]
    [tree] = sqlglot.parse(sent_queries(client)[-1], read="athena")
    assert [lit.this for lit in tree.find_all(exp.Literal) if lit.is_string].count(hostile) == 4
    assert not list(tree.find_all(exp.Drop)) and tree.args["limit"].expression.this == "10"


def test_cli_on_athena(athena, moto_url, capsys):
    _, client = athena
    before = len(sent_queries(client))
    assert main(["search", "--ip", "203.0.113.5"]) == 2
    assert "give a time range" in capsys.readouterr().err
    assert (
        main(
            [
                "search",
                "--ip",
                "203.0.113.5",
                "--from",
                "2026-11-01T02:00Z",
                "--to",
                "2026-11-01T04:00Z",
                "--max-bytes",
                "1K",
            ]
        )
        == 2
    )
    assert "over the budget of 1.0 KiB" in capsys.readouterr().err
    assert len(sent_queries(client)) == before
    seed_athena(
        moto_url,
        SEARCH_COLUMNS,
        [
            [
                "2026-11-01 02:43:10.000",
                "cloudtrail",
                "111111111111",
                "us-east-1",
                "111111111111",
                "ConsoleLogin",
                None,
                "203.0.113.5",
                "x",
            ]
        ],
    )
    assert (
        main(
            [
                "search",
                "--ip",
                "203.0.113.5",
                "--from",
                "2026-11-01T02:00Z",
                "--to",
                "2026-11-01T04:00Z",
                "--format",
                "csv",
            ]
        )
        == 0
    )
    out, err = capsys.readouterr()
    assert out.splitlines()[1].startswith("2026-11-01 02:43:10")
    assert "estimated scan" in err and "Athena scanned 0 B" in err


@pytest.mark.parametrize(
    ("filters", "fragment", "tables"),
    [
        (Filters(ips=("2001:db8::1",)), "contains(related_ips, '2001:db8::1')", len(SOURCES)),
        (
            Filters(principals=("arn:aws:iam::1:user/a'b",)),
            "contains(related_arns, 'arn:aws:iam::1:user/a''b') OR contains(related_users, 'arn:aws:iam::1:user/a''b')",
            len(SOURCES),
        ),
        (
            Filters(accounts=("222222222222",)),
            "account = '222222222222' OR account_id = '222222222222' OR "
            "contains(related_accounts, '222222222222')",
            len(SOURCES),
        ),
        # each source with an event-name column
        (Filters(event_names=("ConsoleLogin",)), "= 'ConsoleLogin')", len(EVENT_NAME)),
        (
            Filters(event_names=("REST.GET.OBJECT",), sources=("s3access",)),
            "operation = 'REST.GET.OBJECT'",
            1,
        ),
        (
            Filters(contains=(("useragent", "Sqlmap'--"),)),
            "strpos(lower(\"useragent\"), lower('Sqlmap''--')) > 0",
            3,  # cloudtrail, cloudtrail_insights, s3access (alb's column is user_agent)
        ),
        (
            Filters(contains=(("dstport", "22"),)),
            "strpos(lower(CAST(\"dstport\" AS VARCHAR)), lower('22')) > 0",
            1,
        ),
    ],
)
def test_each_search_form_sends_its_predicate(athena, filters, fragment, tables):
    settings, client = athena
    before = len(sent_queries(client))
    res = run_search(settings, filters, RNG)
    assert list(res.batches) == []  # nothing seeded: moto answers with no rows
    [query] = sent_queries(client)[before:]
    [tree] = sqlglot.parse(query, read="athena")
    assert query.count(fragment) == tables
    assert len(list(tree.find_all(exp.Union))) == tables - 1
    assert query.count("(dt = '2026-11-01' AND hour IN ('02', '03'))") == tables
