"""A health alert goes out like any other, with its definition's runbook and no SQL to reproduce."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from mamori import detect
from mamori.quality.alerts import candidate, health_detection, record


def test_health_alert_ticket_carries_the_definition_runbook(settings):
    det = health_detection(settings.sql_dir, "mamori_health_silence")
    onset = datetime(2026, 11, 1, 5, tzinfo=UTC)
    c = candidate(
        det,
        {"source": "cloudtrail", "account_id": "111111111111", "region": "us-east-1"},
        onset,
        1,
        onset,
        onset + timedelta(hours=2),
        [{"source": "cloudtrail", "account_id": "111111111111", "region": "us-east-1", "silent_hours": 2}],
    )
    (key,) = record(det.id, onset + timedelta(hours=1), onset + timedelta(hours=2), [c], settings)
    detect.dispatch(settings)
    ticket = Path(settings.outbox_url.removeprefix("file://")) / "tickets" / det.id / f"{key}.md"
    text = ticket.read_text()
    assert det.header.title in text
    assert "Check the context: a tamper alert" in text  # from sql/health/mamori_health_silence.yaml
    assert "Reproduce in Athena" not in text
