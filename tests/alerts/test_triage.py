"""Triage: how an incident was handled, recorded in the ledger (who did what when), on any deployment.

An incident is acknowledged, closed with a verdict, or reopened; each change is one append-only
`incident_actions` row, and asking for the state it is already in records nothing. Closing gives every
member alert the verdict as its resolution (the word a GitHub close label writes, one vocabulary), so the
embedded default, which has no ticket system to sync from, can close alerts too. A closed incident that
gains an alert re-opens, recorded as done by `mamori`.

Alerts are recorded and grouped the way a detect run does it (`group_hits` → `Ledger.record_window` with the
real rules' headers → `record_incidents`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mamori.alerts import incidents, triage
from mamori.alerts.ledger import Ledger
from mamori.config import Settings
from mamori.detections.dedup import group_hits
from mamori.detections.loader import get_detection

ACCT = "111111111111"
ATTACKER = "198.51.100.23"
T0 = datetime(2026, 11, 1, 1, 10, tzinfo=UTC)
HOUR = timedelta(hours=1)
NOW = datetime(2026, 12, 5, 7, 0, tzinfo=UTC)


def record(ledger: Ledger, s: Settings, det_id: str, t: datetime, **cols: Any) -> None:
    """One rule's hit in the hourly window holding `t`, recorded and grouped as a detect run does."""
    start = t.replace(minute=0, second=0, microsecond=0)
    det = get_detection(s.sql_dir, det_id)
    rows = [{"event_time": t, "account_id": ACCT, **cols}]
    ledger.record_window(det, start, start + HOUR, group_hits(det, rows))
    incidents.record_incidents(start, start + HOUR, s)


@pytest.fixture
def ledger(settings: Settings) -> Ledger:
    return Ledger(settings.ledger_url)


@pytest.fixture
def incident(ledger: Ledger, settings: Settings) -> str:
    """A web attack and a port scan from one address: one incident of two alerts."""
    record(ledger, settings, "alb_sql_injection", T0, source_ip=ATTACKER)
    record(ledger, settings, "vpcflow_port_scan", T0 + HOUR, source_ip=ATTACKER, target="10.0.1.15")
    (inc,) = incidents.list_incidents(ledger)
    assert len(inc.members) == 2
    return inc.incident_id


def state(ledger: Ledger, iid: str) -> tuple[str, str | None]:
    (inc,) = [i for i in incidents.list_incidents(ledger) if i.incident_id == iid]
    return inc.status, inc.verdict


def member_alerts(ledger: Ledger) -> list[tuple[str, str, str | None]]:
    with ledger.engine.connect() as conn:
        from mamori.alerts.ledger import ALERTS

        rows = conn.execute(ALERTS.select().order_by(ALERTS.c.detection_id)).all()
    return [(r.detection_id, r.status, r.resolution) for r in rows]


def test_acknowledge_close_and_reopen_move_the_state_and_record_who_did_what_when(ledger, incident) -> None:
    ack = triage.acknowledge(ledger, incident, "alice", now=NOW)
    assert ack.status == "acknowledged" and ack.recorded is not None
    assert state(ledger, incident) == ("acknowledged", None)

    closed = triage.close(ledger, incident, "false-positive", "bob", note="the pentest", now=NOW + HOUR)
    assert (closed.status, closed.verdict) == ("closed", "false-positive")
    assert state(ledger, incident) == ("closed", "false-positive")

    reopened = triage.reopen(ledger, incident, "carol", note="same address again", now=NOW + 2 * HOUR)
    assert (reopened.status, reopened.verdict) == ("open", None)
    assert state(ledger, incident) == ("open", None)

    assert [(a.action, a.verdict, a.note, a.actor, a.at) for a in triage.actions(ledger, incident)] == [
        ("acknowledge", None, None, "alice", "2026-12-05T07:00:00+00:00"),
        ("close", "false-positive", "the pentest", "bob", "2026-12-05T08:00:00+00:00"),
        ("reopen", None, "same address again", "carol", "2026-12-05T09:00:00+00:00"),
    ]


def test_asking_for_the_state_an_incident_is_in_records_nothing(ledger, incident) -> None:
    assert triage.reopen(ledger, incident, "alice").recorded is None  # open already
    assert triage.acknowledge(ledger, incident, "alice").recorded is not None
    assert triage.acknowledge(ledger, incident, "bob").recorded is None
    assert triage.close(ledger, incident, "true-positive", "alice").recorded is not None
    dump = ledger.dump()
    again = triage.close(ledger, incident, "true-positive", "bob", note="closing it too")
    assert again.recorded is None and (again.status, again.verdict) == ("closed", "true-positive")
    assert ledger.dump() == dump

    # Another verdict on a closed incident is a correction: recorded, and it reaches the alerts.
    fixed = triage.close(ledger, incident, "benign-true-positive", "bob", note="it was the red team")
    assert fixed.recorded is not None and fixed.verdict == "benign-true-positive"
    assert [a.action for a in triage.actions(ledger, incident)] == ["acknowledge", "close", "close"]
    assert {r for _, _, r in member_alerts(ledger)} == {"benign-true-positive"}


def test_closing_gives_member_alerts_the_verdict_as_their_resolution_and_reopening_takes_it_back(
    ledger, incident
) -> None:
    from mamori.detect import RESOLUTION_LABELS

    assert member_alerts(ledger) == [
        ("alb_sql_injection", "open", None),
        ("vpcflow_port_scan", "open", None),
    ]
    out = triage.close(ledger, incident, "false-positive", "alice")
    assert out.alerts == 2
    # The same word a GitHub close label writes (`sync_alerts`): one meaning of alerts.resolution.
    assert "false-positive" in RESOLUTION_LABELS
    assert member_alerts(ledger) == [
        ("alb_sql_injection", "resolved", "false-positive"),
        ("vpcflow_port_scan", "resolved", "false-positive"),
    ]
    assert incidents.list_incidents(ledger, open_only=True) == []

    triage.reopen(ledger, incident, "alice")
    assert member_alerts(ledger) == [
        ("alb_sql_injection", "open", None),
        ("vpcflow_port_scan", "open", None),
    ]
    assert [i.incident_id for i in incidents.list_incidents(ledger, open_only=True)] == [incident]


def test_a_closed_incident_that_gains_an_alert_reopens_as_done_by_mamori(ledger, settings, incident) -> None:
    triage.close(ledger, incident, "false-positive", "alice", now=NOW)
    unrelated_window = T0 + 3 * HOUR
    record(ledger, settings, "alb_path_traversal", unrelated_window, source_ip="203.0.113.9")
    assert state(ledger, incident) == ("closed", "false-positive")  # another address: nothing joined

    record(ledger, settings, "alb_path_traversal", T0 + 4 * HOUR, source_ip=ATTACKER)

    assert state(ledger, incident) == ("open", None)
    *_, reopened = triage.actions(ledger, incident)
    assert (reopened.action, reopened.actor, reopened.verdict) == ("reopen", "mamori", None)
    new_key = next(
        a.key
        for i in incidents.list_incidents(ledger)
        if i.incident_id == incident
        for a in i.members
        if a.first_seen == (T0 + 4 * HOUR).isoformat()
    )
    assert reopened.note is not None and "alb_path_traversal" in reopened.note and new_key in reopened.note
    assert {s for d, s, _ in member_alerts(ledger) if d != "alb_path_traversal"} == {"open"}

    # Re-running the window that brought the alert finds it placed: nothing is recorded again.
    dump = ledger.dump()
    record(ledger, settings, "alb_path_traversal", T0 + 4 * HOUR, source_ip=ATTACKER)
    assert ledger.dump() == dump


def test_an_acknowledged_incident_that_gains_an_alert_stays_with_its_analyst(
    ledger, settings, incident
) -> None:
    triage.acknowledge(ledger, incident, "alice")
    record(ledger, settings, "alb_path_traversal", T0 + 4 * HOUR, source_ip=ATTACKER)
    assert state(ledger, incident) == ("acknowledged", None)
    assert [a.actor for a in triage.actions(ledger, incident)] == ["alice"]


def test_a_closed_incident_merged_into_another_by_a_bridge_reopens_the_survivor(ledger, settings) -> None:
    alice = f"arn:aws:iam::{ACCT}:user/alice"
    record(ledger, settings, "alb_sql_injection", T0, source_ip=ATTACKER)
    record(ledger, settings, "cloudtrail_console_login_without_mfa", T0 + 2 * HOUR, actor=alice,
           source_ip="203.0.113.10")  # fmt: skip
    older, newer = (i.incident_id for i in incidents.list_incidents(ledger))
    triage.close(ledger, older, "true-positive", "alice")
    triage.close(ledger, newer, "benign-true-positive", "alice")

    record(ledger, settings, "cloudtrail_trail_stopped_or_changed", T0 + 4 * HOUR, actor=alice,
           source_ip=ATTACKER)  # fmt: skip

    (survivor,) = incidents.list_incidents(ledger)
    assert survivor.incident_id == older and (survivor.status, survivor.verdict) == ("open", None)
    assert [(a.action, a.actor) for a in triage.actions(ledger, older)] == [
        ("close", "alice"),
        ("reopen", "mamori"),
    ]
    with pytest.raises(triage.TriageError, match=f"merged into {older}"):
        triage.acknowledge(ledger, newer, "alice")


def test_refusals_name_the_incident_and_the_way_out(ledger, incident) -> None:
    triage.close(ledger, incident, "true-positive", "alice")
    with pytest.raises(triage.TriageError, match=r"is closed \(true-positive\): reopen it first"):
        triage.acknowledge(ledger, incident, "alice")
    with pytest.raises(triage.TriageError, match="no incident 'ffffffff'"):
        triage.close(ledger, "ffffffff", "true-positive", "alice")
    with pytest.raises(triage.TriageError, match="not an incident id"):
        triage.close(ledger, "x'; DROP TABLE incidents; --", "true-positive", "alice")
    with pytest.raises(triage.TriageError, match="unknown verdict 'maybe'"):
        triage.close(ledger, incident, "maybe", "alice")
    with pytest.raises(triage.TriageError, match="actor"):
        triage.acknowledge(ledger, incident, "")
    with pytest.raises(triage.TriageError, match="actor"):
        triage.acknowledge(ledger, incident, "alice\x1b[2J")
    assert [a.action for a in triage.actions(ledger, incident)] == ["close"]


def test_verdicts_are_accepted_in_either_spelling_and_stored_as_the_labels() -> None:
    assert triage.parse_verdict("true_positive") == "true-positive"
    assert triage.parse_verdict("Benign-True-Positive") == "benign-true-positive"
    assert triage.parse_verdict("false_positive") == "false-positive"
    assert triage.VERDICTS == ("true-positive", "benign-true-positive", "false-positive")


def test_an_id_prefix_names_an_incident_when_it_is_unique(ledger, incident) -> None:
    assert triage.close(ledger, incident[:8], "true-positive", "alice").incident_id == incident
    with pytest.raises(triage.TriageError, match="at least"):
        triage.reopen(ledger, incident[:3], "alice")


def test_two_analysts_closing_at_once_record_one_close(ledger, settings, incident) -> None:
    """Each from its own process's connection (a Ledger each), at the same moment: state changes are
    serialized, so the second sees the first's close and records nothing."""
    import threading

    barrier, errors, recorded = threading.Barrier(4), [], []

    def close() -> None:
        try:
            mine = Ledger(settings.ledger_url)
            barrier.wait()
            recorded.append(triage.close(mine, incident, "true-positive", "alice").recorded is not None)
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=close) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == [] and sorted(recorded) == [False, False, False, True]
    assert [a.action for a in triage.actions(ledger, incident)] == ["close"]
