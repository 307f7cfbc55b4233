"""ALB access-log parser: AWS documentation lines, today's 33-field layout, and hostile or broken input.

Every bad line must be quarantined with a reason while the rest of the object still converts, every row must
fit the Arrow schema (a type error there would fail a whole batch), and records_in == rows + quarantined must
hold for every object.
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
from mamori.sources.alb import MAX_FIELDS, MIN_FIELDS, SCHEMA, SOURCE
from mamori.sources.base import RawKey

SAMPLES = Path(__file__).parent / "samples"
REPO = Path(__file__).resolve().parents[3]
ACCT = "123456789012"
KEY = (
    f"AWSLogs/{ACCT}/elasticloadbalancing/us-east-2/2018/07/02/{ACCT}_elasticloadbalancing_us-east-2_"
    "app.my-loadbalancer.50dc6c495c0c9188_20180702T2225Z_172.160.001.192_20sg8hgm.log.gz"
)
DOC = (SAMPLES / "aws_doc.log").read_text().splitlines()
HTTPS, LAMBDA, LAMBDA_FAIL = DOC
NEW = (SAMPLES / "current_33_fields.log").read_text().strip()


def raw() -> RawKey:
    r = SOURCE.classify(KEY)
    assert r is not None
    return r


def parse(body: str | bytes, gz: bool = True):
    data = body.encode() if isinstance(body, str) else body
    res = SOURCE.parse_object(raw(), gzip.compress(data, mtime=0) if gz else data)
    assert res.records_in == len(res.rows) + len(res.quarantined)
    pa.Table.from_pylist([r for _, r in res.rows], schema=SCHEMA)  # every row must fit the Parquet schema
    return res


def one(line: str) -> dict:
    res = parse(line + "\n")
    assert not res.quarantined, res.quarantined
    assert len(res.rows) == 1
    return res.rows[0][1]


def quarantined(line: str) -> str:
    res = parse(line + "\n")
    assert res.rows == [] and len(res.quarantined) == 1
    q = res.quarantined[0]
    assert q.index == 0 and q.key == KEY and q.raw is not None
    return q.reason


def test_aws_https_example_parses_to_typed_athena_columns():
    res = parse(HTTPS + "\n")
    assert not res.quarantined
    part, row = res.rows[0]
    assert (part.account, part.region, part.dt, part.hour) == (ACCT, "us-east-2", "2018-07-02", "22")
    assert row["type"] == "https"
    assert row["time"] == "2018-07-02T22:23:00.186641Z"
    assert row["event_time"] == datetime(2018, 7, 2, 22, 23, 0, 186641, tzinfo=UTC)
    assert row["elb"] == "app/my-loadbalancer/50dc6c495c0c9188"
    assert (row["client_ip"], row["client_port"]) == ("192.168.131.39", 2817)
    assert (row["target_ip"], row["target_port"]) == ("10.0.0.1", 80)
    assert (row["request_processing_time"], row["target_processing_time"]) == (0.086, 0.048)
    assert row["response_processing_time"] == 0.037
    assert (row["elb_status_code"], row["target_status_code"]) == (200, 200)
    assert (row["received_bytes"], row["sent_bytes"]) == (0, 57)
    assert (row["request_verb"], row["request_url"], row["request_proto"]) == (
        "GET",
        "https://www.example.com:443/",
        "HTTP/1.1",
    )
    assert row["user_agent"] == "curl/7.46.0"
    assert (row["ssl_cipher"], row["ssl_protocol"]) == ("ECDHE-RSA-AES128-GCM-SHA256", "TLSv1.2")
    tg = "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067"
    cert = "arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012"
    assert row["target_group_arn"] == tg
    assert row["trace_id"] == "Root=1-58337281-1d84f3d73c47ec4e58577259"
    assert (row["domain_name"], row["chosen_cert_arn"]) == ("www.example.com", cert)
    assert row["matched_rule_priority"] == "1"
    assert row["request_creation_time"] == "2018-07-02T22:22:48.364000Z"
    assert row["actions_executed"] == "authenticate,forward"
    assert row["redirect_url"] is None and row["lambda_error_reason"] is None  # "-" is NULL
    assert (row["target_port_list"], row["target_status_code_list"]) == ("10.0.0.1:80", "200")
    assert row["classification"] is None and row["classification_reason"] is None
    for newer in ("conn_trace_id", "transformed_host", "transformed_uri", "request_transform_status"):
        assert row[newer] is None  # a 29-field line: the newer fields are absent, not an error
    assert row["source"] == "alb" and row["account_id"] == ACCT
    assert row["related_ips"] == ["192.168.131.39", "10.0.0.1"]
    assert row["related_arns"] == [
        tg,
        cert,
        "arn:aws:elasticloadbalancing:us-east-2:123456789012:loadbalancer/app/my-loadbalancer/50dc6c495c0c9188",
    ]
    assert row["related_users"] == [] and row["related_accounts"] == [ACCT]


def test_aws_lambda_examples_have_no_target_and_keep_the_error_reason():
    ok = one(LAMBDA)
    assert ok["target_ip"] is None and ok["target_port"] is None and ok["target_status_code"] == 200
    assert ok["ssl_cipher"] is None and ok["domain_name"] is None and ok["chosen_cert_arn"] is None
    assert ok["related_ips"] == ["192.168.131.39"]
    fail = one(LAMBDA_FAIL)
    assert (fail["elb_status_code"], fail["target_status_code"]) == (502, None)
    assert fail["lambda_error_reason"] == "LambdaInvalidResponse"


def test_current_33_field_layout_with_ipv6_client():
    row = one(NEW)
    assert (row["client_ip"], row["client_port"]) == ("2001:db8:85a3::8a2e:370:7334", 51234)
    assert row["related_ips"] == ["2001:db8:85a3::8a2e:370:7334", "10.0.40.12"]
    assert row["type"] == "h2" and row["request_proto"] == "HTTP/2.0"
    assert row["request_url"] == "https://www.example.com:443/products/9999?ref=mail"
    assert row["conn_trace_id"] == "TID_d26901d0844520f43b69e043417071b0"
    assert row["transformed_host"] is None and row["request_transform_status"] is None


def test_bracketed_ipv6_client_is_accepted_too():
    row = one(NEW.replace("2001:db8:85a3::8a2e:370:7334:51234", "[2001:db8::1]:443"))
    assert (row["client_ip"], row["client_port"]) == ("2001:db8::1", 443)


def test_extra_trailing_fields_are_dropped():
    """AWS: new fields are appended; ignore fields at the end you do not expect."""
    assert one(NEW + ' "future" 42 "-"') == one(NEW)
    assert one(HTTPS + ' TID_x "a" "b" "c" "d" "e"')["conn_trace_id"] == "TID_x"


def test_older_shorter_lines_fill_missing_fields_with_null():
    fields13 = HTTPS.split(' "curl')[0]  # type .. "request": the minimum
    row = one(fields13)
    assert row["request_url"] == "https://www.example.com:443/" and row["user_agent"] is None
    assert row["target_group_arn"] is None and row["related_arns"][-1].endswith("50dc6c495c0c9188")
    pre_2019 = HTTPS.rsplit(' "10.0.0.1:80"', 1)[0]  # 25 fields: before target:port_list existed
    row = one(pre_2019)
    assert row["actions_executed"] == "authenticate,forward" and row["target_port_list"] is None


def test_too_few_fields_is_quarantined():
    short = HTTPS.split(' "GET')[0]  # 12 fields: no request line
    assert quarantined(short).startswith(f"too few fields: 12 (need at least {MIN_FIELDS}")
    assert MAX_FIELDS == 33


def test_malformed_request_line_gives_nulls_not_quarantine():
    row = one(HTTPS.replace('"GET https://www.example.com:443/ HTTP/1.1"', '"- - - "'))
    assert (row["request_verb"], row["request_url"], row["request_proto"]) == (None, None, None)
    row = one(HTTPS.replace("https://www.example.com:443/ HTTP", "https://www.example.com:443/a b HTTP"))
    assert row["request_url"] == "https://www.example.com:443/a b"  # SpaceInUri: URL logged as sent


def test_quotes_and_backslashes_inside_quoted_fields():
    row = one(HTTPS.replace('"curl/7.46.0"', r'"Mozilla/5.0 \"quoted\" C:\\tmp\x"'))
    assert row["user_agent"] == r'Mozilla/5.0 "quoted" C:\tmp\x'
    sqli = one(HTTPS.replace("443/ HTTP", "443/?id=1' OR 1=1-- HTTP"))
    assert sqli["request_url"] == "https://www.example.com:443/?id=1' OR 1=1--"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (HTTPS.replace('"curl/7.46.0" ', '"curl/7.46.0 '), "unterminated or misplaced quote"),
        (HTTPS.replace('"curl/7.46.0"', '"curl/7.46.0"x'), "unterminated or misplaced quote"),
        (HTTPS.rsplit(' "-"', 1)[0] + ' "-', "unterminated or misplaced quote"),
        (HTTPS.replace("2018-07-02T22:23:00.186641Z", "yesterday"), "invalid time"),
        (HTTPS.replace("2018-07-02T22:23:00.186641Z", "2018-07-02T22:23:00.186641"), "time without zone"),
        (HTTPS.replace("https 2018-07-02T22:23:00.186641Z", "https -"), "missing time"),
        (HTTPS.replace(" 200 200 ", " OK 200 "), "invalid elb_status_code 'OK'"),
        (HTTPS.replace(" 200 200 ", " 200 99999999999 "), "invalid target_status_code"),  # INT32 overflow
        (HTTPS.replace(" 0 57 ", " 0 -57 "), "invalid sent_bytes"),
        (HTTPS.replace(" 0 57 ", " 0 ٥٧ "), "invalid sent_bytes"),  # Unicode digits are not ASCII digits
        (HTTPS.replace("0.086", "fast"), "non-numeric processing time"),
        (HTTPS.replace("0.086", "nan"), "non-numeric processing time"),
        (HTTPS.replace("192.168.131.39:2817", "192.168.131.39"), "malformed host:port"),
        (HTTPS.replace("192.168.131.39:2817", "192.168.131.39:99999"), "malformed host:port"),
        (HTTPS.replace("10.0.0.1:80 0.086", "10.0.0.1:http 0.086"), "malformed host:port"),
        (HTTPS.replace("192.168.131.39:2817", "-"), "missing client:port"),
    ],
    ids=[
        "unterminated-quote",
        "text-after-closing-quote",
        "unterminated-last-field",
        "bad-time",
        "naive-time",
        "no-time",
        "non-numeric-status",
        "int32-overflow",
        "negative-bytes",
        "unicode-digits",
        "non-numeric-time",
        "nan-time",
        "client-without-port",
        "port-out-of-range",
        "non-numeric-target-port",
        "no-client",
    ],
)
def test_bad_lines_are_quarantined_with_reasons(line, reason):
    assert reason in quarantined(line)


def test_minus_one_processing_times_are_kept_not_nulled():
    row = one(HTTPS.replace("0.086 0.048 0.037 200 200", "-1 -1 -1 504 -"))
    assert (row["request_processing_time"], row["target_processing_time"]) == (-1.0, -1.0)
    assert row["elb_status_code"] == 504 and row["target_status_code"] is None


def test_bad_lines_do_not_stop_the_rest_of_the_object():
    body = "\n".join([HTTPS, "garbage", "", LAMBDA, HTTPS.replace(" 200 200 ", " x 200 "), NEW, "   "])
    res = parse(body + "\n")
    assert len(res.rows) == 3
    assert [(q.index, q.reason.split(":")[0]) for q in res.quarantined] == [
        (1, "too few fields"),
        (4, "invalid elb_status_code 'x'"),
    ]
    assert res.records_in == 5  # blank lines are not records


def test_20kb_user_agent_survives():
    ua = "Mozilla/5.0 " + "A" * 20_000
    row = one(HTTPS.replace("curl/7.46.0", ua))
    assert row["user_agent"] == ua


def test_invalid_utf8_becomes_visible_escapes_and_the_row_survives():
    data = HTTPS.replace("443/ HTTP", "443/\udcff HTTP").encode("utf-8", "surrogateescape")
    assert b"\xff" in data
    res = parse(data + b"\n")
    assert not res.quarantined
    assert res.rows[0][1]["request_url"] == "https://www.example.com:443/\\xff"


def test_line_separators_inside_fields_do_not_split_records():
    row = one(HTTPS.replace("curl/7.46.0", "evil\u2028agent\x1c"))
    assert row["user_agent"] == "evil\u2028agent\x1c"
    res = parse(HTTPS + "\r\n" + LAMBDA + "\r\n")  # CRLF files
    assert len(res.rows) == 2 and not res.quarantined


def test_quarantined_raw_text_is_bounded():
    reason = quarantined(HTTPS.replace("0.086", "x" * 200_000))
    assert reason.startswith("non-numeric processing time")
    res = parse(HTTPS.replace("0.086", "x" * 200_000))
    raw_text = res.quarantined[0].raw
    assert raw_text is not None and len(raw_text) < 70_000 and raw_text.endswith("full line in raw object]")


def test_empty_and_plain_text_objects():
    res = SOURCE.parse_object(raw(), gzip.compress(b"", mtime=0))
    assert res.records_in == 0 and res.rows == [] and res.quarantined == []
    assert SOURCE.parse_object(raw(), b"").records_in == 0
    assert len(parse(HTTPS + "\n", gz=False).rows) == 1  # an uncompressed object is read as is


def test_truncated_gzip_is_one_quarantined_unit():
    data = gzip.compress(("\n".join([HTTPS] * 200) + "\n").encode())[:-40]
    res = SOURCE.parse_object(raw(), data)
    assert res.rows == [] and len(res.quarantined) == 1
    q = res.quarantined[0]
    assert q.reason.startswith("unreadable gzip") and q.index is None and q.key == KEY
    assert res.records_in == 1


def test_partitions_follow_each_line_time():
    late = HTTPS.replace("2018-07-02T22:23:00.186641Z", "2018-07-02T23:00:00.000001Z", 1)
    res = parse(HTTPS + "\n" + late + "\n")
    assert [(p.dt, p.hour) for p, _ in res.rows] == [("2018-07-02", "22"), ("2018-07-02", "23")]


@pytest.mark.parametrize(
    "key",
    [
        KEY,
        "my-logs/prod/" + KEY,  # optional bucket prefix chosen by the owner
        KEY.replace("us-east-2", "eu-west-1"),
        KEY[: -len(".gz")],
    ],
    ids=["plain", "custom-prefix", "other-region", "uncompressed-name"],
)
def test_classify_accepts_alb_access_log_keys(key):
    r = SOURCE.classify(key)
    assert r is not None and r.account == ACCT and r.kind == "events"


@pytest.mark.parametrize(
    "key",
    [
        f"AWSLogs/{ACCT}/CloudTrail/us-east-1/2026/11/01/{ACCT}_CloudTrail_us-east-1_20261101T1030Z_ab12.json.gz",
        # connection logs (mTLS/TLS handshakes) and health-check logs: same folder, other formats
        KEY.replace(f"/{ACCT}_elasticloadbalancing", f"/conn_log_{ACCT}_elasticloadbalancing"),
        KEY.replace(f"/{ACCT}_elasticloadbalancing", f"/health_check_log_{ACCT}_elasticloadbalancing"),
        KEY.replace("_app.my-loadbalancer", "_net.my-loadbalancer"),  # Network Load Balancer (TLS) logs
        KEY.replace("_app.my-loadbalancer.50dc6c495c0c9188", "_my-classic-lb"),  # Classic Load Balancer
        KEY.replace(".log.gz", ".txt"),
        KEY.replace("AWSLogs/", "AWSLogsX/"),
    ],
    ids=["cloudtrail", "connection-log", "health-check-log", "nlb", "clb", "other-suffix", "not-awslogs"],
)
def test_classify_reads_no_other_layout_as_access_logs(key):
    # Other ELB logs in the same folders are routed away by kind (tests/sources/alb/test_keys.py), never parsed.
    r = SOURCE.classify(key)
    assert r is None or r.kind != "events"


def test_list_prefixes_walk_delivery_days_with_one_day_of_slack():
    start, end = datetime(2026, 11, 1, 0, tzinfo=UTC), datetime(2026, 11, 2, 1, tzinfo=UTC)
    assert SOURCE.list_prefixes(start, end) == [
        f"AWSLogs/*/elasticloadbalancing/*/2026/{m}/{d}/"
        for m, d in (("10", "31"), ("11", "01"), ("11", "02"))
    ]


def test_ddl_matches_the_arrow_schema_column_for_column():
    """Same check as tests/unit/test_ddl.py, which takes over once alb is registered in SOURCES."""
    ddl = render_ddl(
        REPO / "sql",
        "alb",
        database="mamori",
        lake_url="s3://lake/",
        accounts=[ACCT],
        regions=["us-east-1"],
        projection_start="2026-01-01",
    )
    tree = sqlglot.parse_one(ddl, read="athena")
    columns = [(c.name, c.args["kind"].sql("hive")) for c in tree.this.expressions]

    def norm(type_sql: str) -> str:
        return exp.DataType.build(type_sql, dialect="hive").sql("hive")

    assert columns == [(f.name, norm(hive_type(f.type))) for f in SCHEMA]
    assert "s3://lake/curated/alb/account=${account}/region=${region}/dt=${dt}/hour=${hour}" in ddl


def test_fast_and_escaped_field_splitters_agree():
    """Lines without a backslash take a str.split fast path; it must give what the tokenizer gives."""
    import random

    from mamori.sources.alb import _split_escaped, split_fields
    from mamori.sources.alb.generate import _LB, _Gen

    rng = random.Random(3)
    lb, gen = _LB(rng, ACCT, "us-east-1"), _Gen(rng)
    t = datetime(2026, 11, 1, tzinfo=UTC)
    lines = [*DOC, NEW, *(gen.background(lb, t)[1] for _ in range(2000))]
    lines += [HTTPS.replace('"curl/7.46.0"', '""'), HTTPS.replace(" 0 57 ", "  0  57 "), '"a b" c "d"']
    for line in lines:
        assert "\\" not in line
        assert split_fields(line) == _split_escaped(line), line
    for bad in ['"a"x "b"', 'x"a" "b"', '"a""b"', '"a b', 'a "b" "c']:
        assert isinstance(split_fields(bad), str) and isinstance(_split_escaped(bad), str), bad
