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
