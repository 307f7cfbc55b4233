"""VPC Flow Logs parser: AWS documentation records, custom field orders, and hostile input.

Each bad line must be quarantined with a reason while the rest of the object still converts, and
records_in == rows_out + quarantined must hold for every object.
"""

from __future__ import annotations

import gzip
import io
import logging
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot

from mamori.lake.ddl import hive_type, render_ddl
from mamori.sources.base import PARTITION_KEYS, RawKey
from mamori.sources.vpcflow import DEFAULT_FORMAT, SCHEMA, SOURCE

SAMPLES = Path(__file__).parent / "samples"
SQL = Path(__file__).resolve().parents[3] / "sql"
KEY = (
    "AWSLogs/123456789010/vpcflowlogs/us-east-1/2026/11/01/"
    "123456789010_vpcflowlogs_us-east-1_fl-1234abcd_20261101T1030Z_fe123456.log.gz"
)
HEADER = " ".join(DEFAULT_FORMAT)
V2 = (
    "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 "
    "ACCEPT OK"
)


def raw(key: str = KEY) -> RawKey:
    r = SOURCE.classify(key)
    assert r is not None
    return r


def parse(body: str | bytes, gz: bool = True, key: str = KEY):
    data = body.encode() if isinstance(body, str) else body
    res = SOURCE.parse_object(raw(key), gzip.compress(data, mtime=0) if gz else data)
    assert res.records_in == len(res.rows) + len(res.quarantined)
    # Every row must fit the table's Arrow schema exactly (a bad type would fail the whole batch later).
    pa.Table.from_pylist([r for _, r in res.rows], schema=SCHEMA)
    for _, r in res.rows:
        assert set(r) == set(SCHEMA.names)
        assert not set(r) & set(PARTITION_KEYS)
    return res


def test_schema_is_native_fields_then_common_columns():
    names = SCHEMA.names
    assert names[:3] == ["version", "interface_id", "srcaddr"]
    assert names.count("account_id") == 1 and "flow_region" in names and "region" not in names
    assert {"start", "end", "reject_reason", "ecs_task_arn"} <= set(names)
    assert names[-7:] == [
        "event_time",
        "source",
        "account_id",
        "related_ips",
        "related_users",
        "related_arns",
        "related_accounts",
    ]
    types = {f.name: f.type for f in SCHEMA}
    assert types["srcport"] == pa.int32() and types["bytes"] == pa.int64() and types["end"] == pa.int64()
    assert types["traffic_path"] == pa.int32() and types["tcp_flags"] == pa.int32()


def test_ddl_matches_schema_column_for_column():
    """The same check tests/unit/test_ddl.py runs once the source is registered."""
    ddl = render_ddl(
        SQL,
        "vpcflow",
        database="mamori",
        lake_url="s3://lake/",
        accounts=["111111111111"],
        regions=["us-east-1"],
        projection_start="2026-01-01",
    )
    tree = sqlglot.parse_one(ddl, read="athena")
    columns = [(c.name, c.args["kind"].sql("hive")) for c in tree.this.expressions]
    norm = [
        (f.name, sqlglot.exp.DataType.build(hive_type(f.type), dialect="hive").sql("hive")) for f in SCHEMA
    ]
    assert columns == norm
    assert "s3://lake/curated/vpcflow/account=${account}/region=${region}/dt=${dt}/hour=${hour}" in ddl


def test_aws_doc_v2_records():
    res = parse((SAMPLES / "aws_doc_v2.log").read_text())
    assert not res.quarantined and len(res.rows) == 5
    rows = [r for _, r in res.rows]
    ok = rows[0]
    assert ok["version"] == 2 and ok["interface_id"] == "eni-1235b8ca123456789"
    assert (ok["srcaddr"], ok["dstaddr"], ok["srcport"], ok["dstport"], ok["protocol"]) == (
        "172.31.16.139",
        "172.31.16.21",
        20641,
        22,
        6,
    )
    assert (ok["packets"], ok["bytes"], ok["start"], ok["end"]) == (20, 4249, 1418530010, 1418530070)
    assert ok["action"] == "ACCEPT" and ok["log_status"] == "OK"
    assert ok["event_time"] == datetime(2014, 12, 14, 4, 6, 50, tzinfo=UTC)
    assert ok["source"] == "vpcflow" and ok["account_id"] == "123456789010"
    assert ok["related_ips"] == ["172.31.16.139", "172.31.16.21"]
    assert ok["related_accounts"] == ["123456789010"] and ok["related_arns"] == []
    assert ok["vpc_id"] is None and ok["flow_region"] is None  # not in the v2 format: NULL
    assert rows[1]["action"] == "REJECT" and rows[1]["dstport"] == 3389
    nodata, skip = rows[2], rows[3]
    assert nodata["log_status"] == "NODATA" and skip["log_status"] == "SKIPDATA"
    for r in (nodata, skip):
        assert r["srcaddr"] is None and r["dstport"] is None and r["action"] is None and r["bytes"] is None
        assert r["related_ips"] == [] and r["start"] == 1431280876
    v6 = rows[4]
    assert v6["related_ips"] == [
        "2001:db8:1234:a100:8d6e:3477:df66:f105",
        "2001:db8:1234:a102:3304:8879:34cf:4071",
    ]
    parts = [p for p, _ in res.rows]
    assert {(p.account, p.region) for p in parts} == {("123456789010", "us-east-1")}
    assert (parts[0].dt, parts[0].hour) == ("2014-12-14", "04")


def test_aws_doc_v5_custom_order():
    res = parse((SAMPLES / "aws_doc_v5_custom.log").read_text())
    assert not res.quarantined
    ((_, r),) = res.rows
    assert r["version"] == 5 and r["srcaddr"] == "52.95.128.179" and r["dstport"] == 34210
    assert r["type"] == "IPv4" and r["packets"] == 14 and r["bytes"] == 15044
    assert r["account_id"] == "123456789012"  # from the record, not the key's 123456789010
    assert r["related_accounts"] == ["123456789012"]
    assert r["flow_region"] == "ap-southeast-2" and r["az_id"] == "apse2-az3"
    assert r["sublocation_type"] is None and r["tcp_flags"] == 19
    assert r["pkt_src_aws_service"] == "S3" and r["pkt_dst_aws_service"] is None
    assert r["traffic_path"] is None and r["flow_direction"] == "ingress"
    assert r["instance_id"] == "i-0c50d5961bcb2d47b" and r["log_status"] == "OK"
    assert r["related_ips"] == ["52.95.128.179", "10.0.0.71"]  # pkt-* repeat the same addresses
    assert r["event_time"] == datetime(2021, 3, 26, 3, 28, 12, tzinfo=UTC)


def test_custom_order_with_ecs_and_reject_reason():
    header = (
        "${ecs-task-arn} start srcaddr dstaddr dstport action end reject-reason account-id ecs-cluster-arn "
        "ecs-cluster-name log-status"
    )
    task = "arn:aws:ecs:us-east-1:123456789012:task/prod/0123456789abcdef0"
    cluster = "arn:aws:ecs:us-east-1:123456789012:cluster/prod"
    line = f"{task} 1700000000 10.0.0.5 203.0.113.9 443 REJECT 1700000060 BPA 123456789012 {cluster} prod OK"
    res = parse(f"{header}\n{line}\n")
    ((_, r),) = res.rows
    assert r["ecs_task_arn"] == task and r["reject_reason"] == "BPA" and r["ecs_cluster_name"] == "prod"
    assert r["related_arns"] == [cluster, task]
    assert r["version"] is None and r["srcport"] is None


def test_header_with_unknown_field_drops_that_column(caplog):
    header = "version account-id srcaddr future-field dstaddr start end action log-status"
    line = "9 123456789010 10.0.0.1 whatever 10.0.0.2 1700000000 1700000060 ACCEPT OK"
    with caplog.at_level(logging.WARNING, logger="mamori.sources.vpcflow"):
        res = parse(f"{header}\n{line}\n")
    assert not res.quarantined
    ((_, r),) = res.rows
    assert r["dstaddr"] == "10.0.0.2" and "whatever" not in r.values()
    assert "future-field" in caplog.text


def test_repeated_header_field_keeps_the_first():
    res = parse("start srcaddr srcaddr end\n1700000000 10.0.0.1 10.0.0.9 1700000060\n")
    ((_, r),) = res.rows
    assert r["srcaddr"] == "10.0.0.1"


def test_field_count_mismatch_quarantines_only_that_line():
    short = "2 123456789010 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 40 1700000000 1700000060"
    res = parse(f"{HEADER}\n{V2}\n{short}\n{V2}\n")
    assert len(res.rows) == 2 and len(res.quarantined) == 1
    q = res.quarantined[0]
    assert q.reason == "field count 12 != header 14" and q.index == 2 and q.raw == short


def test_no_header_reads_the_default_v2_format():
    res = parse(f"{V2}\n{V2}\n")
    assert len(res.rows) == 2 and not res.quarantined
    assert res.rows[0][1]["srcaddr"] == "172.31.16.139"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (V2.replace(" 20641 ", " abc "), "srcport 'abc' is not an integer"),
        (V2.replace(" 20641 ", " -5 "), "srcport '-5' is not an integer"),
        (V2.replace(" 20641 ", " 4294967296 "), "srcport '4294967296' is not an integer"),
        (V2.replace(" 20 4249 ", " 20 1_000 "), "bytes '1_000' is not an integer"),
        (V2.replace("1418530010 1418530070", "- -"), "neither start nor end"),
        (V2.replace("1418530010 1418530070", "99999999999 -"), "start 99999999999 outside 2010-01-01..2100"),
        (V2.replace("1418530010 1418530070", "12 13"), "start 12 outside 2010-01-01..2100"),
    ],
)
def test_bad_values_are_quarantined(line, reason):
    res = parse(f"{HEADER}\n{line}\n{V2}\n")
    assert len(res.rows) == 1 and len(res.quarantined) == 1
    assert reason in res.quarantined[0].reason and res.quarantined[0].raw == line


def test_start_missing_falls_back_to_end():
    res = parse(f"{HEADER}\n{V2.replace('1418530010 1418530070', '- 1418530070')}\n")
    ((_, r),) = res.rows
    assert r["start"] is None and r["event_time"] == datetime(2014, 12, 14, 4, 7, 50, tzinfo=UTC)


def test_header_without_any_time_field_quarantines_every_record():
    res = parse("srcaddr dstaddr action\n10.0.0.1 10.0.0.2 ACCEPT\n10.0.0.1 10.0.0.3 REJECT\n")
    assert not res.rows and len(res.quarantined) == 2
    assert all("neither start nor end" in q.reason for q in res.quarantined)


def test_unknown_account_falls_back_to_key_account():
    res = parse(
        f"{HEADER}\n{V2.replace('123456789010', 'unknown')}\n",
        key=KEY.replace("123456789010", "999999999999"),
    )
    ((part, r),) = res.rows
    assert r["account_id"] == "999999999999" and part.account == "999999999999"


@pytest.mark.parametrize("body", ["", "\n\n", HEADER, HEADER + "\n", HEADER + "\r\n\r\n"])
def test_empty_and_header_only_files_have_no_records(body):
    res = parse(body)
    assert res.records_in == 0 and res.skipped_reason is None


def test_crlf_and_uncompressed_text():
    res = parse(f"{HEADER}\r\n{V2}\r\n", gz=False)
    assert len(res.rows) == 1 and res.rows[0][1]["log_status"] == "OK"


def test_truncated_gzip_is_one_quarantined_unit():
    data = gzip.compress(f"{HEADER}\n{V2}\n".encode() * 50, mtime=0)
    res = SOURCE.parse_object(raw(), data[: len(data) // 2])
    assert not res.rows and len(res.quarantined) == 1 and res.records_in == 1
    q = res.quarantined[0]
    assert q.index is None and q.reason.startswith("unreadable gzip")


def test_invalid_utf8_costs_only_its_line():
    bad = V2.encode().replace(b"eni-1235b8ca123456789", b"eni-\xff\xfe")
    res = parse(f"{HEADER}\n{V2}\n".encode() + bad + b"\n" + V2.encode() + b"\n")
    assert len(res.rows) == 2 and len(res.quarantined) == 1
    assert res.quarantined[0].reason == "invalid UTF-8" and res.quarantined[0].index == 2


def test_huge_line_is_kept_bounded_in_quarantine():
    line = "x" * 200_000
    res = parse(f"{HEADER}\n{line}\n")
    (q,) = res.quarantined
    assert q.raw is not None and len(q.raw) < 70_000 and q.raw.endswith("raw object]")


def test_parquet_delivery_matches_text():
    text = parse((SAMPLES / "aws_doc_v2.log").read_text())
    cols = {
        "version": pa.array([2, 2, 2, 2, 2], pa.int32()),
        "account_id": ["123456789010"] * 5,
        "interface_id": ["eni-1235b8ca123456789"] * 3 + ["eni-11111111aaaaaaaaa", "eni-1235b8ca123456789"],
    }
    rows = [r for _, r in text.rows]
    for name in ("srcaddr", "dstaddr", "action", "log_status"):
        cols[name] = [r[name] for r in rows]
    for name in ("srcport", "dstport", "protocol"):
        cols[name] = pa.array([r[name] for r in rows], pa.int32())
    for name in ("packets", "bytes", "start", "end"):
        cols[name] = pa.array([r[name] for r in rows], pa.int64())
    buf = io.BytesIO()
    pq.write_table(pa.table(cols), buf)
    key = KEY.replace(".log.gz", ".log.parquet")
    res = SOURCE.parse_object(raw(key), buf.getvalue())
    assert not res.quarantined and [r for _, r in res.rows] == rows


def test_parquet_bad_value_quarantines_its_row():
    table = pa.table(
        {"start": ["1700000000", "1700000000"], "srcport": ["80", "http"], "srcaddr": ["10.0.0.1", None]}
    )
    buf = io.BytesIO()
    pq.write_table(table, buf)
    res = SOURCE.parse_object(raw(KEY.replace(".log.gz", ".parquet")), buf.getvalue())
    assert len(res.rows) == 1 and res.rows[0][1]["srcport"] == 80
    (q,) = res.quarantined
    assert q.index == 1 and q.raw == "1700000000 http -" and "srcport 'http'" in q.reason


def test_corrupt_parquet_is_one_quarantined_unit():
    res = SOURCE.parse_object(raw(KEY.replace(".log.gz", ".parquet")), b"PAR1not really parquet")
    assert not res.rows and len(res.quarantined) == 1 and res.quarantined[0].index is None
    assert res.quarantined[0].reason.startswith("unreadable Parquet")


@pytest.mark.parametrize(
    ("key", "account", "region"),
    [
        (KEY, "123456789010", "us-east-1"),
        (
            "AWSLogs/111111111111/vpcflowlogs/eu-west-1/2026/11/01/07/"
            "111111111111_vpcflowlogs_eu-west-1_fl-0abc_20261101T0710Z_0a1b2c3d.log.gz",
            "111111111111",
            "eu-west-1",
        ),
        (
            "prefix/AWSLogs/aws-account-id=222222222222/aws-service=vpcflowlogs/aws-region=us-gov-west-1/"
            "year=2026/month=11/day=01/222222222222_vpcflowlogs_us-gov-west-1_fl-0abc_20261101T0710Z_0a1b2c3d.log.gz",
            "222222222222",
            "us-gov-west-1",
        ),
        (
            "AWSLogs/aws-account-id=222222222222/aws-service=vpcflowlogs/aws-region=ap-southeast-2/"
            "year=2026/month=11/day=01/hour=07/222222222222_vpcflowlogs_ap-southeast-2_fl-0_20261101T0710Z_0a.log.parquet",
            "222222222222",
            "ap-southeast-2",
        ),
    ],
)
def test_classify_both_key_layouts(key, account, region):
    r = SOURCE.classify(key)
    assert r is not None and (r.account, r.region, r.kind) == (account, region, "events")


@pytest.mark.parametrize(
    "key",
    [
        "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/01/123456789012_CloudTrail_us-east-1_20261101T1030Z_x.json.gz",
        "AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/11/01/"
        "123456789012_elasticloadbalancing_us-east-1_app.web.0f1e2d3c4b5a6978_20261101T1030Z_10.0.1.5_x.log.gz",
        "AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/01/README.txt",
        "AWSLogs/123456789012/vpcflowlogs/us-east-1/x.log.gz",
        "AWSLogs/aws-account-id=123456789012/aws-service=elasticloadbalancing/aws-region=us-east-1/"
        "year=2026/month=11/day=01/x.log.gz",
    ],
)
def test_classify_rejects_other_keys(key):
    assert SOURCE.classify(key) is None


def test_list_prefixes_cover_both_layouts_by_day():
    prefixes = SOURCE.list_prefixes(
        datetime(2026, 11, 1, 0, tzinfo=UTC), datetime(2026, 11, 1, 1, tzinfo=UTC)
    )
    assert prefixes == [
        "AWSLogs/[0-9]*/vpcflowlogs/*/2026/10/31/",
        "AWSLogs/aws-account-id=*/aws-service=vpcflowlogs/aws-region=*/year=2026/month=10/day=31/",
        "AWSLogs/[0-9]*/vpcflowlogs/*/2026/11/01/",
        "AWSLogs/aws-account-id=*/aws-service=vpcflowlogs/aws-region=*/year=2026/month=11/day=01/",
    ]
