"""Detect + dispatch over the same windows three times, then a backfill over them, against the GitHub,
PagerDuty and Slack fakes: exactly the tickets, incidents and messages of one run, each sent once (counted
in the requests the fakes received, not only in the state they keep)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from fake_github import TOKEN

from mamori import detect, ingest
from mamori.alerts.ledger import Ledger
from mamori.dev.generate import write_samples as generate

pytestmark = pytest.mark.slow
START = datetime(2026, 11, 1, tzinfo=UTC)
HOURS = 6


def test_three_runs_and_a_backfill_leave_one_runs_tickets(
    settings, monkeypatch, fake_github, fake_pagerduty, fake_slack
):
    monkeypatch.setenv(
        "AIRFLOW_CONN_MAMORI_GITHUB",
        json.dumps(
            {
                "conn_type": "github",
                "password": TOKEN,
                "host": fake_github.api_url,
                "extra": {"repo": "acme/security-alerts"},
            }
        ),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_MAMORI_PAGERDUTY",
        json.dumps({"conn_type": "pagerduty_events", "password": "R" * 32, "host": fake_pagerduty.url}),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_MAMORI_SLACK",
        json.dumps({"conn_type": "slackwebhook", "password": fake_slack.webhook_url}),
    )
    steps = generate(START, HOURS, seed=11, sources=["cloudtrail"])
    for h in range(HOURS + 1):
        ws = START + timedelta(hours=h)
        for b in ingest.plan_window("cloudtrail", ws, ws + timedelta(hours=1), settings):
            ingest.convert_batch(b, settings)
        ingest.finalize_window("cloudtrail", ws, ws + timedelta(hours=1), settings)

    # The rules the CloudTrail story exercises (the whole catalog would only repeat the same path slower).
    ids = sorted({d for st in steps for d in st.detections})
    run_ends = [START + timedelta(hours=h + 1) + settings.detect_lag for h in range(HOURS)]

    def run(ends: list[datetime]) -> None:
        for end in ends:
            detect.run_chunk(ids, end - timedelta(hours=1), end, settings)  # as one detect task runs them
            detect.dispatch(settings)

    run(run_ends)
    ledger = Ledger(settings.ledger_url)
    alerts = ledger.alerts()
    paging = [a for a in alerts if "pagerduty" in a.routes]
    chat = [a for a in alerts if "slack" in a.routes]
    snapshot = (len(fake_github.issue_list()), len(fake_pagerduty.incidents), len(fake_slack.messages))
    assert snapshot == (len(alerts), len(paging), len(chat)) and len(alerts) >= 8
    # Sent once, counted at the wire. The fakes fold a re-send into what exists (PagerDuty merges by dedup
    # key, the GitHub output finds its issue again), so the counts above would not show six dispatches each
    # re-sending every alert; the requests received per alert do.
    assert [fake_github.writes_for(a.key) for a in alerts] == [1] * len(alerts)
    assert [fake_pagerduty.received_for(a.key) for a in paging] == [1] * len(paging)
    assert [fake_slack.received_for(a.key) for a in chat] == [1] * len(chat)
    wire = (fake_github.received(), +fake_pagerduty.received, +fake_slack.received)
    ledger_after_one_run = ledger.dump()

    run(run_ends)
    run(run_ends)
    run(run_ends[2:4])  # a backfill over part of the range
    assert (
        len(fake_github.issue_list()),
        len(fake_pagerduty.incidents),
        len(fake_slack.messages),
    ) == snapshot
    assert all(not fake_github.comment_list(i["number"]) for i in fake_github.issue_list())
    assert ledger.dump() == ledger_after_one_run
    assert all(len(fake_pagerduty.incidents_for(a.key)) == 1 for a in paging)
    # Nothing was due, so nothing went out: not one more request to any of the three services.
    assert (fake_github.received(), +fake_pagerduty.received, +fake_slack.received) == wire
