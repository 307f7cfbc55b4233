"""CloudWatch Logs parser: LOG_FORMATS.md examples, both S3 landings, and hostile input.

Every bad unit must be quarantined with a reason while the rest of the object still converts; syslog text that
does not parse is kept with NULL parsed fields (never quarantined); records_in == rows + quarantined always.
"""

from __future__ import annotations

import gzip
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from mamori.sources.base import ObjectResult, RawKey
from mamori.sources.cloudtrail import SOURCE as CLOUDTRAIL
from mamori.sources.cloudwatch import SCHEMA, SOURCE
from mamori.sources.formats.syslog import parse_message

SAMPLES = Path(__file__).parent / "samples"
KEY = (
    "AWSLogs/123456789012/CloudWatchLogs/us-east-1/2026/11/22/10/"
    "mamori-cloudwatch-logs-1-2026-11-22-10-05-12-5f1d8a4e-1c2b-4e5f-9a7b-0c1d2e3f4a5b.gz"
)
EXPORT_KEY = (
    "AWSLogs/123456789012/CloudWatchLogsExport/eu-west-1/%2Fec2%2Fvar%2Flog%2Fsecure/"
    "cda45419-90ea-4db5-9833-aade86253e66/i-0123456789abcdef0/000000.gz"
)
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
MS0 = int(T0.timestamp() * 1000)


def raw(key: str = KEY) -> RawKey:
    r = SOURCE.classify(key)
    assert r is not None
    return r


def parse(body: bytes, key: str = KEY, gz: bool = True) -> ObjectResult:
    res = SOURCE.parse_object(raw(key), gzip.compress(body, mtime=0) if gz else body)
    assert res.records_in == len(res.rows) + len(res.quarantined)
    # Every row must convert to the table's Arrow schema (what ingest writes to Parquet).
    pa.Table.from_pylist([r for _, r in res.rows], schema=SCHEMA)
    return res


def data_message(*messages: str, ms: int = MS0, **over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": "/ec2/var/log/secure",
        "logStream": "i-0123456789abcdef0",
        "subscriptionFilters": ["mamori-to-firehose"],
        "logEvents": [{"id": str(i), "timestamp": ms + i, "message": m} for i, m in enumerate(messages)],
    }
    doc.update(over)
    return doc


def concat(*docs: Any) -> bytes:
    return b"".join(json.dumps(d, separators=(",", ":")).encode() for d in docs)


def line(msg: str, ref: datetime = T0) -> dict[str, Any]:
    return {k: v for k, v in parse_message(msg, ref).items() if v is not None}


# -- syslog text ----------------------------------------------------------------------------------------------


def test_log_formats_examples_parse_to_structured_fields():
    failed = line(
        "Nov 22 10:00:01 ip-10-0-0-12 sshd[1234]: Failed password for invalid user admin from 203.0.113.5 "
        "port 52144 ssh2"
    )
    assert failed == {
        "syslog_format": "rfc3164",
        "syslog_timestamp": "Nov 22 10:00:01",
        "syslog_time": datetime(2026, 11, 22, 10, 0, 1, tzinfo=UTC),
        "hostname": "ip-10-0-0-12",
        "app_name": "sshd",
        "proc_id": "1234",
        "msg": "Failed password for invalid user admin from 203.0.113.5 port 52144 ssh2",
        "ssh_event": "failed_password",
        "ssh_user": "admin",
        "ssh_src_ip": "203.0.113.5",
        "ssh_src_port": 52144,
    }
    accepted = line(
        "Nov 22 10:00:01 ip-10-0-0-12 sshd[1240]: Accepted publickey for ec2-user from 198.51.100.7 port 50022 "
        "ssh2: RSA SHA256:mBZ1q3dE4d0vFZ3mcA2j2cKvXvVvT3cQ0kqXoZ9bG7U"
    )
    assert (
        accepted["ssh_event"],
        accepted["ssh_user"],
        accepted["ssh_src_ip"],
        accepted["ssh_src_port"],
    ) == (
        "accepted_publickey",
        "ec2-user",
        "198.51.100.7",
        50022,
    )
    sudo = line(
        "Nov 22 10:00:01 ip-10-0-0-12 sudo: alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash"
    )
    assert (sudo["app_name"], sudo["sudo_user"], sudo["sudo_run_as"], sudo["sudo_command"]) == (
        "sudo",
        "alice",
        "root",
        "/bin/bash",
    )
    assert "proc_id" not in sudo and "sudo_error" not in sudo


@pytest.mark.parametrize(
    ("msg", "expected"),
    [
        (
            "Accepted password for ec2-user from 198.51.100.23 port 50022 ssh2",
            ("accepted_password", "ec2-user"),
        ),
        ("Failed password for root from 203.0.113.9 port 40022 ssh2", ("failed_password", "root")),
        ("Invalid user oracle from 203.0.113.9 port 40022", ("invalid_user", "oracle")),
        ("Disconnected from user ec2-user 203.0.113.9 port 40022", ("disconnect", "ec2-user")),
        ("Disconnected from invalid user pi 203.0.113.9 port 40022 [preauth]", ("disconnect", "pi")),
        ("Received disconnect from 203.0.113.9 port 40022:11: Bye Bye [preauth]", ("disconnect", None)),
        (
            "Connection closed by authenticating user root 203.0.113.9 port 40022 [preauth]",
            ("connection_closed", "root"),
        ),
        ("Connection closed by 203.0.113.9 port 40022 [preauth]", ("connection_closed", None)),
        (
            "Accepted keyboard-interactive/pam for bob from 203.0.113.9 port 40022 ssh2",
            ("accepted_keyboard_interactive", "bob"),
        ),
        (
            "error: maximum authentication attempts exceeded for invalid user sa from 203.0.113.9 port 40022 "
            "ssh2 [preauth]",
            ("max_auth_exceeded", "sa"),
        ),
    ],
)
def test_sshd_events(msg, expected):
    got = parse_message(f"Nov 22 10:00:01 ip-10-0-0-12 sshd[99]: {msg}", T0)
    assert (got["ssh_event"], got["ssh_user"]) == expected
    assert got["ssh_src_ip"] == "203.0.113.9" or "198.51.100.23" in msg
    assert got["ssh_src_port"] in (40022, 50022)


def test_openssh_98_sshd_session_program_name():
    got = line("Nov 22 10:00:01 h sshd-session[7]: Failed password for root from 2001:db8::5 port 1 ssh2")
    assert (got["ssh_event"], got["ssh_src_ip"], got["ssh_src_port"]) == ("failed_password", "2001:db8::5", 1)


def test_a_user_name_cannot_spoof_the_source_address():
    """sshd appends ' from <ip> port <n>' after the client-chosen user name: the last one is the truth."""
    got = line(
        "Nov 22 10:00:01 h sshd[7]: Failed password for invalid user x from 10.0.0.5 port 22 "
        "from 198.51.100.23 port 4444 ssh2"
    )
    assert (got["ssh_user"], got["ssh_src_ip"], got["ssh_src_port"]) == (
        "x from 10.0.0.5 port 22",
        "198.51.100.23",
        4444,
    )


def test_sudo_failure_and_command_with_separators():
    got = line(
        "Nov 22 10:00:01 h sudo:    bob : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/tmp ; USER=root ; "
        'COMMAND=/bin/sh -c "id ; whoami"'
    )
    assert got["sudo_user"] == "bob" and got["sudo_run_as"] == "root"
    assert got["sudo_command"] == '/bin/sh -c "id ; whoami"'
    assert got["sudo_error"] == "3 incorrect password attempts"
    # pam lines from sudo are not sudo invocations
    assert "sudo_user" not in line(
        "Nov 22 10:00:01 h sudo: pam_unix(sudo:session): session opened for user root"
    )


def test_useradd_new_user():
    got = line(
        "Nov 22 10:00:05 ip-10-0-0-12 useradd[1234]: new user: name=backdoor, UID=1001, GID=1001, "
        "home=/home/backdoor, shell=/bin/bash"
    )
    assert got["useradd_user"] == "backdoor" and got["proc_id"] == "1234"
    assert "useradd_user" not in line("Nov 22 10:00:05 h useradd[1234]: new group: name=backdoor, GID=1001")


def test_rfc5424_line():
    got = line(
        '<38>1 2026-11-22T10:00:01.123456+01:00 bastion-1 sshd 4242 - [origin ip="10.0.0.5" sw="x\\]y"] '
        "\ufeffAccepted publickey for alice from 192.0.2.10 port 60000 ssh2: ED25519 SHA256:abc"
    )
    assert got["syslog_format"] == "rfc5424"
    assert got["syslog_timestamp"] == "2026-11-22T10:00:01.123456+01:00"
    assert got["syslog_time"] == datetime(2026, 11, 22, 9, 0, 1, 123456, tzinfo=UTC)
    assert (got["hostname"], got["app_name"], got["proc_id"]) == ("bastion-1", "sshd", "4242")
    assert got["msg"].startswith("Accepted publickey")  # BOM removed
    assert (got["ssh_event"], got["ssh_user"], got["ssh_src_ip"]) == (
        "accepted_publickey",
        "alice",
        "192.0.2.10",
    )
    nil = line("<13>1 - - - - - -")
    assert nil["syslog_format"] == "rfc5424" and set(nil) == {"syslog_format"}


def test_rsyslog_rfc3339_header_is_bsd_style():
    got = line(
        "2026-11-22T10:00:01.500000+00:00 ip-10-0-0-12 sshd[5]: Invalid user a from 203.0.113.1 port 9"
    )
    assert got["syslog_format"] == "rfc3164" and got["ssh_event"] == "invalid_user"
    assert got["syslog_time"] == datetime(2026, 11, 22, 10, 0, 1, 500000, tzinfo=UTC)


def test_json_application_log():
    got = line('{"level":"warn","msg":"card declined","host":"web-1","time":"2026-11-22T10:00:00Z","pid":77}')
    assert got["syslog_format"] == "json"
    assert (got["msg"], got["hostname"], got["proc_id"]) == ("card declined", "web-1", "77")
    assert got["syslog_time"] == T0
    assert "syslog_format" not in line("[1, 2]") and "syslog_format" not in line("{not json")


def test_year_rollover():
    new_year = datetime(2027, 1, 1, 0, 0, 2, tzinfo=UTC)
    late = line("Dec 31 23:59:59 h cron[1]: tick", new_year)
    assert late["syslog_time"] == datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
    ahead = line("Jan  1 00:00:01 h cron[1]: tick", datetime(2026, 12, 31, 23, 59, 58, tzinfo=UTC))
    assert ahead["syslog_time"] == datetime(2027, 1, 1, 0, 0, 1, tzinfo=UTC)
    assert ahead["syslog_timestamp"] == "Jan  1 00:00:01"  # kept as written
    leap = line("Feb 29 12:00:00 h cron[1]: tick", datetime(2027, 3, 1, tzinfo=UTC))
    assert "syslog_time" not in leap and leap["hostname"] == "h"  # no Feb 29 in 2027: time NULL, rest kept
    # the row's event_time/partition come from CloudWatch, not from the syslog text
    res = parse(concat(data_message("Dec 31 23:59:59 h cron[1]: tick", ms=int(new_year.timestamp() * 1000))))
    part, row = res.rows[0]
    assert (part.dt, part.hour, row["syslog_time"].year) == ("2027-01-01", "00", 2026)


def test_unparseable_text_is_kept_not_quarantined():
    res = parse(concat(data_message("", "just some text", "Foo 22 10:00:01 not syslog")))
    assert not res.quarantined and len(res.rows) == 3
    for _, row in res.rows:
        assert row["syslog_format"] is None and row["msg"] is None and row["message"] is not None


# -- Firehose objects -----------------------------------------------------------------------------------------


def test_concatenated_messages_with_control_message():
    res = parse((SAMPLES / "firehose_secure.json").read_bytes())
    assert not res.quarantined and res.skipped_reason is None
    rows = [r for _, r in res.rows]
    assert len(rows) == 5  # the CONTROL_MESSAGE's health-check event is not data
    first = rows[0]
    assert first["event_time"] == datetime(2026, 11, 22, 10, 0, 1, 234000, tzinfo=UTC)
    assert first["owner"] == first["account_id"] == "123456789012"
    assert first["log_group"] == "/ec2/var/log/secure" and first["log_stream"] == "i-0123456789abcdef0"
    assert first["subscription_filters"] == ["mamori-to-firehose"]
    assert first["event_id"] == "39187346923477395412963729146726519485762811224064000000"
    assert first["source"] == "cloudwatch" and first["related_accounts"] == ["123456789012"]
    assert first["related_ips"] == ["203.0.113.5"] and first["related_users"] == ["admin"]
    assert rows[2]["related_users"] == ["alice", "root"] and rows[2]["related_ips"] == []
    assert rows[4]["useradd_user"] == "backdoor" and rows[4]["related_users"] == ["backdoor"]
    assert rows[3]["log_group"] == "/ec2/var/log/messages" and rows[3]["ssh_event"] is None
    parts = {(p.account, p.region, p.dt, p.hour) for p, _ in res.rows}
    assert parts == {("123456789012", "us-east-1", "2026-11-22", "10")}


def test_control_messages_only_is_skipped():
    control, _ = json.JSONDecoder().raw_decode((SAMPLES / "firehose_secure.json").read_text())
    assert control["messageType"] == "CONTROL_MESSAGE"
    res = parse(concat(control, control))
    assert res.records_in == 0 and "control" in (res.skipped_reason or "")


def test_empty_object_is_skipped_not_an_error():
    for body, gz in ((b"", True), (b"", False), (b"\n  \n", True)):
        res = parse(body, gz=gz)
        assert res.records_in == 0 and res.skipped_reason


def test_brace_pair_inside_a_message_does_not_split():
    tricky = [
        'Nov 22 10:00:01 h app[1]: payload }{ more }{"messageType":"DATA_MESSAGE"} end',
        "ends with }{",
        '{"nested": "}{"}',
    ]
    docs = [data_message(*tricky), data_message("second")]
    for body in (concat(*docs), b"\n".join(json.dumps(d).encode() for d in docs)):  # compact and spaced
        res = parse(body)
        assert not res.quarantined
        assert [r["message"] for _, r in res.rows] == [*tricky, "second"]


def test_truncated_last_object_keeps_the_earlier_ones():
    body = concat(data_message("a", "b"), data_message("c"), data_message("d", "e"))
    res = parse(body[:-25])
    assert [r["message"] for _, r in res.rows] == ["a", "b", "c"]
    assert len(res.quarantined) == 1
    q = res.quarantined[0]
    assert q.index == 3 and "undecodable JSON" in q.reason and q.raw and q.raw.startswith('{"messageType"')


def test_corrupt_middle_object_resyncs_at_the_next_message():
    body = (
        concat(data_message("a"))
        + b'{"messageType":"DATA_MESSAGE","owner":12,"x":'
        + concat(data_message("z"))
    )
    res = parse(body)
    assert [r["message"] for _, r in res.rows] == ["a", "z"]
    assert len(res.quarantined) == 1


def test_truncated_gzip_is_one_quarantined_unit():
    data = gzip.compress(concat(data_message("a", "b")), mtime=0)
    res = SOURCE.parse_object(raw(), data[: len(data) // 2])
    assert res.rows == [] and len(res.quarantined) == 1
    assert res.quarantined[0].index is None and "gzip" in res.quarantined[0].reason
    assert res.records_in == 1


def test_multi_member_and_double_gzip():
    members = b"".join(gzip.compress(concat(data_message(m)), mtime=0) for m in ("a", "b"))
    assert [r["message"] for _, r in SOURCE.parse_object(raw(), members).rows] == ["a", "b"]
    twice = gzip.compress(members, mtime=0)  # Firehose compression GZIP on top of CloudWatch's
    assert [r["message"] for _, r in SOURCE.parse_object(raw(), twice).rows] == ["a", "b"]


def test_invalid_utf8_is_replaced_and_every_event_kept():
    body = concat(data_message("first", "PLACEHOLDER", "third")).replace(
        b"PLACEHOLDER", b"bad \xff\xfe bytes"
    )
    res = parse(body)
    assert not res.quarantined
    assert [r["message"] for _, r in res.rows] == ["first", "bad \ufffd\ufffd bytes", "third"]


def test_20kb_message_and_newlines():
    big = "Nov 22 10:00:01 h app[1]: " + "A" * 20_000
    multi = "Nov 22 10:00:01 h java[9]: Exception in thread main\n\tat Foo.bar(Foo.java:1)\n\tat Main.main"
    res = parse(concat(data_message(big, multi)))
    rows = [r for _, r in res.rows]
    assert rows[0]["message"] == big and len(rows[0]["msg"]) == 20_000 and rows[0]["app_name"] == "app"
    assert rows[1]["message"] == multi and rows[1]["msg"].endswith("Main.main")


def test_hostile_20kb_auth_lines_parse_in_linear_time():
    evil = [
        "Nov 22 10:00:01 h sshd[1]: Failed password for " + " from 1.1.1.1 port 1" * 1000 + " x",
        "Nov 22 10:00:01 h sshd[1]: Disconnected from user " + "a " * 10_000 + "port",
        "Nov 22 10:00:01 h sudo: u : " + "TTY=x ; " * 2500,
        "<1>1 - - - - - " + '[a b="' + "\\" * 20_000,
    ]
    t = time.perf_counter()
    res = parse(concat(data_message(*evil)))
    assert time.perf_counter() - t < 2
    assert len(res.rows) == 4 and not res.quarantined


def test_bad_events_are_quarantined_one_by_one():
    good = data_message("ok")
    bad_events = data_message("x")
    bad_events["logEvents"] = [
        {"id": "1", "message": "no timestamp"},
        {"id": "2", "timestamp": "1795341600000", "message": "string timestamp"},
        {"id": "3", "timestamp": MS0},
        {"id": "4", "timestamp": MS0, "message": 42},
        "not an object",
        {"id": "5", "timestamp": -1, "message": "negative"},
        {"id": "6", "timestamp": True, "message": "bool"},
        {"id": "7", "timestamp": float(MS0), "message": "float ms is fine"},
    ]
    res = parse(concat(good, bad_events, [1, 2], {"messageType": "DATA_MESSAGE"}, {"messageType": "X"}))
    assert [r["message"] for _, r in res.rows] == ["ok", "float ms is fine"]
    assert len(res.quarantined) == 7 + 3
    assert [q.index for q in res.quarantined] == [1, 2, 3, 4, 5, 6, 7, 9, 10, 11]
    assert all(q.raw for q in res.quarantined)


def test_numbers_and_nesting_json_allows_but_arrow_cannot_hold():
    body = (
        b'{"messageType":"DATA_MESSAGE","logEvents":[{"timestamp":100000000000000000000000000000,"message":"x"},'
        b'{"timestamp":NaN,"message":"y"},{"timestamp":1e400,"message":"z"}]}'
        + concat(data_message("kept"))
        + b"[" * 100_000
    )
    res = parse(body)
    assert [r["message"] for _, r in res.rows] == ["kept"]
    assert len(res.quarantined) == 4 and "10000000000000000000" in (res.quarantined[0].raw or "")


def test_owner_that_is_not_an_account_falls_back_to_the_key():
    res = parse(concat(data_message("a", owner="CloudwatchLogs"), data_message("b", owner=None)))
    for _, row in res.rows:
        assert row["account_id"] == "123456789012" and row["related_accounts"] == []


# -- export tasks ---------------------------------------------------------------------------------------------


def test_export_task_lines():
    res = parse((SAMPLES / "export_000000.txt").read_bytes(), key=EXPORT_KEY)
    assert not res.quarantined
    rows = [r for _, r in res.rows]
    assert len(rows) == 3
    assert rows[0]["log_group"] == "/ec2/var/log/secure" and rows[0]["log_stream"] == "i-0123456789abcdef0"
    assert rows[0]["owner"] == rows[0]["account_id"] == "123456789012"
    assert rows[0]["subscription_filters"] is None and rows[0]["event_id"] is None
    assert rows[0]["event_time"] == datetime(2026, 11, 22, 10, 0, 1, 234000, tzinfo=UTC)
    assert (rows[0]["ssh_event"], rows[0]["ssh_user"]) == ("failed_password", "root")
    assert (
        rows[1]["message"]
        == 'Traceback (most recent call last):\n  File "app.py", line 1, in <module>\nValueError: boom'
    )
    assert rows[2]["syslog_format"] == "json" and rows[2]["msg"] == "payment failed"
    assert {(p.account, p.region) for p, _ in res.rows} == {("123456789012", "eu-west-1")}


def test_export_leading_garbage_is_quarantined_and_nanoseconds_accepted():
    body = b"garbage first line\n2026-11-22T10:00:00.123456789Z hello\n2026-11-22T10:00:01+02:00 tz\n"
    res = parse(body, key=EXPORT_KEY)
    assert len(res.quarantined) == 1 and res.quarantined[0].index == 0
    assert [r["message"] for _, r in res.rows] == ["hello", "tz"]
    assert res.rows[0][1]["event_time"] == datetime(2026, 11, 22, 10, 0, 0, 123000, tzinfo=UTC)
    assert res.rows[1][1]["event_time"] == datetime(2026, 11, 22, 8, 0, 1, tzinfo=UTC)


def test_export_stream_with_slashes_and_write_test_probe():
    key = (
        "AWSLogs/123456789012/CloudWatchLogsExport/us-east-1/%2Fecs%2Fweb/"
        "cda45419-90ea-4db5-9833-aade86253e66/ecs/web/0f1e2d3c/000001.gz"
    )
    res = parse(b"2026-11-22T10:00:00Z hi\n", key=key)
    assert res.rows[0][1]["log_group"] == "/ecs/web" and res.rows[0][1]["log_stream"] == "ecs/web/0f1e2d3c"
    probe = SOURCE.classify(
        "AWSLogs/123456789012/CloudWatchLogsExport/us-east-1/%2Fecs%2Fweb/aws-logs-write-test"
    )
    assert probe is not None and probe.kind == "write-test"
    assert SOURCE.parse_object(probe, b"Permission Check Successful").skipped_reason


# -- keys -----------------------------------------------------------------------------------------------------


def test_classify_owns_both_layouts_and_nothing_else():
    fh = SOURCE.classify(KEY)
    assert fh is not None and (fh.account, fh.region, fh.kind) == ("123456789012", "us-east-1", "events")
    ex = SOURCE.classify(EXPORT_KEY)
    assert ex is not None and (ex.account, ex.region, ex.kind) == ("123456789012", "eu-west-1", "events")
    assert SOURCE.classify("raw/" + KEY) is not None  # under a bucket sub-prefix
    cloudtrail_keys = [
        "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/22/123456789012_CloudTrail_us-east-1_20261122T1005Z_x.json.gz",
        "AWSLogs/123456789012/CloudTrail-Digest/us-east-1/2026/11/22/d.json.gz",
    ]
    for k in cloudtrail_keys:
        assert SOURCE.classify(k) is None and CLOUDTRAIL.classify(k) is not None
    assert CLOUDTRAIL.classify(KEY) is None and CLOUDTRAIL.classify(EXPORT_KEY) is None
    for k in (
        "AWSLogs/123456789012/CloudWatchLogs/us-east-1/2026/11/22/10/README.txt",
        "AWSLogs/123456789012/CloudWatchLogs/us-east-1/2026/11/22/x-1-2026-11-22-10-05-12-abc.gz",  # no hour
        "AWSLogs/12345/CloudWatchLogs/us-east-1/2026/11/22/10/x-1-2026-11-22-10-05-12-abc.gz",
        "AWSLogs/123456789012/CloudWatchLogsExport/us-east-1/g/not-a-task-id/s/000000.gz",
        "AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/22/x.log.gz",
    ):
        assert SOURCE.classify(k) is None, k


def test_list_prefixes_are_bounded_one_level_globs():
    start = datetime(2026, 11, 22, 10, tzinfo=UTC)
    prefixes = SOURCE.list_prefixes(start, start + timedelta(hours=1))
    assert prefixes == [
        "AWSLogs/*/CloudWatchLogs/*/2026/11/21/",
        "AWSLogs/*/CloudWatchLogs/*/2026/11/22/",
        "AWSLogs/*/CloudWatchLogsExport/*/*/*/",
    ]
    for p in prefixes:
        assert all(seg == "*" or "*" not in seg for seg in p.split("/"))
