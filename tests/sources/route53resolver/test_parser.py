"""Route 53 Resolver query logs through CloudWatch Logs: AWS's documented record, both S3 landings, hostile input.

Every field is attacker-influenced: a record of the wrong shape is quarantined with a reason naming the field,
the rest of the object still converts, and records in = rows out + quarantined, always.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from mamori.sources.base import ObjectResult, RawKey
from mamori.sources.route53resolver import MAX_QUERY_NAME, SCHEMA, SOURCE

SAMPLES = Path(__file__).parent / "samples"
KEY = (
    "AWSLogs/111122223333/CloudWatchLogs-Route53Resolver/us-east-1/2021/02/04/17/"
    "mamori-route53resolver-1-2021-02-04-17-55-12-5f1d8a4e-1c2b-4e5f-9a7b-0c1d2e3f4a5b.gz"
)
EXPORT_KEY = (
    "AWSLogs/111122223333/CloudWatchLogsExport-Route53Resolver/us-east-1/%2Fmamori%2Froute53resolver%2Fquery-logs/"
    "cda45419-90ea-4db5-9833-aade86253e66/vpc-7example/000000.gz"
)
MS0 = 1612461115123  # 2021-02-04T17:51:55.123Z
DOC = json.loads((SAMPLES / "aws_doc_record.json").read_text())


def raw(key: str = KEY) -> RawKey:
    r = SOURCE.classify(key)
    assert r is not None
    return r


def parse(body: bytes, key: str = KEY, gz: bool = True) -> ObjectResult:
    res = SOURCE.parse_object(raw(key), gzip.compress(body, mtime=0) if gz else body)
    assert res.records_in == len(res.rows) + len(res.quarantined)
    pa.Table.from_pylist([r for _, r in res.rows], schema=SCHEMA)  # what ingest writes to Parquet
    return res


def delivery(*messages: str) -> bytes:
    doc = {
        "messageType": "DATA_MESSAGE",
        "owner": "111122223333",
        "logGroup": "/mamori/route53resolver/query-logs",
        "logStream": "vpc-7example",
        "subscriptionFilters": ["mamori-to-firehose"],
        "logEvents": [{"id": str(i), "timestamp": MS0 + i, "message": m} for i, m in enumerate(messages)],
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def record(**over: Any) -> str:
    doc = dict(DOC)
    for k, v in over.items():
        if v is ...:
            doc.pop(k, None)
        else:
            doc[k] = v
    return json.dumps(doc, ensure_ascii=False)


def one_row(message: str) -> dict[str, Any]:
    res = parse(delivery(message))
    assert not res.quarantined, res.quarantined
    ((_, row),) = res.rows
    return row


def reason_of(message: str) -> str:
    res = parse(delivery(record(), message, record()))
    assert len(res.rows) == 2, "the records around a bad one still convert"
    ((q),) = res.quarantined
    assert q.index == 1 and q.raw is not None
    if len(q.raw) < 256 * 1024:  # kept whole, replayable; longer ones are cut (the raw object has them)
        assert json.loads(q.raw)["message"] == message
    else:
        assert q.raw.endswith("…[truncated; full record in raw object]")
    return q.reason


# -- AWS's documented record ----------------------------------------------------------------------------------


def test_the_aws_documentation_example_becomes_one_typed_row():
    row = one_row(record())
    assert row["query_name"] == "15.3.4.32.in-addr.arpa." and row["query_type"] == "PTR"
    assert row["query_class"] == "IN" and row["rcode"] == "NOERROR" and row["transport"] == "UDP"
    assert row["srcaddr"] == "4.5.64.102" and row["srcport"] == 56067
    assert row["vpc_id"] == "vpc-7example" and row["vpc_region"] == "us-east-1"
    assert row["version"] == "1.100000"
    assert row["query_timestamp"] == "2021-02-04T17:51:55Z"
    assert row["query_time"] == datetime(2021, 2, 4, 17, 51, 55, tzinfo=UTC)
    assert row["answers"] == [{"rdata": "203.0.113.9", "type": "PTR", "class": "IN"}]
    assert row["srcids_instance"] == "i-0d15cd0d3example" and row["srcids_resolver_endpoint"] is None
    assert row["firewall_rule_action"] == "BLOCK"
    assert row["firewall_rule_group_id"] == "rslvr-frg-01234567890abcdef"
    assert row["firewall_domain_list_id"] == "rslvr-fdl-01234567890abcdef"
    # Common columns: CloudWatch's time, the record's account, the addresses involved.
    assert row["event_time"] == datetime(2021, 2, 4, 17, 51, 55, 123000, tzinfo=UTC)
    assert row["source"] == "route53resolver" and row["account_id"] == "111122223333"
    assert row["related_ips"] == ["4.5.64.102", "203.0.113.9"]
    assert row["related_accounts"] == ["111122223333"]
    assert row["related_users"] == [] and row["related_arns"] == []
    # Transport columns.
    assert row["log_group"] == "/mamori/route53resolver/query-logs" and row["log_stream"] == "vpc-7example"
    assert row["event_id"] == "0" and row["owner"] == "111122223333"


def test_the_firehose_sample_skips_the_control_message_and_keeps_every_record():
    res = parse((SAMPLES / "firehose_query_logs.json").read_bytes())
    assert not res.quarantined
    rows = [r for _, r in res.rows]
    assert [r["query_name"] for r in rows] == [
        "15.3.4.32.in-addr.arpa.",
        "db.corp.example.com.",
        "www.example.com.",
    ]
    inbound, aaaa = rows[1], rows[2]
    assert (
        inbound["srcids_resolver_endpoint"] == "rslvr-in-0123456789abcdef0"
        and inbound["srcids_instance"] is None
    )
    assert inbound["answers"] == [] and inbound["rcode"] == "NXDOMAIN"
    assert inbound["firewall_rule_action"] is None  # only written when DNS Firewall matched
    # Only answers that are addresses are related IPs (not the CNAME target).
    assert aaaa["related_ips"] == ["10.0.1.15", "2001:db8::10"]


def test_export_task_lines_are_read_with_the_group_from_the_key():
    res = parse((SAMPLES / "export_000000.txt").read_bytes(), key=EXPORT_KEY)
    assert not res.quarantined and len(res.rows) == 3
    (part, row) = res.rows[0]
    assert row["log_group"] == "/mamori/route53resolver/query-logs" and row["log_stream"] == "vpc-7example"
    assert row["event_time"] == datetime(2021, 2, 4, 17, 51, 55, 123000, tzinfo=UTC)
    assert part.relpath() == "account=111122223333/region=us-east-1/dt=2021-02-04/hour=17"


def test_a_record_of_another_account_names_it_and_keeps_the_log_groups_as_related():
    row = one_row(record(account_id="444455556666"))
    assert row["account_id"] == "444455556666"
    assert row["related_accounts"] == ["444455556666", "111122223333"]


def test_a_record_account_that_is_not_an_account_number_falls_back_to_the_log_groups():
    row = one_row(record(account_id="１１１１２２２２３３３３"))  # fullwidth digits: str.isdigit() says yes
    assert row["account_id"] == "111122223333" and row["related_accounts"] == ["111122223333"]


def test_optional_fields_may_be_absent():
    row = one_row(
        record(
            answers=...,
            srcids=...,
            srcport=...,
            firewall_rule_action=...,
            firewall_rule_group_id=...,
            firewall_domain_list_id=...,
        )
    )
    assert row["answers"] is None and row["srcids_instance"] is None and row["srcport"] is None
    assert row["related_ips"] == ["4.5.64.102"]


def test_unknown_fields_from_a_newer_minor_version_are_ignored():
    assert one_row(record(version="1.200000", edns_client_subnet="192.0.2.0/24"))["version"] == "1.200000"


def test_an_integer_srcport_is_accepted():
    assert one_row(record(srcport=53))["srcport"] == 53


def test_non_ascii_and_control_characters_are_kept_as_written():
    name = "ünïcödé.例え.テスト.\u202etxt.exe\x00."
    row = one_row(record(query_name=name))
    assert row["query_name"] == name


def test_a_long_but_possible_name_is_kept():
    name = ("a" * 63 + ".") * 3 + "example."
    assert one_row(record(query_name=name))["query_name"] == name


# -- hostile input ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("{not json", "message is not JSON"),
        ('{"query_name": "a.example."', "message is not JSON"),  # truncated record
        ("", "message is not JSON"),
        ("[1, 2]", "message is a JSON list, not a query log record"),
        ('"15.3.4.32.in-addr.arpa."', "message is a JSON str, not a query log record"),
        ("null", "message is a JSON null, not a query log record"),
        (record(query_name=...), "record without query_name"),
        (record(query_name=""), "record without query_name"),
        (record(query_type=...), "record without query_type"),
        (record(srcaddr=...), "record without srcaddr"),
        (record(query_timestamp=...), "record without query_timestamp"),
        (record(query_name=42), "query_name is int, not text"),
        (record(srcaddr=["10.0.0.1"]), "srcaddr is list, not text"),
        (record(rcode={"x": 1}), "rcode is dict, not text"),
        (record(region=True), "region is bool, not text"),
        (record(query_timestamp="yesterday"), "query_timestamp is not an ISO 8601 time"),
        (
            record(query_timestamp="2021-02-04T17:51:55Z" + "0" * 100),
            "query_timestamp is not an ISO 8601 time",
        ),
        (record(srcport="http"), "srcport is not a port number"),
        (record(srcport="65536"), "srcport is not a port number"),
        (record(srcport=-1), "srcport is not a port number"),
        (record(srcport=True), "srcport is not a port number"),
        (record(srcport="٥٣"), "srcport is not a port number"),  # Arabic-Indic digits
        (record(srcids="i-0d15cd0d3example"), "srcids is str, not an object"),
        (record(srcids={"instance": 7}), "srcids.instance is int, not text"),
        (record(answers={"Rdata": "1.2.3.4"}), "answers is dict, not a list"),
        (record(answers=["1.2.3.4"]), "answer is str, not an object"),
        (record(answers=[{"Rdata": ["1.2.3.4"]}]), "answer field (Rdata, Type, Class) is not text"),
        (record(account_id=111122223333), "account_id is int, not text"),
        (
            record(query_name="a" * (MAX_QUERY_NAME + 1)),
            f"query_name longer than {MAX_QUERY_NAME} characters: not a DNS name",
        ),
    ],
)
def test_a_bad_record_is_quarantined_with_a_reason_and_its_neighbours_kept(message, reason):
    assert reason_of(message) == reason


def test_a_huge_label_is_quarantined_without_copying_it_whole_into_the_reason():
    huge = "x" * 5_000_000 + ".attacker.example."
    reason = reason_of(record(query_name=huge))
    assert reason.startswith("query_name longer than") and len(reason) < 100


def test_a_message_nested_deeper_than_the_json_parser_reads_is_not_json():
    assert reason_of("[" * 100_000 + "]" * 100_000) == "message is not JSON"


def test_a_truncated_gzip_is_one_object_level_quarantine_entry():
    data = gzip.compress(delivery(record()), mtime=0)
    res = parse(data[: len(data) // 2], gz=False)
    assert res.rows == [] and len(res.quarantined) == 1
    assert res.quarantined[0].index is None and res.quarantined[0].reason.startswith("unreadable gzip: ")


def test_a_broken_envelope_is_quarantined_by_the_transport_and_later_messages_kept():
    res = parse(b'{"messageType":"DATA_MESSAGE","logEvents":[{"broken' + delivery(record()))
    assert len(res.rows) == 1 and len(res.quarantined) == 1
    assert res.quarantined[0].reason.startswith("undecodable JSON object at offset 0")


def test_invalid_utf8_in_a_message_does_not_lose_the_object():
    body = delivery(record(), record()).replace(b"vpc-7example", b"vpc-7\xff\xfeample", 1)
    res = parse(body)
    assert len(res.rows) == 2 and not res.quarantined
