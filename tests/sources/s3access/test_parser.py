"""S3 server access log parser: AWS documentation lines, every field-count generation, and hostile input.

A bad line must be quarantined with a reason while the rest of the object still converts, and
records_in == rows_out + quarantined must hold for every object. Client-controlled bytes (User-Agent,
Referer) must never be able to drop a request from the table.
"""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp

from mamori.lake.ddl import hive_type, render_ddl
from mamori.sources.base import ObjectResult, RawKey
from mamori.sources.s3access import KNOWN_FIELDS, MIN_FIELDS, SCHEMA, SOURCE, parse_request_time

SAMPLES = Path(__file__).parent / "samples"
SQL = Path(__file__).resolve().parents[3] / "sql"
KEY = "AWSLogs/123456789012/us-west-1/amzn-s3-demo-bucket1/2019/02/06/2019-02-06-00-05-12-4AF1F4A7F7F2B3E6"
SIMPLE_KEY = "s3-access-logs/123456789012/eu-west-1/my-bucket/2019-02-06-00-05-12-4AF1F4A7F7F2B3E6"
OWNER = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
HOST_ID = "s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234="


def line(
    *,
    requester: str = OWNER,
    ip: str = "192.0.2.3",
    uri: str = '"GET /my-bucket/photos/puppy.jpg?x-foo=bar HTTP/1.1"',
    status: str = "200",
    ua: str = '"aws-cli/2.15.0"',
    referrer: str = '"-"',
    time: str = "[06/Feb/2019:00:00:38 +0000]",
    tail: tuple[str, ...] = ("-", "-", "us-east-1"),
) -> str:
    """A line in AWS's field order; `tail` is what follows TLS version (access point ARN, aclRequired...)."""
    head = (
        f"{OWNER} my-bucket {time} {ip} {requester} 3E57427F3EXAMPLE REST.GET.OBJECT photos/puppy.jpg {uri} "
        f"{status} - 2662992 3462992 70 10 {referrer} {ua} - {HOST_ID} SigV4 ECDHE-RSA-AES128-GCM-SHA256 "
        "AuthHeader my-bucket.s3.us-west-1.amazonaws.com TLSv1.2"
    )
    return " ".join([head, *tail])


def raw(key: str = KEY) -> RawKey:
    r = SOURCE.classify(key)
    assert r is not None
    return r


def parse(body: str | bytes, key: str = KEY) -> ObjectResult:
    data = body.encode() if isinstance(body, str) else body
    res = SOURCE.parse_object(raw(key), data)
    assert res.records_in == len(res.rows) + len(res.quarantined)
    return res


def one(body: str | bytes) -> dict:
    res = parse(body)
    assert not res.quarantined, res.quarantined
    assert len(res.rows) == 1
    return res.rows[0][1]


def reason(body: str) -> str:
    res = parse(body)
    assert not res.rows and len(res.quarantined) == 1
    q = res.quarantined[0]
    assert q.index == 0 and q.raw == body.rstrip("\n")
    return q.reason


def test_aws_documentation_lines_parse_to_typed_columns():
    res = parse((SAMPLES / "aws_doc.log").read_bytes())
    assert not res.quarantined and len(res.rows) == 4
    rows = {r["requestid"]: r for _, r in res.rows}
    v = rows["3E57427F3EXAMPLE"]  # current doc: 27 fields, access point and trailing region
    assert v == {
        **v,
        "bucketowner": OWNER,
        "bucket_name": "amzn-s3-demo-bucket1",
        "requestdatetime": "06/Feb/2019:00:00:38 +0000",
        "remoteip": "192.0.2.3",
        "requester": OWNER,
        "operation": "REST.GET.VERSIONING",
        "key": None,
        "request_uri": "GET /amzn-s3-demo-bucket1?versioning HTTP/1.1",
        "request_method": "GET",
        "request_path": "/amzn-s3-demo-bucket1?versioning",
        "request_protocol": "HTTP/1.1",
        "httpstatus": 200,
        "errorcode": None,
        "bytessent": 113,
        "objectsize": None,
        "totaltime": 7,
        "turnaroundtime": None,
        "referrer": None,
        "useragent": "S3Console/0.4",
        "versionid": None,
        "sigv": "SigV4",
        "ciphersuite": "ECDHE-RSA-AES128-GCM-SHA256",
        "authtype": "AuthHeader",
        "endpoint": "amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com",
        "tlsversion": "TLSV1.2",
        "accesspointarn": "arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP",
        "aclrequired": "Yes",
        "sourceregion": "us-east-1",
        "event_time": datetime(2019, 2, 6, 0, 0, 38),
        "source": "s3access",
        "account_id": "123456789012",
        "related_ips": ["192.0.2.3"],
        "related_users": [],  # a canonical id is not a user name
        "related_arns": ["arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP"],
        "related_accounts": ["123456789012"],
    }
    assert v["hostid"].endswith("31234=")
    old = rows["A1206F460EXAMPLE"]  # 24 fields: ends at TLS version
    assert (old["httpstatus"], old["errorcode"], old["sigv"]) == (404, "NoSuchBucketPolicy", "SigV2")
    assert old["accesspointarn"] is None and old["aclrequired"] is None and old["sourceregion"] is None
    put = rows["DD6CC733AEXAMPLE"]  # 26 fields (the 2023 doc example in LOG_FORMATS.md)
    assert (put["key"], put["bytessent"], put["objectsize"], put["totaltime"], put["turnaroundtime"]) == (
        "s3-dg.pdf",
        None,
        4406583,
        41754,
        28,
    )
    assert put["aclrequired"] == "Yes" and put["sourceregion"] is None
    assert put["event_time"] == datetime(2019, 2, 6, 0, 1, 57)
    assert {(p.account, p.region, p.dt, p.hour) for p, _ in res.rows} == {
        ("123456789012", "us-west-1", "2019-02-06", "00")
    }


def test_rows_convert_to_the_arrow_schema():
    res = parse((SAMPLES / "aws_doc.log").read_text() + line() + "\n")
    table = pa.Table.from_pylist([r for _, r in res.rows], schema=SCHEMA)
    assert table.num_rows == 5
    assert table.schema.field("httpstatus").type == pa.int32()
    assert table.column("objectsize").to_pylist()[-1] == 3462992


def test_ddl_matches_the_schema_column_for_column():
    """Same check as tests/unit/test_ddl.py, which only covers registered sources."""
    ddl = render_ddl(
        SQL,
        "s3access",
        database="mamori",
        lake_url="s3://lake/",
        accounts=["111111111111"],
        regions=["us-east-1", "eu-west-1"],
        projection_start="2026-01-01",
    )
    tree = sqlglot.parse_one(ddl, read="athena")
    columns = [(c.name, c.args["kind"].sql("hive")) for c in tree.this.expressions]
    expected = [(f.name, exp.DataType.build(hive_type(f.type), dialect="hive").sql("hive")) for f in SCHEMA]
    assert columns == expected
    assert "s3://lake/curated/s3access/account=${account}/region=${region}/dt=${dt}/hour=${hour}" in ddl


@pytest.mark.parametrize("n_tail", [0, 1, 2, 3])
def test_24_to_27_fields(n_tail):
    tail = ("arn:aws:s3:us-west-1:123456789012:accesspoint/ap1", "Yes", "eu-west-1")[:n_tail]
    row = one(line(tail=tail))
    assert MIN_FIELDS + n_tail <= KNOWN_FIELDS
    assert row["tlsversion"] == "TLSv1.2"
    assert row["accesspointarn"] == (tail[0] if n_tail >= 1 else None)
    assert row["aclrequired"] == (tail[1] if n_tail >= 2 else None)
    assert row["sourceregion"] == (tail[2] if n_tail >= 3 else None)


def test_extra_trailing_fields_are_ignored():
    """AWS appends new fields at the end; unknown ones are dropped, the known ones still land."""
    row = one(line(tail=("-", "Yes", "us-east-1", "FutureField", '"quoted future"', "x")))
    assert row["aclrequired"] == "Yes" and row["sourceregion"] == "us-east-1"
    assert set(row) == set(SCHEMA.names)


def test_too_few_fields_is_quarantined():
    fields = line(tail=()).split(" ")
    short = " ".join(fields[:-3])  # drop endpoint side: 21 tokens once the time counts as one
    assert reason(short) == f"too few fields: {MIN_FIELDS - 3} < {MIN_FIELDS}"
    assert reason("garbage").startswith("too few fields: 1")


def test_escaped_quotes_and_spaces_inside_quoted_fields():
    ua = r'"Mozilla/5.0 (compatible; \"scanner\" 1.0) with spaces"'
    uri = r'"GET /my-bucket/a%20b?q=\"x y\" HTTP/1.1"'
    row = one(line(ua=ua, uri=uri, referrer=r'"https://example.com/?a=\"1\""'))
    assert row["useragent"] == 'Mozilla/5.0 (compatible; "scanner" 1.0) with spaces'
    assert row["request_uri"] == 'GET /my-bucket/a%20b?q="x y" HTTP/1.1'
    assert (row["request_method"], row["request_path"], row["request_protocol"]) == (
        "GET",
        '/my-bucket/a%20b?q="x y"',
        "HTTP/1.1",
    )
    assert row["referrer"] == 'https://example.com/?a="1"'


def test_user_agent_ending_in_a_backslash_still_lands():
    """If backslashes are not escaped by the writer, `"x\\"` must not make the line (and request) vanish."""
    row = one(line(ua='"evil\\"'))
    assert row["useragent"] == "evil\\"
    assert row["bytessent"] == 2662992


def test_request_uri_shapes():
    assert one(line(uri="-"))["request_method"] is None
    r = one(line(uri='"GET /x"'))  # no protocol
    assert (r["request_method"], r["request_path"], r["request_protocol"]) == ("GET", "/x", None)
    r = one(line(uri='"garbage"'))
    assert (r["request_method"], r["request_path"]) == (None, "garbage")


def test_20kb_user_agent_survives():
    ua = "A" * 10_000 + ' \\"quoted\\" ' + "B" * 10_000
    row = one(line(ua=f'"{ua}"'))
    assert len(row["useragent"]) == 20_000 + len(' "quoted" ')
    assert row["useragent"].startswith("AAAA") and row["useragent"].endswith("BBBB")


def test_invalid_utf8_keeps_the_row_and_shows_the_bytes():
    """Replacing (not quarantining): one bad byte in a client header must not hide a request."""
    data = line(ua='"curl/\xff\xfe"').encode("latin-1")
    assert b"\xff" in data
    good = line(requester="arn:aws:iam::123456789012:user/alice").encode()
    res = parse(data + b"\n" + good + b"\n")
    assert not res.quarantined and len(res.rows) == 2
    assert res.rows[0][1]["useragent"] == "curl/\\xff\\xfe"
    assert res.rows[1][1]["related_users"] == ["alice"]


def test_line_separators_inside_a_user_agent_do_not_split_the_line():
    row = one(line(ua='"a\x0bb\x1cc\u2028d\x85e\rf"'))
    assert row["useragent"] == "a\x0bb\x1cc\u2028d\x85e\rf"


def test_fields_split_on_spaces_only():
    """A tab or a Unicode space inside an unquoted field is data, not a separator."""
    row = one(line(requester="arn:aws:iam::111111111111:user/odd\u00a0name\tx"))
    assert row["related_users"] == ["odd\u00a0name\tx"]


def test_empty_and_blank_objects_are_zero_records():
    for body in (b"", b"\n", b"\n\n  \n", b"\r\n"):
        res = parse(body)
        assert res.records_in == 0 and res.skipped_reason is None
    res = parse(gzip.compress(b"", mtime=0))
    assert res.records_in == 0


def test_plain_gzip_and_crlf_give_the_same_rows():
    body = (SAMPLES / "aws_doc.log").read_bytes()
    plain = parse(body)
    gz = parse(gzip.compress(body, mtime=0))
    crlf = parse(body.replace(b"\n", b"\r\n"))
    assert plain.rows == gz.rows == crlf.rows
    assert len(plain.rows) == 4


def test_corrupt_gzip_is_one_quarantined_unit():
    res = parse(gzip.compress(line().encode(), mtime=0)[:30])
    assert not res.rows and len(res.quarantined) == 1
    assert res.quarantined[0].index is None and res.quarantined[0].reason.startswith("unreadable gzip")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (line(time="[31/Feb/2019:00:00:38 +0000]"), "bad time [31/Feb/2019:00:00:38 +0000]"),
        (line(time="[06/Foo/2019:00:00:38 +0000]"), "bad time [06/Foo/2019:00:00:38 +0000]"),
        (line(time="[2019-02-06T00:00:38Z]"), "bad time [2019-02-06T00:00:38Z]"),
        (line(time="06/Feb/2019:00:00:38 +0000"), "bad time field"),
        (line(status="OK"), "non-numeric httpstatus 'OK'"),
        (line(status="99999999999"), "non-numeric httpstatus '99999999999'"),
        (line(status="２００"), "non-numeric httpstatus '２００'"),  # non-ASCII digits
        (line(time="[０6/Feb/2019:00:00:38 +0000]"), "bad time"),
        (line(uri='"GET /unterminated HTTP/1.1'), "unterminated quote"),
        (line(ua="aws-cli/2.15.0"), "useragent is not a quoted field"),
    ],
)
def test_bad_lines_are_quarantined_with_a_reason(body, expected):
    assert reason(body).startswith(expected)


def test_bad_lines_do_not_stop_the_object():
    body = "\n".join([line(), "garbage", "", line(status="x"), line()]) + "\n"
    res = parse(body)
    assert len(res.rows) == 2 and [q.index for q in res.quarantined] == [1, 3]  # line numbers, for replay
    assert res.records_in == 4  # the blank line is not a record


def test_quarantined_raw_is_bounded():
    body = line(status="x", ua='"' + "U" * 100_000 + '"')
    res = parse(body)
    assert len(res.quarantined) == 1
    assert len(res.quarantined[0].raw) < 70_000 and res.quarantined[0].raw.endswith("raw object]")


@pytest.mark.parametrize(
    ("requester", "users", "arns", "accounts"),
    [
        ("arn:aws:iam::111111111111:user/admin-bob", ["admin-bob"], True, ["111111111111", "123456789012"]),
        ("arn:aws:iam::111111111111:user/ops/carol", ["carol"], True, ["111111111111", "123456789012"]),
        (
            "arn:aws:sts::222222222222:assumed-role/app-backend/i-0abc",
            ["app-backend"],
            True,
            ["222222222222", "123456789012"],
        ),
        ("arn:aws:iam::123456789012:root", [], True, ["123456789012"]),
        (OWNER, [], False, ["123456789012"]),
        ("-", [], False, ["123456789012"]),
    ],
)
def test_entities_from_the_requester(requester, users, arns, accounts):
    row = one(line(requester=requester))
    assert row["requester"] == (None if requester == "-" else requester)
    assert row["related_users"] == users
    assert row["related_arns"] == ([requester] if arns else [])
    assert row["related_accounts"] == accounts


def test_related_ips_only_for_addresses():
    assert one(line(ip="2001:db8::23"))["related_ips"] == ["2001:db8::23"]
    assert one(line(ip="-"))["related_ips"] == [] and one(line(ip="-"))["remoteip"] is None
    assert one(line(ip="not-an-ip"))["related_ips"] == []


def test_rows_do_not_share_entity_lists():
    res = parse(line() + "\n" + line() + "\n")
    a, b = (r for _, r in res.rows)
    a["related_accounts"].append("x")
    assert b["related_accounts"] == ["123456789012"]


def test_time_offsets_are_normalised_to_utc():
    assert parse_request_time("06/Feb/2019:23:30:00 -0130") == datetime(2019, 2, 7, 1, 0)
    row = one(line(time="[31/Dec/2026:23:59:59 +0000]"))
    assert row["event_time"] == datetime(2026, 12, 31, 23, 59, 59) and row["event_time"].tzinfo is None


def test_partition_comes_from_key_and_line_time():
    res = parse(line(time="[14/Mar/2026:17:45:00 +0000]"), key=SIMPLE_KEY)
    part = res.rows[0][0]
    assert (part.account, part.region, part.dt, part.hour) == (
        "123456789012",
        "eu-west-1",
        "2026-03-14",
        "17",
    )
    assert res.rows[0][1]["account_id"] == "123456789012"


# -- keys ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        KEY,
        SIMPLE_KEY,
        "AWSLogs/111111111111/us-gov-west-1/a.b-c/2026/03/14/2026-03-14-17-45-01-0123456789abcdef",
        "AWSLogs/111111111111/ap-southeast-2/bkt/2026/03/14/2026-03-14-17-45-01-0123456789ABCDEF",
    ],
)
def test_classify_accepts_both_layouts(key):
    r = SOURCE.classify(key)
    assert r is not None and r.kind == "events" and r.account in key and r.region in key


@pytest.mark.parametrize(
    "key",
    [
        "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/01/123456789012_CloudTrail_us-east-1_"
        "20261101T1030Z_Ab12Cd34Ef56Gh78.json.gz",
        "AWSLogs/o-abcdefghij/123456789012/CloudTrail/eu-west-1/2026/11/01/x.json.gz",
        "AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/11/01/123456789012_elasticloadbalancing_"
        "us-east-1_app.my-lb.50dc6c495c0c9188_20261101T1030Z_10.0.0.1_2x8y1p2r.log.gz",
        "AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/01/x.log.gz",
        # a bucket literally named like a service folder sits at the bucket level, not the region level
        "AWSLogs/123456789012/CloudTrail/my-bucket/2026/11/01/2026-11-01-10-30-00-0123456789ABCDEF",
        "AWSLogs/123456789012/us-east-1/my-bucket/2026/11/01/2026-11-01-10-30-00-0123456789ABCDEF.gz",
        "AWSLogs/123456789012/us-east-1/my-bucket/2026-11-01-10-30-00-0123456789ABCDEF",  # (a) without date dirs
        "s3-access-logs/123456789012/us-east-1/my-bucket/2026/11/01/2026-11-01-10-30-00-0123456789ABCDEF",
        "s3-access-logs/12345/us-east-1/my-bucket/2026-11-01-10-30-00-0123456789ABCDEF",
        "prefix/2026-11-01-10-30-00-0123456789ABCDEF",
    ],
)
def test_classify_rejects_other_keys(key):
    assert SOURCE.classify(key) is None


def test_list_prefixes_expand_one_level_at_a_time_and_skip_service_folders(tmp_path):
    from mamori.lake import Store

    keys = [
        KEY.replace("2019/02/06", "2026/03/14").replace("2019-02-06", "2026-03-14"),
        "AWSLogs/123456789012/CloudTrail/us-east-1/2026/03/14/x.json.gz",
        "AWSLogs/123456789012/us-east-1/other-bkt/2026/03/12/2026-03-12-00-00-00-0123456789ABCDEF",
        SIMPLE_KEY,
    ]
    store = Store(f"file://{tmp_path}")
    for k in keys:
        store.write_atomic(k, b"")
    start = datetime(2026, 3, 14, 10, tzinfo=UTC)
    patterns = SOURCE.list_prefixes(start, datetime(2026, 3, 14, 11, tzinfo=UTC))
    assert not any("**" in p for p in patterns)
    prefixes = sorted({p for pat in patterns for p in store.glob_prefixes(pat)})
    # literal segments are not checked for existence, so other days appear; service folders never do
    assert not any("CloudTrail" in p for p in prefixes)
    assert "AWSLogs/123456789012/us-west-1/amzn-s3-demo-bucket1/2026/03/14/" in prefixes
    assert "AWSLogs/123456789012/us-east-1/other-bkt/2026/03/13/" in prefixes  # one day of slack
    assert not any("2026/03/12" in p for p in prefixes)
    found = {o.key for p in prefixes for o in store.find(p)}
    assert found == {keys[0], SIMPLE_KEY}
    assert all(SOURCE.classify(k) for k in found)


def test_edge_case_sample_file():
    """samples/edge_cases.log: 24/27/29-field lines, escaped quotes, a trailing backslash, one bad line."""
    res = parse((SAMPLES / "edge_cases.log").read_bytes())
    assert len(res.rows) == 5 and [(q.index, q.reason) for q in res.quarantined] == [
        (5, "non-numeric httpstatus 'OK'")
    ]
    rows = [r for _, r in res.rows]
    assert [r["sourceregion"] for r in rows] == [None, "us-east-1", "us-east-1", "us-east-1", "us-east-1"]
    assert rows[1]["related_users"] == ["app-backend"]
    assert rows[3]["useragent"] == 'Mozilla/5.0 (compatible; "scanner" 1.0)' and rows[3]["requester"] is None
    assert rows[4]["useragent"] == "ends-with-backslash\\"
