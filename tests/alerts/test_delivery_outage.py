"""Nothing lost after outages: a delivery is retried with a growing, capped backoff for as long as its output
is down (never given up silently), a long outage raises one health alert per output and turns the dispatch
run red, the page sent before its ticket existed gets the ticket's link, and operators can cancel or retry.
All over HTTP against the fake GitHub / PagerDuty / Slack servers, with a simulated wall clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mamori import detect
from mamori.alerts.ledger import Ledger, retry_backoff
from mamori.detections.dedup import group_hits
from mamori.detections.loader import get_detection

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 1, 10, tzinfo=UTC)


def hit(minute: int, actor: str) -> dict:
    return {
        "event_time": T0 + timedelta(minutes=minute),
        "account_id": "111111111111",
        "actor": actor,
        "principal": actor,
        "source_ip": "198.51.100.23",
        "event_name": "StopLogging",
    }


@pytest.fixture
def wired(settings, monkeypatch, output_connections):
    fake_github, fake_pagerduty, fake_slack = output_connections
    real = detect.make_output

    def no_wait(name, s):  # the output's own in-run retries without their sleeps (the backoff under test is
        out = real(name, s)  # the ledger's, across runs)
        if hasattr(out, "sleep"):
            out.sleep = lambda _seconds: None
        return out

    monkeypatch.setattr(detect, "make_output", no_wait)
    det = get_detection(REPO / "sql", "cloudtrail_trail_stopped_or_changed")  # high: github+pagerduty+slack
    ledger = Ledger(settings.ledger_url)
    ledger.record_window(det, T0, T0 + timedelta(hours=1), group_hits(det, [hit(1, "alice")]))
    return settings, ledger, fake_github, fake_pagerduty, fake_slack


def test_backoff_grows_and_is_capped():
    assert [retry_backoff(n).total_seconds() / 60 for n in range(1, 8)] == [5, 10, 20, 40, 60, 60, 60]


def test_a_github_outage_longer_than_the_old_give_up_horizon_still_ends_in_one_ticket(wired):
    settings, ledger, gh, pd, sl = wired
    [alert] = ledger.alerts()
    gh.fail_always = "502"
    now = T0 + timedelta(hours=1)
    attempts = []

    # Dispatch every 15 minutes for 3 hours of outage (the old code gave up after 5 failures, ~75 minutes).
    def github_row() -> dict:
        rows = [d for d in ledger.deliveries() if d["output"] == "github" and d["alert_key"] == alert.key]
        return rows[0] if rows else {"failures": 0}

    requests = []
    for _ in range(12):
        before, seen = github_row()["failures"], sum(gh.received().values())
        with pytest.raises(RuntimeError, match="failing"):
            detect.dispatch(settings, now=now)
        attempts.append(github_row()["failures"] > before)
        requests.append(sum(gh.received().values()) > seen)
        now += timedelta(minutes=15)
    # Backoff: not every run knocks on GitHub's door, but it keeps trying (last try within the hour cap).
    assert 5 <= sum(attempts) < 12 and any(attempts[-4:])
    assert all(requests[i] for i, tried in enumerate(attempts) if tried)  # each try really went over HTTP
    row = github_row()
    assert row["state"] == "failed" and row["failures"] == sum(attempts)
    # The page and the message went out meanwhile (once each), without a ticket link.
    [incident] = pd.incidents_for(alert.key)
    assert pd.received_for(alert.key) == 1 and sl.received_for(alert.key) == 1
    assert not [e for e in incident.events if e.get("links")]
    # One health alert about the failing output, not one per run.
    health = [a for a in ledger.alerts() if a.detection_id == "mamori_delivery_failing"]
    assert [a.dedup_values for a in health] == [{"output": "github"}]

    gh.fail_always = None  # GitHub recovers
    now += timedelta(hours=1)  # past any backoff
    summary = detect.dispatch(settings, now=now)

    issues = [i for i in gh.issue_list() if f"mamori:{alert.key[:16]}" in {lb["name"] for lb in i["labels"]}]
    assert len(issues) == 1  # the ticket exists, exactly once
    assert summary["failing"] == 0 and summary["failing_outputs"] == []
    # The page sent during the outage now carries the ticket's link (same incident, updated in place).
    [incident] = pd.incidents_for(alert.key)
    links = [link["href"] for e in incident.events for link in e.get("links", [])]
    assert links == [issues[0]["html_url"]] and pd.received_for(alert.key) == 2
    assert sl.received_for(alert.key) == 1  # a webhook message cannot be edited: not re-posted
    # A later run has nothing left to do for the alert.
    seen = (gh.writes_for(alert.key), pd.received_for(alert.key), sl.received_for(alert.key))
    detect.dispatch(settings, now=now + timedelta(minutes=15))
    assert (gh.writes_for(alert.key), pd.received_for(alert.key), sl.received_for(alert.key)) == seen


def test_cancel_stops_retries_and_redeliver_makes_them_due_now(wired, monkeypatch, capsys):
    from mamori.cli import main

    settings, ledger, gh, _, _ = wired
    [alert] = ledger.alerts()
    monkeypatch.setenv("MAMORI_LEDGER_URL", settings.ledger_url)
    gh.fail_always = "502"
    now = T0 + timedelta(hours=1)
    with pytest.raises(RuntimeError):
        detect.dispatch(settings, now=now)
    assert main(["alerts", "cancel", alert.key, "--output", "github"]) == 0
    requests = sum(gh.received().values())
    for k in range(1, 6):
        detect.dispatch(settings, now=now + timedelta(hours=k))  # green: a cancelled delivery is not failing
    assert sum(gh.received().values()) == requests

    gh.fail_always = None
    assert main(["alerts", "redeliver", alert.key, "--output", "github"]) == 0
    detect.dispatch(settings, now=now + timedelta(hours=6))
    assert len(gh.issue_list()) == 1 and gh.writes_for(alert.key) == 1  # no health alert: cancelled ≠ failing
    assert main(["alerts", "cancel", "0" * 32]) == 2
    assert "no matching delivery" in capsys.readouterr().err


def test_an_output_down_costs_one_deliverys_retries_per_run_not_one_per_due_alert(wired):
    """A dispatch run during an outage spends one delivery's in-run retries on the output that is down; its
    other due deliveries are recorded failed without a request (same backoff, same failure count), so a run
    with many due alerts does not spend minutes of retry sleeps per alert on a dead endpoint."""
    settings, ledger, gh, pd, sl = wired
    det = get_detection(REPO / "sql", "cloudtrail_trail_stopped_or_changed")
    for minute, actor in ((2, "bob"), (3, "carol")):
        ledger.record_window(det, T0, T0 + timedelta(hours=1), group_hits(det, [hit(minute, actor)]))
    alerts = ledger.alerts()
    assert len(alerts) == 3
    gh.fail_always = "502"
    now = T0 + timedelta(hours=1)
    with pytest.raises(RuntimeError, match="3 deliveries failed"):
        detect.dispatch(settings, now=now)
    # One delivery's attempts (4) reached GitHub, not 3 × 4.
    assert sum(gh.received().values()) <= 4, gh.received()
    rows = [d for d in ledger.deliveries() if d["output"] == "github"]
    assert len(rows) == 3 and all(r["state"] == "failed" and r["failures"] == 1 for r in rows), rows
    assert all(r["lease_owner"] is None for r in rows)
    # The other outputs were not held back: each alert's page and message went out.
    assert all(pd.received_for(a.key) == 1 and sl.received_for(a.key) == 1 for a in alerts)

    gh.fail_always = None
    detect.dispatch(settings, now=now + timedelta(hours=1))
    assert len(gh.issue_list()) == 3
