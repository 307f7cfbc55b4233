"""`mamori incidents ack|close|reopen|show`: triage from the terminal, recorded in the ledger with who and when.

Errors are one line on stderr and exit 2 (the CLI's error boundary). Everything shown that came from a log
(entity values, dedup values) is inert on a terminal: no escape sequence, bidi override or line break gets
through to rewrite the screen or forge a line."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mamori.alerts import incidents
from mamori.alerts.ledger import Ledger
from mamori.cli import main
from mamori.config import Settings
from mamori.detections.dedup import group_hits
from mamori.detections.loader import get_detection

ACCT = "111111111111"
ATTACKER = "198.51.100.23"
T0 = datetime(2026, 11, 1, 1, 10, tzinfo=UTC)
HOUR = timedelta(hours=1)
HOSTILE = "mallory\nFORGED 0 incidents \x1b[2J\x1b]8;;http://x\x07\u202eevil\u2066"
# Nothing a terminal acts on: C0/C1 controls (bar the newline that ends our own lines), bidi controls.
UNSAFE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def record(ledger: Ledger, s: Settings, det_id: str, t: datetime, **cols: Any) -> None:
    start = t.replace(minute=0, second=0, microsecond=0)
    det = get_detection(s.sql_dir, det_id)
    rows = [{"event_time": t, "account_id": ACCT, **cols}]
    ledger.record_window(det, start, start + HOUR, group_hits(det, rows))
    incidents.record_incidents(start, start + HOUR, s)


@pytest.fixture
def incident_id(settings: Settings, monkeypatch) -> str:
    """One incident: a port scan, then a console login without MFA by a hostile principal name, from the
    same address."""
    monkeypatch.setenv("USER", "alice")
    ledger = Ledger(settings.ledger_url)
    record(ledger, settings, "vpcflow_port_scan", T0, source_ip=ATTACKER, target="10.0.1.15")
    record(
        ledger, settings, "cloudtrail_console_login_without_mfa", T0 + HOUR, actor=HOSTILE, source_ip=ATTACKER
    )
    (inc,) = incidents.list_incidents(ledger)
    return inc.incident_id


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def assert_inert(text: str) -> None:
    assert not UNSAFE.search(text), repr(UNSAFE.search(text))
    assert not any(line.startswith("FORGED") for line in text.splitlines()), text


def test_close_then_show_prints_the_timeline_and_the_actions(incident_id, capsys) -> None:
    rc, out, err = run(capsys, "incidents", "ack", incident_id)
    assert (rc, err) == (0, "")
    assert out.strip() == f"incident {incident_id}: acknowledged by alice"

    rc, out, _ = run(
        capsys, "incidents", "close", incident_id[:10], "--verdict", "false_positive", "--note", "pentest\nok",
        "--as", "bob",
    )  # fmt: skip
    assert rc == 0
    assert out.strip() == f"incident {incident_id}: closed as false-positive by bob; 2 alerts resolved"

    rc, out, _ = run(capsys, "incidents", "show", incident_id)
    assert rc == 0
    assert_inert(out)
    lines = out.splitlines()
    assert lines[0].startswith(f"{incident_id}  ") and lines[0].endswith("closed (false-positive)")
    timeline = lines[lines.index("  alerts") + 1 : lines.index("  actions")]
    assert len(timeline) == 3  # a header and one line per member, oldest first
    assert timeline[0].split() == ["time", "severity", "rule", "tactics", "entities"]
    scan, login = timeline[1:]
    assert scan.split()[:4] == ["2026-11-01", "01:10:00Z", "medium", "vpcflow_port_scan"]
    assert "TA0043" in scan and f"ip {ATTACKER}" in scan
    assert "cloudtrail_console_login_without_mfa" in login and "principal mallory\\nFORGED" in login
    actions = lines[lines.index("  actions") + 1 :]
    assert [a.split()[2:] for a in actions] == [
        ["alice", "acknowledge"],
        ["bob", "close", "false-positive", "pentest\\nok"],
    ]


def test_list_output_is_inert_for_hostile_entity_values(incident_id, capsys) -> None:
    rc, out, _ = run(capsys, "incidents", "list")
    assert rc == 0 and out.startswith("1 incidents")
    assert_inert(out)


def test_reopen_and_idempotent_repeats_say_so_on_one_line(incident_id, capsys) -> None:
    assert run(capsys, "incidents", "close", incident_id, "--verdict", "true-positive")[0] == 0
    rc, out, _ = run(capsys, "incidents", "close", incident_id, "--verdict", "true_positive")
    assert (rc, out.strip()) == (
        0,
        f"incident {incident_id}: already closed as true-positive; nothing recorded",
    )
    rc, out, _ = run(capsys, "incidents", "reopen", incident_id, "--note", "more to it")
    assert (rc, out.strip()) == (0, f"incident {incident_id}: reopened by alice; 2 alerts open again")
    rc, out, _ = run(capsys, "incidents", "list", "--open")
    assert out.startswith("1 open incidents")


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["show", "0123456789abcdef"], "no incident '0123456789abcdef'"),
        (["ack", "zz;rm -rf"], "not an incident id"),
        (["close", "{id}", "--verdict", "maybe"], "unknown verdict 'maybe'"),
        (["close", "{id}"], "--verdict"),
        (["ack", "{id}", "--as", "eve\x1b[31m"], "actor"),
    ],
)
def test_errors_are_one_line_and_exit_2(incident_id, capsys, argv, says) -> None:
    rc, _, err = run(capsys, "incidents", *[a.replace("{id}", incident_id) for a in argv])
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("mamori incidents: ")
    assert says in err
    assert_inert(err)


def test_acknowledging_a_closed_incident_is_refused(incident_id, capsys) -> None:
    run(capsys, "incidents", "close", incident_id, "--verdict", "benign_true_positive")
    rc, _, err = run(capsys, "incidents", "ack", incident_id)
    assert rc == 2
    assert err.strip() == (
        f"mamori incidents: incident {incident_id} is closed (benign-true-positive): reopen it first"
    )


def test_the_actor_is_required(incident_id, capsys, monkeypatch) -> None:
    monkeypatch.delenv("USER", raising=False)
    monkeypatch.delenv("LOGNAME", raising=False)
    rc, _, err = run(capsys, "incidents", "ack", incident_id)
    assert rc == 2 and "--as" in err and len(err.strip().splitlines()) == 1
