"""The CloudWatch generator is the test bed for SSH/sudo detections: byte-determinism, mamori's Firehose key
layout, parser acceptance, and an exact ground truth (the attack shapes occur where the story says and the
noise stays below the thresholds while still containing the look-alikes)."""

from __future__ import annotations

import gzip
import re
import zlib
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mamori.sources.cloudwatch import SOURCE
from mamori.sources.cloudwatch.generate import (
    ATTACK_INSTANCE,
    ATTACKER_IP,
    BASTION_IP,
    generate_cloudwatch,
)

START = datetime(2026, 3, 14, tzinfo=UTC)
KEY_RE = re.compile(
    r"^AWSLogs/(?P<acct>\d{12})/CloudWatchLogs/(?P<region>[a-z]{2}-[a-z]+-\d)/(?P<ymdh>\d{4}/\d{2}/\d{2}/\d{2})/"
    r"mamori-cloudwatch-logs-1-(?P<ts>\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})-[0-9a-f-]{36}\.gz$"
)


def _run(**kw: Any) -> tuple[list[tuple[str, bytes, datetime]], list[Any]]:
    calls: list[tuple[str, bytes, datetime]] = []
    steps = generate_cloudwatch(lambda k, d, t: calls.append((k, d, t)), **kw)
    return calls, steps


@pytest.fixture(scope="module")
def day() -> tuple[list[tuple[str, bytes, datetime]], list[Any], list[tuple[Any, dict[str, Any]]]]:
    calls, steps = _run(start=START)
    rows = []
    for key, data, _ in calls:
        raw = SOURCE.classify(key)
        assert raw is not None and raw.kind == "events", key
        res = SOURCE.parse_object(raw, data)
        assert not res.quarantined, (key, res.quarantined[:1])
        assert res.records_in == len(res.rows)
        rows += res.rows
    return calls, steps, rows


def test_deterministic_per_seed() -> None:
    a, steps_a = _run(start=START, hours=3)
    b, steps_b = _run(start=START, hours=3)
    assert a == b and steps_a == steps_b
    c, _ = _run(start=START, hours=3, seed=8)
    assert [d for _, d, _ in a] != [d for _, d, _ in c]


def test_start_must_be_an_aligned_utc_hour() -> None:
    with pytest.raises(ValueError):
        _run(start=START + timedelta(minutes=5), hours=1)
    with pytest.raises(ValueError):
        _run(start=datetime(2026, 3, 14), hours=1)


def test_keys_objects_and_landing_order(day: Any) -> None:
    calls, _, _ = day
    assert len({k for k, _, _ in calls}) == len(calls)
    assert [(t, k) for k, _, t in calls] == sorted((t, k) for k, _, t in calls)
    for key, data, landed in calls:
        m = KEY_RE.match(key)
        assert m, key
        flushed = datetime.strptime(m["ts"], "%Y-%m-%d-%H-%M-%S").replace(tzinfo=UTC)
        assert m["ymdh"] == f"{flushed:%Y/%m/%d/%H}"
        assert flushed <= landed <= flushed + timedelta(minutes=1)
        # multi-member gzip, every member written with mtime=0
        rest = data
        while rest:
            assert rest[:2] == b"\x1f\x8b" and rest[4:8] == b"\0\0\0\0"
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            d.decompress(rest)
            rest = d.unused_data
    accounts = {KEY_RE.match(k)["acct"] for k, _, _ in calls}  # type: ignore[index]
    assert accounts == {"111111111111", "222222222222"}


def test_control_messages_occur_and_are_not_rows(day: Any) -> None:
    calls, _, rows = day
    controls = sum(gzip.decompress(d).count(b'"CONTROL_MESSAGE"') for _, d, _ in calls)
    assert controls >= 4
    assert all(r["owner"] in ("111111111111", "222222222222") for _, r in rows)


def test_rows_partition_by_key_and_event_time(day: Any) -> None:
    _, _, rows = day
    for part, r in rows[:: max(1, len(rows) // 500)]:
        assert part.account == r["account_id"] == r["owner"]
        assert part.dt == f"{r['event_time']:%Y-%m-%d}" and part.hour == f"{r['event_time']:%H}"
        assert r["syslog_format"] == "rfc3164" and r["hostname"] and r["app_name"]
        assert r["log_group"] in ("/ec2/var/log/secure", "/ec2/var/log/messages")
        assert r["log_stream"].startswith("i-0") and r["subscription_filters"] == ["mamori-to-firehose"]
        assert len(r["event_id"]) == 56
        # the syslog text's time and CloudWatch's ingestion stamp are within two seconds
        assert timedelta(0) <= r["event_time"] - r["syslog_time"] < timedelta(seconds=2)
    assert min(r["event_time"] for _, r in rows) >= START
    assert max(r["event_time"] for _, r in rows) < START + timedelta(hours=24, seconds=2)


def test_attack_story_is_exact(day: Any) -> None:
    _, steps, rows = day
    attacker = [r for _, r in rows if ATTACKER_IP in r["message"]]
    assert {(r["owner"], r["log_stream"]) for r in attacker} == {("111111111111", ATTACK_INSTANCE)}
    assert all(r["hostname"] == "ip-10-0-1-15" for r in attacker)
    failed = sorted(r["event_time"] for r in attacker if r["ssh_event"] == "failed_password")
    assert len(failed) == 40 and failed[-1] - failed[0] <= timedelta(minutes=10)
    assert failed[0] - START >= timedelta(hours=1, minutes=20)
    assert {r["ssh_user"] for r in attacker if r["ssh_event"] == "failed_password"} == {
        "admin",
        "root",
        "ubuntu",
    }
    (login,) = [r for r in attacker if r["ssh_event"] == "accepted_password"]
    assert (login["ssh_user"], login["ssh_src_port"]) == ("ec2-user", 50022)
    assert login["event_time"] > failed[-1]
    (root,) = [r for r in attacker if r["ssh_event"] == "accepted_publickey"]
    assert root["ssh_user"] == "root"
    (shell,) = [r for _, r in rows if r["sudo_command"] == "/bin/bash"]  # benign sudo never opens a shell
    assert shell["log_stream"] == ATTACK_INSTANCE
    assert shell["sudo_user"] == "ec2-user" and shell["sudo_run_as"] == "root" and shell["sudo_error"] is None
    (backdoor,) = [r for _, r in rows if r["useradd_user"]]
    assert backdoor["useradd_user"] == "backdoor" and backdoor["log_stream"] == ATTACK_INSTANCE
    assert login["event_time"] < shell["event_time"] < backdoor["event_time"] < root["event_time"]

    assert [set(s.detections) for s in steps] == [
        {"syslog_ssh_brute_force"},
        {"syslog_ssh_password_login_from_internet", "syslog_ssh_login_after_failures"},
        {"syslog_sudo_root_shell"},
        {"syslog_new_local_user"},
        {"syslog_ssh_root_login"},
    ]
    assert all((s.account, s.region) == ("111111111111", "us-east-1") for s in steps)
    assert [s.time for s in steps] == sorted(s.time for s in steps)
    for step, row in zip(steps[1:], (login, shell, backdoor, root), strict=True):
        assert timedelta(0) <= row["event_time"] - step.time < timedelta(seconds=2)
    assert "brute force" in steps[0].summary and "backdoor" in steps[3].summary


def test_noise_has_look_alikes_but_stays_below_thresholds(day: Any) -> None:
    _, _, rows = day
    noise = [r for _, r in rows if ATTACKER_IP not in r["message"]]
    events = Counter(r["ssh_event"] for r in noise)
    assert (
        events["failed_password"] > 50 and events["invalid_user"] > 20 and events["accepted_publickey"] > 50
    )
    assert events["accepted_password"] == 0  # password logins only ever come from the attacker
    # ec2-user logs in with a key from the bastion, and runs sudo, on every account
    bastion = [r for r in noise if r["ssh_event"] == "accepted_publickey"]
    assert {r["ssh_src_ip"] for r in bastion} == {BASTION_IP} and {r["ssh_user"] for r in bastion} == {
        "ec2-user"
    }
    sudo = [r for r in noise if r["sudo_user"]]
    assert {r["owner"] for r in sudo} == {"111111111111", "222222222222"}
    # scanners: fewer than 5 failures per IP in any one-hour sliding window, fleet-wide
    by_ip: dict[str, list[datetime]] = defaultdict(list)
    for r in noise:
        if r["ssh_event"] == "failed_password":
            assert r["ssh_src_ip"].startswith("203.0.113.")
            by_ip[r["ssh_src_ip"]].append(r["event_time"])
    for times in by_ip.values():
        times.sort()
        for i, t in enumerate(times):
            assert sum(1 for u in times[i:] if u - t < timedelta(hours=1)) < 5
    assert all(not r["message"].count("198.51.100.") for r in noise)


def test_short_runs_drop_attack_steps_outside_the_range() -> None:
    calls, steps = _run(start=START, hours=1)
    assert steps == [] and calls
    assert not any(ATTACKER_IP.encode() in gzip.decompress(d) for _, d, _ in calls)
