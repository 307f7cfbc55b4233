"""The CloudWatch Logs transport on its own, under a toy format: what every CloudWatch-delivered source inherits.

The syslog source's tests (tests/sources/cloudwatch) hold envelopes and hostile deliveries to the documented
semantics through one format; these hold the contract *between* transport and format: each event is one row
or one quarantine entry in unit order, a format's reject is quarantined with its reason and the event's text,
format columns win over the envelope's, and a format's key layout never claims another format's keys.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest

from mamori.sources.base import COMMON_FIELDS, ObjectResult, RawKey
from mamori.sources.formats.cloudwatch_logs import (
    TRANSPORT_FIELDS,
    CloudWatchLogsSource,
    Envelope,
    Layout,
    Reject,
)

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
MS0 = int(T0.timestamp() * 1000)
UUID = "5f1d8a4e-1c2b-4e5f-9a7b-0c1d2e3f4a5b"


class Toy(CloudWatchLogsSource):
    """A format that accepts messages starting with `ok` and rejects the rest; it overrides account_id for
    `ok acct`, as a format whose records name their own account (Route 53 Resolver) does."""

    name = "toy"
    table = "toy"
    schema = pa.schema([*TRANSPORT_FIELDS, pa.field("text", pa.string()), *COMMON_FIELDS])
    layout = Layout(firehose="CloudWatchLogs-Toy", export="CloudWatchLogsExport-Toy")

    def row(self, message: str, event_time: datetime, env: Envelope) -> dict[str, Any] | Reject:
        if not message.startswith("ok"):
            return Reject(f"not a toy record: starts with {message[:2]!r}")
        row: dict[str, Any] = {
            "text": message,
            "source": self.name,
            "related_ips": [],
            "related_users": [],
            "related_arns": [],
        }
        if message == "ok acct":
            row["account_id"] = "999999999999"
        return row


TOY = Toy()
KEY = f"AWSLogs/123456789012/CloudWatchLogs-Toy/us-east-1/2026/11/22/10/toy-stream-1-2026-11-22-10-05-12-{UUID}.gz"
EXPORT_KEY = (
    "AWSLogs/123456789012/CloudWatchLogsExport-Toy/eu-west-1/%2Ftoy%2Fgroup/"
    "cda45419-90ea-4db5-9833-aade86253e66/stream-a/000000.gz"
)


def parse(body: bytes, key: str = KEY, gz: bool = True) -> ObjectResult:
    raw = TOY.classify(key)
    assert raw is not None
    res = TOY.parse_object(raw, gzip.compress(body, mtime=0) if gz else body)
    assert res.records_in == len(res.rows) + len(res.quarantined)
    pa.Table.from_pylist([r for _, r in res.rows], schema=TOY.schema)
    return res


def message(*texts: str, **over: Any) -> bytes:
    doc: dict[str, Any] = {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": "/toy/group",
        "logStream": "stream-a",
        "subscriptionFilters": ["to-firehose"],
        "logEvents": [{"id": str(i), "timestamp": MS0 + i, "message": m} for i, m in enumerate(texts)],
    }
    doc.update(over)
    return json.dumps(doc, separators=(",", ":")).encode()


def test_each_event_is_one_row_or_one_quarantine_entry_in_unit_order():
    res = parse(message("ok 1", "bad", "ok 2") + b'{"messageType": broken' + message("ok 3"))
    assert [r["text"] for _, r in res.rows] == ["ok 1", "ok 2", "ok 3"]
    got = [(q.index, q.reason) for q in res.quarantined]
    assert got[0] == (1, "not a toy record: starts with 'ba'")
    assert got[1][0] == 3 and got[1][1].startswith("undecodable JSON object at offset")
    # The rejected event is kept as the event object, so it can be replayed after a format fix.
    assert json.loads(res.quarantined[0].raw or "") == {"id": "1", "timestamp": MS0 + 1, "message": "bad"}


def test_rows_carry_the_transport_columns_and_the_cloudwatch_time():
    (part, row), *_ = parse(message("ok")).rows
    assert row["owner"] == "123456789012" and row["log_group"] == "/toy/group"
    assert row["log_stream"] == "stream-a" and row["subscription_filters"] == ["to-firehose"]
    assert row["event_id"] == "0" and row["event_time"] == T0
    assert row["account_id"] == "123456789012" and row["related_accounts"] == ["123456789012"]
    assert part.relpath() == "account=123456789012/region=us-east-1/dt=2026-11-22/hour=10"


def test_format_columns_win_over_the_envelopes():
    (_, row), *_ = parse(message("ok acct")).rows
    assert row["account_id"] == "999999999999"
    assert row["owner"] == "123456789012"


def test_an_owner_that_is_not_an_account_falls_back_to_the_keys_account():
    (_, row), *_ = parse(message("ok", owner="CloudwatchLogs")).rows
    assert row["account_id"] == "123456789012" and row["related_accounts"] == []


def test_control_messages_are_skipped_and_an_object_of_only_them_is_not_data():
    ctl = message(
        "CWL CONTROL MESSAGE: Checking health of destination Firehose.", messageType="CONTROL_MESSAGE"
    )
    res = parse(ctl)
    assert (
        res.records_in == 0 and res.skipped_reason == "no log events (empty object, or control messages only)"
    )
    assert [r["text"] for _, r in parse(ctl + message("ok")).rows] == ["ok"]


def test_firehose_gzip_on_top_of_cloudwatch_gzip_is_removed():
    body = gzip.compress(gzip.compress(message("ok"), mtime=0), mtime=0)
    assert len(parse(body, gz=False).rows) == 1


@pytest.mark.parametrize(
    "data",
    [gzip.compress(message("ok"), mtime=0)[:-9], b"\x1f\x8b\x08garbage"],
    ids=["truncated", "corrupt"],
)
def test_an_unreadable_gzip_is_one_object_level_unit(data):
    res = parse(data, gz=False)
    assert res.rows == [] and len(res.quarantined) == 1
    q = res.quarantined[0]
    assert q.index is None and q.reason.startswith("unreadable gzip: ")


def test_export_lines_go_through_the_format_with_the_group_from_the_key():
    body = b"2026-11-22T10:00:00.000Z ok a\n2026-11-22T10:00:01Z nope\ncontinued\n2026-11-22T10:00:02Z ok b\n"
    res = parse(body, key=EXPORT_KEY)
    assert [(r["text"], r["log_group"], r["log_stream"]) for _, r in res.rows] == [
        ("ok a", "/toy/group", "stream-a"),
        ("ok b", "/toy/group", "stream-a"),
    ]
    # The multi-line event the format refused is quarantined whole, as its text.
    assert [(q.index, q.raw) for q in res.quarantined] == [(1, "nope\ncontinued")]


def test_layouts_of_two_formats_never_claim_each_others_keys():
    syslog = Layout(firehose="CloudWatchLogs", export="CloudWatchLogsExport")
    syslog_key = KEY.replace("CloudWatchLogs-Toy", "CloudWatchLogs")
    assert syslog.classify(KEY) is None and syslog.classify(EXPORT_KEY) is None
    assert TOY.classify(syslog_key) is None
    r = syslog.classify(syslog_key)
    assert r == RawKey(key=syslog_key, account="123456789012", region="us-east-1", kind="events")


def test_a_layout_without_exports_neither_claims_nor_lists_them():
    firehose_only = Layout(firehose="CloudWatchLogs-Toy")
    assert firehose_only.classify(EXPORT_KEY) is None and firehose_only.export_origin(EXPORT_KEY) is None
    prefixes = firehose_only.list_prefixes(T0, T0.replace(hour=11))
    assert prefixes == [
        "AWSLogs/*/CloudWatchLogs-Toy/*/2026/11/21/",
        "AWSLogs/*/CloudWatchLogs-Toy/*/2026/11/22/",
    ]


def test_the_export_write_probe_is_skipped_not_parsed():
    probe = "AWSLogs/123456789012/CloudWatchLogsExport-Toy/us-east-1/%2Ftoy/aws-logs-write-test"
    raw = TOY.classify(probe)
    assert raw is not None and raw.kind == "write-test"
    res = TOY.parse_object(raw, b"Permission Check Successful")
    assert res.records_in == 0 and res.skipped_reason == "write-test file (not log events)"
