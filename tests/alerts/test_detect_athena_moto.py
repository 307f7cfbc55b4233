"""The Athena path of a detect window against a moto server (Athena over HTTP; moto executes no SQL, results are
seeded): one StartQueryExecution per source with data for its combined rules, plus one per first-seen rule, none
for a source without data; the combined statement is one Athena statement; its seeded JSON rows decode into the
hit the rule's own query would have returned."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
import sqlglot
from moto_support import athena_connection, moto_process, seed_athena
from sqlglot import exp

from mamori import detect
from mamori.config import load_settings
from mamori.detections import combined
from mamori.detections.loader import load_catalog
from mamori.detections.runner import REQUIRED_COLUMNS

WSTART = datetime(2026, 11, 1, 2, tzinfo=UTC)
WEND = WSTART + timedelta(hours=1)


@pytest.fixture(scope="module")
def moto_url():
    with moto_process() as url:
        yield url


@pytest.fixture
def athena(moto_url, monkeypatch, tmp_path):
    athena_connection(moto_url, monkeypatch)
    settings = load_settings({"MAMORI_HOME": str(tmp_path), "MAMORI_ENGINE": "athena"})
    return settings, boto3.client("athena", endpoint_url=moto_url, region_name="us-east-1")


def _sent(client) -> list[str]:
    ids = client.list_query_executions()["QueryExecutionIds"]
    return [client.get_query_execution(QueryExecutionId=i)["QueryExecution"]["Query"] for i in ids]


def test_a_window_sends_one_statement_per_source_with_data_and_decodes_its_rows(athena, moto_url):
    from mamori.engines import get_engine

    settings, client = athena
    catalog = load_catalog(settings.sql_dir, include_deprecated=False)
    vpcflow = [d for d in catalog if d.header.log_source == "vpcflow"]
    first_seen = next(d for d in catalog if d.reach is None)
    alb = [d for d in catalog if d.header.log_source == "alb"]
    assert len(vpcflow) > 1 and all(d.reach is not None for d in vpcflow) and alb
    ssh = next(d for d in vpcflow if d.id == "vpcflow_ssh_from_internet_accepted")
    varchar = [(combined.RULE_COLUMN, "varchar"), (combined.VALUES_COLUMN, "varchar")]
    values = ["2026-11-01 02:15:07.000", "111111111111", "198.51.100.7", "198.51.100.7", "10.0.1.5", "ACCEPT"]
    values += ["eni-0abc", "i-0abc", "50122", "22", "41", "9120"]
    kinds = ["timestamp(3)"] + ["varchar"] * 7 + ["integer", "integer", "bigint", "bigint"]
    row = [ssh.id, json.dumps(values), json.dumps(kinds)]
    seed_athena(moto_url, [*varchar, (combined.TYPES_COLUMN, "varchar")], [row])  # the combined statement
    own = [(c, "varchar") for c in dict.fromkeys([*REQUIRED_COLUMNS, *first_seen.header.dedup.keys])]
    seed_athena(moto_url, own, [])  # the first-seen rule's own query: no hit
    before = len(_sent(client))

    engine = get_engine(settings)
    try:
        runs = list(
            detect.evaluate([*vpcflow, first_seen, *alb], engine, WSTART, WEND, {"vpcflow", "cloudtrail"})
        )
    finally:
        engine.close()

    sent = _sent(client)[before:]
    assert len(sent) == 2  # vpcflow's rules in one statement + the first-seen rule; alb has no data: none
    [statement] = [q for q in sent if combined.VALUES_COLUMN in q]
    tree = sqlglot.parse(statement, read="athena")
    assert len(tree) == 1 and isinstance(tree[0], exp.Union)
    assert len(statement.encode()) < combined.ATHENA_QUERY_LIMIT
    assert {r.detection.id: r.scan for r in runs} == {
        **{d.id: "combined" for d in vpcflow},
        first_seen.id: "own",
        **{d.id: "skipped" for d in alb},
    }
    assert not [r for r in runs if r.error]
    hits = {r.detection.id: r.hits for r in runs}
    assert hits[ssh.id] == [
        {
            "event_time": datetime(2026, 11, 1, 2, 15, 7, tzinfo=UTC),
            "account_id": "111111111111",
            "source_ip": "198.51.100.7",
            "actor": "198.51.100.7",
            "target": "10.0.1.5",
            "event_name": "ACCEPT",
            "interface_id": "eni-0abc",
            "instance_id": "i-0abc",
            "srcport": 50122,
            "dstport": 22,
            "packets": 41,
            "bytes": 9120,
        }
    ]
    assert all(hits[d.id] == [] for d in vpcflow if d is not ssh)
