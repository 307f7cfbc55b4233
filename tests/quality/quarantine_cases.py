"""One raw object per parser quarantine reason class of every source (tests/quality/test_quarantine_alerts.py).

Each case is (class, key, bytes): landed in one ingest window, the object must have exactly that class of
record (or the whole object, when it cannot be opened) quarantined, and a good record beside it where the
format has records. Keys follow each source's documented layout, dated 2026-11-01 04:05 UTC.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from typing import Any

ACCT = "123456789012"
WINDOW = datetime(2026, 11, 1, 4, tzinfo=UTC)
EVENT = WINDOW + timedelta(minutes=3)
LANDED = WINDOW + timedelta(minutes=5)
# Attacker text that a quarantine reason quotes: alerts must never carry it unbounded.
LONG = "A" * 5000


def gz(body: bytes) -> bytes:
    return gzip.compress(body, mtime=0)


def lines(*text: str) -> bytes:
    return gz(("\n".join(text) + "\n").encode())


TRUNCATED_GZIP = gz(b"x" * 5000)[:-30]


# -- CloudTrail and CloudTrail Insights (one parser) ---------------------------------------------------------------


def _ct_key(tag: str, kind: str) -> str:
    return f"AWSLogs/{ACCT}/{kind}/us-east-1/2026/11/01/{ACCT}_{kind}_us-east-1_20261101T0405Z_{tag:0>16}.json.gz"


def _ct_record(**changes: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "eventVersion": "1.09",
        "eventTime": EVENT.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "ec2.amazonaws.com",
        "eventName": "DescribeInstances",
        "awsRegion": "us-east-1",
        "recipientAccountId": ACCT,
    }
    for k, v in changes.items():
        if v is ...:
            del rec[k]
        else:
            rec[k] = v
    return rec


def _ct_doc(bad: bytes) -> bytes:
    """A delivery file: one good record, then `bad` (a record as raw JSON bytes)."""
    return gz(b'{"Records":[' + json.dumps(_ct_record()).encode() + b"," + bad + b"]}")


def _ct(**changes: Any) -> bytes:
    return _ct_doc(json.dumps(_ct_record(**changes)).encode())


def cloudtrail_cases(kind: str) -> list[tuple[str, str, bytes]]:
    nul = json.dumps(_ct_record()).encode()[:-1] + b',"userAgent":"a\x00b"}'
    return [
        ("unreadable_gzip", _ct_key("gz", kind), TRUNCATED_GZIP),
        ("not_json", _ct_key("notjson", kind), gz(b"this is not json {")),
        ("not_a_records_object", _ct_key("array", kind), gz(b"[1, 2]")),
        ("records_not_a_list", _ct_key("recdict", kind), gz(b'{"Records": {"a": 1}}')),
        ("record_not_json", _ct_key("nul", kind), _ct_doc(nul)),
        ("record_not_an_object", _ct_key("str", kind), _ct_doc(b'"junk"')),
        ("ambiguous_keys", _ct_key("ambig", kind), _ct(eventname="Other")),
        ("missing_identity", _ct_key("noname", kind), _ct(eventName=...)),
        ("invalid_event_time", _ct_key("badtime", kind), _ct(eventTime="yesterday" + LONG)),
        ("unstorable_value", _ct_key("deep", kind), _ct(requestParameters=json.loads("[" * 300 + "]" * 300))),
    ]


# -- ALB -----------------------------------------------------------------------------------------------------------

_ALB_KEY = (
    f"AWSLogs/{ACCT}/elasticloadbalancing/us-east-1/2026/11/01/{ACCT}_elasticloadbalancing_us-east-1_"
    "app.my-lb.50dc6c495c0c9188_20261101T0405Z_10.0.0.1_{}.log.gz"
)


def _alb(
    time: str = "2026-11-01T04:03:00.000000Z",
    client: str = "203.0.113.5:2817",
    status: str = "200",
    request: str = '"GET https://www.example.com:443/ HTTP/1.1"',
) -> str:
    return (
        f"https {time} app/my-lb/50dc6c495c0c9188 {client} 10.0.0.1:80 0.086 0.048 0.037 {status} 200 0 57 "
        f'{request} "curl/7.46.0"'
    )


ALB = [
    ("unreadable_gzip", _ALB_KEY.format("gz"), TRUNCATED_GZIP),
    ("quote_error", _ALB_KEY.format("quote"), lines(_alb(), _alb(request='"GET /x HTTP/1.1'))),
    ("too_few_fields", _ALB_KEY.format("few"), lines(_alb(), "https 2026-11-01T04:03:00Z app/my-lb/1")),
    ("invalid_time", _ALB_KEY.format("time"), lines(_alb(), _alb(time="yesterday" + LONG))),
    ("invalid_address", _ALB_KEY.format("addr"), lines(_alb(), _alb(client="203.0.113.5"))),
    ("invalid_number", _ALB_KEY.format("num"), lines(_alb(), _alb(status="2x0"))),
]

# -- S3 server access logs -----------------------------------------------------------------------------------------

_S3_KEY = f"AWSLogs/{ACCT}/us-east-1/my-bucket/2026/11/01/2026-11-01-04-05-00-{{:0>16}}"
_OWNER = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
_S3 = (
    f"{_OWNER} my-bucket [01/Nov/2026:04:03:00 +0000] 192.0.2.3 {_OWNER} 3E57427F3EXAMPLE REST.GET.VERSIONING - "
    '"GET /my-bucket?versioning HTTP/1.1" 200 - 113 - 7 - "-" "S3Console/0.4" - '
    "s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV4 "
    "ECDHE-RSA-AES128-GCM-SHA256 AuthHeader my-bucket.s3.us-east-1.amazonaws.com TLSV1.2 - - us-east-1"
)
S3ACCESS = [
    ("unreadable_gzip", _S3_KEY.format("GZ"), TRUNCATED_GZIP),
    ("quote_error", _S3_KEY.format("QUOTE"), lines(_S3, _S3.replace('"-" "S3', '"- "S3'))),
    (
        "too_few_fields",
        _S3_KEY.format("FEW"),
        lines(_S3, f"{_OWNER} my-bucket [01/Nov/2026:04:03:00 +0000] x"),
    ),
    ("invalid_time", _S3_KEY.format("TIME"), lines(_S3, _S3.replace("[01/Nov", "[99/Nov"))),
    (
        "misaligned_fields",
        _S3_KEY.format("ALIGN"),
        lines(_S3, _S3.replace('"GET /my-bucket?versioning HTTP/1.1"', "-X-")),
    ),
    ("invalid_number", _S3_KEY.format("NUM"), lines(_S3, _S3.replace(" 200 - 113 ", " 2x0 - 113 "))),
    (
        "unrecognised_line",
        _S3_KEY.format("OTHER"),
        lines(_S3, _S3.replace(" 3E57427F3EXAMPLE ", ' "3E57 EXAMPLE" ')),
    ),
]

# -- VPC Flow Logs -------------------------------------------------------------------------------------------------

_VPC_KEY = (
    f"AWSLogs/{ACCT}/vpcflowlogs/us-east-1/2026/11/01/"
    f"{ACCT}_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20261101T0405Z_{{}}"
)
_V2 = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action "
    "log-status"
)


def _vpc(src: str = "10.0.1.15", srcport: str = "443", start: str | None = None, extra: str = "") -> str:
    s = str(int(EVENT.timestamp())) if start is None else start
    end = str(int(s) + 60) if s.isdigit() else s
    return f"2 {ACCT} eni-0a1b2c3d {src} 203.0.113.9 {srcport} 49152 6 10 840 {s} {end} ACCEPT OK{extra}"


VPCFLOW = [
    ("unreadable_gzip", _VPC_KEY.format("gz.log.gz"), TRUNCATED_GZIP),
    ("unreadable_parquet", _VPC_KEY.format("pq.log.parquet"), b"PAR1 not really parquet PAR1"),
    (
        "invalid_utf8",
        _VPC_KEY.format("utf8.log.gz"),
        gz(f"{_V2}\n{_vpc()}\n".encode() + _vpc(src="10.0.1.\xff").encode("latin-1") + b"\n"),
    ),
    ("field_count", _VPC_KEY.format("count.log.gz"), lines(_V2, _vpc(), _vpc(extra=" " + LONG))),
    ("untimed", _VPC_KEY.format("untimed.log.gz"), lines(_V2, _vpc(), _vpc(start="-"))),
    ("invalid_time", _VPC_KEY.format("time.log.gz"), lines(_V2, _vpc(), _vpc(start="5"))),
    ("invalid_number", _VPC_KEY.format("num.log.gz"), lines(_V2, _vpc(), _vpc(srcport="abc"))),
]

# -- CloudWatch Logs (Firehose deliveries and export tasks) ---------------------------------------------------------

_CW_KEY = f"AWSLogs/{ACCT}/CloudWatchLogs/us-east-1/2026/11/01/04/mamori-1-2026-11-01-04-05-00-{{}}"
_EXPORT_KEY = (
    f"AWSLogs/{ACCT}/CloudWatchLogsExport/us-east-1/grp/0f0e0d0c-0b0a-4999-8888-777766665555/i-0123/000000.gz"
)
_MS = int(EVENT.timestamp() * 1000)


def _cw(event: Any) -> bytes:
    good = {"id": "1", "timestamp": _MS, "message": "ok"}
    doc = {
        "messageType": "DATA_MESSAGE",
        "owner": ACCT,
        "logGroup": "g",
        "logStream": "s",
        "logEvents": [good, event],
    }
    return gz(json.dumps(doc).encode())


CLOUDWATCH = [
    ("unreadable_gzip", _CW_KEY.format("gz"), TRUNCATED_GZIP),
    ("not_json", _CW_KEY.format("notjson"), gz(b'{"messageType": "DATA_MESSAGE", broken')),
    ("not_a_data_message", _CW_KEY.format("notdata"), gz(b'{"messageType": "OTHER"}')),
    ("event_not_an_object", _CW_KEY.format("evstr"), _cw("junk")),
    ("invalid_time", _CW_KEY.format("evtime"), _cw({"id": "2", "timestamp": "soon", "message": "m"})),
    ("invalid_time", _EXPORT_KEY, gz(b"no timestamp here\n2026-11-01T04:03:00.000Z ok\n")),
    ("missing_message", _CW_KEY.format("evmsg"), _cw({"id": "2", "timestamp": _MS, "message": 5})),
]

# -- Route 53 Resolver query logs (the CloudWatch Logs transport, a JSON query record per event) ----------------

_R53_KEY = (
    f"AWSLogs/{ACCT}/CloudWatchLogs-Route53Resolver/us-east-1/2026/11/01/04/"
    "mamori-route53resolver-1-2026-11-01-04-05-00-{}"
)
_QUERY = {
    "version": "1.100000",
    "account_id": ACCT,
    "region": "us-east-1",
    "vpc_id": "vpc-7example",
    "query_timestamp": EVENT.strftime("%Y-%m-%dT%H:%M:%SZ"),
    "query_name": "www.example.com.",
    "query_type": "A",
    "query_class": "IN",
    "rcode": "NOERROR",
    "answers": [{"Rdata": "203.0.113.9", "Type": "A", "Class": "IN"}],
    "srcaddr": "10.0.1.15",
    "srcport": "56067",
    "transport": "UDP",
    "srcids": {"instance": "i-0d15cd0d3example"},
}


def _r53(event: Any) -> bytes:
    good = {"id": "1", "timestamp": _MS, "message": json.dumps(_QUERY)}
    doc = {
        "messageType": "DATA_MESSAGE",
        "owner": ACCT,
        "logGroup": "/mamori/route53resolver/query-logs",
        "logStream": "vpc-7example",
        "logEvents": [good, event],
    }
    return gz(json.dumps(doc).encode())


def _r53_message(message: str) -> bytes:
    return _r53({"id": "2", "timestamp": _MS, "message": message})


ROUTE53RESOLVER = [
    ("unreadable_gzip", _R53_KEY.format("gz"), TRUNCATED_GZIP),
    ("not_json", _R53_KEY.format("notjson"), gz(b'{"messageType": "DATA_MESSAGE", broken')),
    ("not_a_data_message", _R53_KEY.format("notdata"), gz(b'{"messageType": "OTHER"}')),
    ("event_not_an_object", _R53_KEY.format("evstr"), _r53("junk")),
    ("invalid_time", _R53_KEY.format("evtime"), _r53({"id": "2", "timestamp": "soon", "message": "m"})),
    ("missing_message", _R53_KEY.format("evmsg"), _r53({"id": "2", "timestamp": _MS, "message": 5})),
    ("not_a_query_record", _R53_KEY.format("notrec"), _r53_message("{not json" + LONG)),
    (
        "bad_field",
        _R53_KEY.format("field"),
        _r53_message(json.dumps({k: v for k, v in _QUERY.items() if k != "query_timestamp"})),
    ),
]

CASES: dict[str, list[tuple[str, str, bytes]]] = {
    "alb": ALB,
    "cloudtrail": cloudtrail_cases("CloudTrail"),
    "cloudtrail_insights": cloudtrail_cases("CloudTrail-Insight"),
    "cloudwatch": CLOUDWATCH,
    "route53resolver": ROUTE53RESOLVER,
    "s3access": S3ACCESS,
    "vpcflow": VPCFLOW,
}
