"""CloudTrail parser: AWS documentation records, and every kind of hostile input we have seen or can imagine.

Each bad input must be quarantined with a reason while the rest of the object still converts, and
records_in == rows_out + quarantined must hold for every object.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from mamori.sources.base import RawKey
from mamori.sources.cloudtrail import SOURCE

SAMPLES = Path(__file__).parent / "samples"
KEY = (
    "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/01/"
    "123456789012_CloudTrail_us-east-1_20261101T1030Z_Ab12Cd34Ef56Gh78.json.gz"
)
GOOD = {
    "eventVersion": "1.08",
    "eventTime": "2026-11-01T10:00:00Z",
    "eventSource": "sts.amazonaws.com",
    "eventName": "GetCallerIdentity",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "203.0.113.9",
    "userIdentity": {
        "type": "IAMUser",
        "userName": "carol",
        "arn": "arn:aws:iam::123456789012:user/carol",
        "accountId": "123456789012",
    },
}


def raw() -> RawKey:
    r = SOURCE.classify(KEY)
    assert r is not None
    return r


def parse(doc: object | bytes, gz: bool = True):
    data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    res = SOURCE.parse_object(raw(), gzip.compress(data) if gz else data)
    assert res.records_in == len(res.rows) + len(res.quarantined)
    return res


def test_aws_documentation_records_parse_to_athena_columns():
    res = parse((SAMPLES / "aws_doc_records.json").read_bytes())
    assert not res.quarantined
    rows = {r["eventname"]: r for _, r in res.rows}
    create = rows["CreateUser"]
    assert create["useridentity"]["username"] == "Alice"
    assert json.loads(create["requestparameters"]) == {"userName": "Bob"}
    assert create["readonly"] == "false"  # booleans as the Hive SerDe renders them
    assert create["tlsdetails"]["clientprovidedhostheader"] == "iam.amazonaws.com"
    assert create["related_users"] == ["Alice", "Bob"]
    assert create["related_ips"] == ["198.51.100.7"]
    start = rows["StartInstances"]
    assert start["useridentity"]["sessioncontext"]["sessionissuer"]["username"] == "RoleToBeAssumed"
    assert start["related_ips"] == ["2001:db8::7"]
    assert start["resources"][0]["arn"].endswith(
        "i-EXAMPLE56126103cb"
    )  # "ARN" key matched case-insensitively
    svc = rows["GetBucketAcl"]
    assert svc["sourceipaddress"] == "AWS Internal" and svc["related_ips"] == []  # kept, but not an IP
    assert svc["responseelements"] is None
    parts = {p for p, _ in res.rows}
    assert {(p.account, p.region, p.dt, p.hour) for p in parts} == {
        ("123456789012", "us-east-1", "2026-11-01", "10")
    }


def test_classify_owns_only_cloudtrail_layouts():
    assert SOURCE.classify(KEY).kind == "events"
    org = "AWSLogs/o-abcdefghij/123456789012/CloudTrail/eu-west-1/2026/11/01/x.json.gz"
    assert SOURCE.classify(org).account == "123456789012"
    digest = (
        "AWSLogs/123456789012/CloudTrail-Digest/us-east-1/2026/11/01/"
        "123456789012_CloudTrail-Digest_us-east-1_t_us-east-1_20261101T103000Z.json.gz"
    )
    assert SOURCE.classify(digest).kind == "digest"
    assert SOURCE.classify("AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/11/01/x.log.gz") is None
    assert SOURCE.classify("AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/01/notes.txt") is None


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (gzip.compress(json.dumps({"Records": [GOOD] * 50}).encode())[:-30], "unreadable gzip"),
        (gzip.compress(b"this is not json {"), "not JSON"),
        (gzip.compress(b'\xff\xfe{"Records": []}'), "not JSON"),  # invalid UTF-8
        (gzip.compress(b"[1, 2, 3]"), "not a JSON object"),
        (gzip.compress(b'{"Records": {"a": 1}}'), "Records is not a list"),
    ],
    ids=["truncated-gzip", "not-json", "invalid-utf8", "json-array", "records-not-list"],
)
def test_unopenable_object_is_one_quarantined_unit(data, reason):
    res = SOURCE.parse_object(raw(), data)
    assert res.rows == []
    assert len(res.quarantined) == 1
    q = res.quarantined[0]
    assert q.reason.startswith(reason) and q.key == KEY and q.index is None
    assert res.records_in == 1


def test_bad_records_are_quarantined_with_reasons_and_the_rest_converts():
    records = [
        GOOD,
        {k: v for k, v in GOOD.items() if k != "eventTime"},
        GOOD | {"eventTime": "yesterday"},
        GOOD | {"eventTime": "2026-11-01T10:00:00"},  # no zone: cannot be placed in a UTC window
        "just a string",
        {k: v for k, v in GOOD.items() if k != "eventName"},
        GOOD | {"eventname": "DeleteTrail"},  # eventName twice, different values
        GOOD | {"eventTime": "2026-11-01T11:59:59.123+02:00"},
    ]
    res = parse({"Records": records})
    reasons = [(q.index, q.reason) for q in res.quarantined]
    assert [i for i, _ in reasons] == [1, 2, 3, 4, 5, 6]
    assert "eventtime" in reasons[0][1]
    assert "invalid eventTime" in reasons[1][1] and "invalid eventTime" in reasons[2][1]
    assert "not an object" in reasons[3][1]
    assert "eventname" in reasons[4][1]
    assert "ambiguous" in reasons[5][1]
    assert all(q.raw for q in res.quarantined[:3])  # the record text is kept for replay
    assert len(res.rows) == 2
    assert res.rows[1][1]["event_time"].isoformat() == "2026-11-01T09:59:59.123000+00:00"
    assert res.rows[1][0].hour == "09"


def test_lower_case_keys_are_read_like_athenas_serde():
    lowered = {
        k.lower(): (({kk.lower(): vv for kk, vv in v.items()}) if isinstance(v, dict) else v)
        for k, v in GOOD.items()
    }
    res = parse({"records": [lowered]})
    assert not res.quarantined
    row = res.rows[0][1]
    assert row["eventname"] == "GetCallerIdentity" and row["useridentity"]["username"] == "carol"


def test_type_unstable_fields_become_json_text_and_scalars_text():
    rec = GOOD | {
        "requestParameters": {"policy": {"Statement": [{"Principal": {"Service": ["a", "b"]}}]}},
        "readOnly": True,
        "resources": {"ARN": "arn:single"},
        "userIdentity": "not-a-struct",
    }
    res = parse({"Records": [rec]})
    row = res.rows[0][1]
    assert json.loads(row["requestparameters"])["policy"]["Statement"][0]["Principal"]["Service"] == [
        "a",
        "b",
    ]
    assert row["readonly"] == "true"
    assert row["resources"] == [{"arn": "arn:single", "accountid": None, "type": None}]
    assert row["useridentity"] is None


def test_digest_and_non_records_files_are_skipped_not_quarantined():
    digest = {"awsAccountId": "123456789012", "digestStartTime": "2026-11-01T09:00:00Z", "logFiles": []}
    res = parse(digest)
    assert res.skipped_reason and res.rows == [] and res.quarantined == []
    r = SOURCE.classify("AWSLogs/123456789012/CloudTrail-Digest/us-east-1/2026/11/01/d.json.gz")
    res = SOURCE.parse_object(r, gzip.compress(json.dumps(digest).encode()))
    assert res.skipped_reason.startswith("digest")


def test_empty_records_and_uncompressed_objects():
    assert parse({"Records": []}).records_in == 0
    res = parse({"Records": [GOOD]}, gz=False)
    assert len(res.rows) == 1


def test_huge_and_hostile_strings_survive_intact_in_the_lake_row():
    ua = "A" * 20_000 + "\u202e<img src=x>@org/team"
    res = parse({"Records": [GOOD | {"userAgent": ua}]})
    assert res.rows[0][1]["useragent"] == ua  # the lake keeps evidence as-is; rendering makes it inert


def _record_bytes(rec: dict, **raw_values: bytes) -> bytes:
    """A record as JSON bytes with some values spliced in raw (bytes json.dumps cannot produce)."""
    body = json.dumps(rec, separators=(",", ":")).encode()
    for name, value in raw_values.items():
        body = body[:-1] + b',"' + name.encode() + b'":' + value + b"}"
    return body


# Records the JSON parser refuses although the delivery file around them is intact: each must cost only itself.
REFUSED = {
    "deeper-than-1024": _record_bytes(GOOD, requestParameters=b"[" * 1100 + b"]" * 1100),
    "raw-nul": _record_bytes(GOOD, userAgent=b'"aws-cli\x00/2.15"'),
    "invalid-utf8": _record_bytes(GOOD, userAgent=b'"aws-cli\xff\xfe/2.15"'),
    "cut-utf8-sequence": _record_bytes(GOOD, userAgent=b'"a\xc3"'),
}


def _delivery(middle: bytes) -> bytes:
    first = json.dumps(GOOD | {"eventName": "First"}).encode()
    last = json.dumps(GOOD | {"eventName": "Last"}).encode()
    return gzip.compress(b'{"Records": [' + first + b", " + middle + b",\n" + last + b"]}", mtime=0)


def _columnar(data: bytes, stream: bool, monkeypatch) -> tuple[int, list, list[str]]:
    """The columnar parser itself (not through convert's factory): rows out, quarantine, event names."""
    from mamori.sources import cloudtrail

    if stream:  # small pieces: the streamed path must reach the same verdict
        monkeypatch.setattr(cloudtrail, "STREAM_MIN_BYTES", 0)
        monkeypatch.setattr(cloudtrail, "_PIECE", 64)
    tables = []
    cols = cloudtrail.CloudTrailColumns(lambda p, t, o: tables.append(t))
    result = cols.parse(raw(), data)
    cols.flush()
    names = [n for t in tables for n in t.column("eventname").to_pylist()]
    return result.rows_out, result.quarantined, names


@pytest.mark.parametrize("middle", list(REFUSED.values()), ids=list(REFUSED))
def test_a_record_the_json_parser_refuses_is_quarantined_alone(middle, monkeypatch):
    data = _delivery(middle)
    res = SOURCE.parse_object(raw(), data)
    assert res.records_in == 3
    assert [r["eventname"] for _, r in res.rows] == ["First", "Last"]
    (q,) = res.quarantined
    assert q.index == 1 and q.key == KEY
    assert q.reason.startswith("record is not valid JSON")
    assert q.raw and len(q.raw) <= 300 * 1024 and "eventTime" in q.raw  # the record's text, for replay
    for stream in (False, True):
        rows_out, quarantined, names = _columnar(data, stream, monkeypatch)
        assert (rows_out, names) == (2, ["First", "Last"])
        assert [x.as_dict() for x in quarantined] == [q.as_dict()]


@pytest.mark.parametrize(
    "body",
    [
        b'{"Records": [{"eventTime": "x"}, {"a": "\x00"}',  # truncated: the array never closes
        b'{"Records": [{"a": 1}], "Records": [{"b": "\xff"}]}',  # two Records keys
        b'{"Records": [{"a": 1}]} trailing',
        b'{"Records": [{"a": "\xff"}] "Other": 1}',  # no comma between members
        b'{"Records": [{"a": "unterminated}]}',
    ],
    ids=["truncated", "two-records-keys", "trailing-bytes", "missing-comma", "unterminated-string"],
)
def test_a_broken_container_is_still_one_quarantined_unit(body):
    """Records can only be counted when the object around them is intact: otherwise the object is the unit."""
    res = SOURCE.parse_object(raw(), gzip.compress(body, mtime=0))
    assert res.rows == [] and res.records_in == 1
    (q,) = res.quarantined
    assert q.index is None and q.reason.startswith("not JSON")


def test_the_record_splitter_reads_valid_json_as_the_parser_does():
    """The fallback splitter must cut exactly where a JSON parser would: quotes, escapes and brackets inside
    strings, nested arrays and objects, other members before and after Records, any whitespace."""
    from mamori.sources.cloudtrail import split_records

    tricky = GOOD | {
        "requestParameters": {"a": 'x"],{"b":[', "c": '\\"}{', "d": [[], {}, [{"e": "]"}]], "f": -1.5e3},
        "responseElements": None,
        "readOnly": True,
        "userAgent": "\u202e\x00 \\",
    }
    doc = {"Other": {"x": [1, "]"]}, "Records": [tricky, GOOD, [], "s", 1, None], "z": "}"}
    for text in (
        json.dumps(doc).encode(),
        json.dumps(doc, indent=3).encode(),
        json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode(),
        (SAMPLES / "aws_doc_records.json").read_bytes(),
    ):
        assert split_records(text) == json.loads(text)["Records"]
    assert split_records(b' { "Records" : [ ] } \n') == []
