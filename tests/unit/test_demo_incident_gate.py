"""The demo's bar for incidents (`incident_gate`): the attack story reads as at most 3 incidents and the
benign background as none, or the demo fails with one line saying which. And the demo lists which alerts
each incident holds (time, rule, key). The gate's logic only: the full demo is not run here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mamori.alerts.incidents import Incident
from mamori.alerts.ledger import Alert
from mamori.dev.demo import MAX_STORY_INCIDENTS, incident_gate, incident_lines

T = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)


def alert(n: int, det: str = "alb_sql_injection") -> Alert:
    t = (T + timedelta(minutes=n)).isoformat()
    return Alert(
        key=f"{n:032x}",
        detection_id=det,
        title=det,
        severity="high",
        status="open",
        log_source="alb",
        dedup_values={"source_ip": "198.51.100.23"},
        bucket_start=t,
        bucket_end=t,
        first_seen=t,
        last_seen=t,
        hit_count=1,
        samples=[],
        routes=["local"],
    )


def incident(*members: Alert) -> Incident:
    return Incident(
        incident_id=f"{members[0].key[-8:]:0>32}",
        status="open",
        severity="high",
        severity_reason="high (highest of its alerts)",
        tactics=[],
        entities=[],
        first_seen=members[0].first_seen,
        last_seen=members[-1].last_seen,
        opened_window_end=members[-1].last_seen,
        members=list(members),
    )


def test_three_story_incidents_and_no_background_pass() -> None:
    story = [incident(alert(1), alert(2)), incident(alert(3)), incident(alert(4))]
    assert MAX_STORY_INCIDENTS == 3
    assert incident_gate(story, noise=set()) is None


def test_a_fourth_story_incident_fails_with_one_line() -> None:
    story = [incident(alert(i)) for i in range(1, 5)]
    assert (
        incident_gate(story, noise=set()) == "FAILED incidents: the attack story gave 4 incidents (at most 3)"
    )


def test_any_background_incident_fails_and_a_mixed_one_counts_as_story() -> None:
    noisy = alert(9, "cloudtrail_console_login_without_mfa")
    mixed = incident(alert(1), alert(10))  # a story alert with a background one: the story's incident
    assert incident_gate([mixed], noise={alert(10).key}) is None
    line = incident_gate([mixed, incident(noisy)], noise={alert(10).key, noisy.key})
    assert line == "FAILED incidents: the background gave 1 (none allowed)"


@pytest.mark.parametrize(("story", "background"), [(5, 2)])
def test_both_failures_are_named_on_the_same_line(story: int, background: int) -> None:
    found = [incident(alert(i)) for i in range(story)] + [incident(alert(100 + i)) for i in range(background)]
    line = incident_gate(found, noise={alert(100 + i).key for i in range(background)})
    assert line == (
        "FAILED incidents: the attack story gave 5 incidents (at most 3); the background gave 2 (none allowed)"
    )
    assert line is not None and "\n" not in line


def test_the_demo_lists_each_incidents_alerts_with_time_rule_and_key() -> None:
    inc = incident(alert(1), alert(2, "vpcflow_port_scan"))
    lines = incident_lines(inc)
    assert lines[0].startswith(inc.incident_id)
    assert lines[-2:] == [
        f"    2026-11-01 05:01:00Z  {'alb_sql_injection':45}  {alert(1).key}",
        f"    2026-11-01 05:02:00Z  {'vpcflow_port_scan':45}  {alert(2).key}",
    ]
