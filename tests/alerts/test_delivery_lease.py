"""The ledger's delivery lease, step by step on one SQLite ledger (the multi-process proof, on SQLite and
PostgreSQL, is tests/alerts/test_dispatch_concurrency.py): one claimant at a time, a loser learns who holds
the delivery, an expired lease can be taken over, and a dispatcher that lost its lease cannot overwrite the
newer holder's outcome."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mamori.alerts.ledger import Ledger
from mamori.detections.dedup import group_hits
from mamori.detections.loader import get_detection

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 1, 10, tzinfo=UTC)
LEASE = timedelta(minutes=15)


@pytest.fixture
def ledger(settings) -> tuple[Ledger, str]:
    det = get_detection(REPO / "sql", "cloudtrail_trail_stopped_or_changed")
    ledger = Ledger(settings.ledger_url)
    hit = {
        "event_time": T0 + timedelta(minutes=1),
        "account_id": "111111111111",
        "actor": "alice",
        "principal": "alice",
        "source_ip": "198.51.100.23",
        "event_name": "StopLogging",
    }
    [key] = ledger.record_window(det, T0, T0 + timedelta(hours=1), group_hits(det, [hit]))
    ledger.ensure_delivery(key, "github")
    ledger.ensure_delivery(key, "github")  # again (a second dispatcher): no duplicate, no error
    return ledger, key


def row(ledger: Ledger, key: str) -> dict:
    [r] = [d for d in ledger.deliveries() if d["alert_key"] == key and d["output"] == "github"]
    return r


def test_one_claimant_at_a_time_and_the_loser_learns_who_holds_it(ledger):
    ledger, key = ledger
    won = ledger.claim(key, "github", "host:a:1", LEASE)
    assert won.delivery is not None and won.delivery.alert.key == key and won.delivery.previous_ref is None
    lost = ledger.claim(key, "github", "host:b:2", LEASE)
    assert lost.delivery is None and lost.held_by == "host:a:1"

    ledger.mark_delivered(key, "github", "https://github.example/acme/sec/issues/1", 1, "host:a:1")
    assert row(ledger, key)["lease_owner"] is None and row(ledger, key)["lease_until"] is None
    done = ledger.claim(key, "github", "host:b:2", LEASE)
    assert done.delivery is None and done.held_by is None  # nothing left to do, nobody holds it


def test_an_expired_lease_is_taken_over_and_the_late_holder_cannot_undo_the_new_outcome(ledger):
    ledger, key = ledger
    assert ledger.claim(key, "github", "host:a:1", timedelta(milliseconds=1)).delivery is not None
    time.sleep(0.01)  # dispatcher a is stuck (or dead) past its lease
    taken = ledger.claim(key, "github", "host:b:2", LEASE)
    assert taken.delivery is not None and row(ledger, key)["lease_owner"] == "host:b:2"

    # a wakes up and fails: not recorded, b's live lease stays.
    assert ledger.mark_failed(key, "github", "TimeoutError", owner="host:a:1") == 0
    assert row(ledger, key)["state"] == "pending" and row(ledger, key)["lease_owner"] == "host:b:2"
    ledger.mark_delivered(key, "github", "https://github.example/acme/sec/issues/1", 1, "host:b:2")
    # a late failure after b's success cannot turn it back into "failed" (which would send it again).
    ledger.mark_failed(key, "github", "TimeoutError", owner="host:a:1")
    assert row(ledger, key)["state"] == "delivered" and row(ledger, key)["failures"] == 0


def test_a_failure_ends_the_lease_and_backs_off_and_release_hands_a_delivery_back(ledger):
    ledger, key = ledger
    now = datetime.now(UTC)
    assert ledger.claim(key, "github", "host:a:1", LEASE, now).delivery is not None
    assert ledger.mark_failed(key, "github", "HTTP 502", now, owner="host:a:1") == 1
    r = row(ledger, key)
    assert (r["state"], r["failures"], r["lease_owner"]) == ("failed", 1, None)
    assert r["failing_since"] and r["next_attempt_at"] > now.isoformat()
    later = now + timedelta(hours=2)  # past the backoff
    assert ledger.claim(key, "github", "host:a:1", LEASE, now).delivery is None  # still backing off
    assert ledger.claim(key, "github", "host:b:2", LEASE, later).delivery is not None
    ledger.release(key, "github", "host:a:1")  # not a's: nothing happens
    assert row(ledger, key)["lease_owner"] == "host:b:2"
    ledger.release(key, "github", "host:b:2")
    claimed = ledger.claim(key, "github", "host:c:3", LEASE, later).delivery
    assert claimed is not None and claimed.failures == 1


def test_the_lease_length_is_a_setting_and_a_bad_value_names_the_variable():
    from mamori.config import load_settings

    assert load_settings({}).delivery_lease == timedelta(minutes=15)
    assert load_settings({"MAMORI_DELIVERY_LEASE_SECONDS": "90"}).delivery_lease == timedelta(seconds=90)
    for bad in ("0", "-5", "ten"):
        with pytest.raises(ValueError, match="MAMORI_DELIVERY_LEASE_SECONDS"):
            load_settings({"MAMORI_DELIVERY_LEASE_SECONDS": bad})
