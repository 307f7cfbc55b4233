"""Alert identity, the ledger's idempotency, thresholds across windows, and exactly-once dispatch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from mamori import detect
from mamori.alerts.ledger import Ledger
from mamori.detections.dedup import alert_key, bucket_start, group_hits
from mamori.detections.loader import get_detection

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 1, 10, tzinfo=UTC)


def hit(minute: int, actor: str = "alice", account: str = "111111111111") -> dict:
    return {
        "event_time": T0 + timedelta(minutes=minute),
        "account_id": account,
        "actor": actor,
        "source_ip": "198.51.100.23",
        "event_name": "ConsoleLogin",
    }


@pytest.fixture
def brute():  # threshold 5 per (account, actor) per aligned 15 minutes
    return get_detection(REPO / "sql", "cloudtrail_console_login_brute_force")


KEY_INPUT = ("cloudtrail_console_login_brute_force", ["111111111111", "alice", "198.51.100.23"], T0)


def test_alert_key_is_stable_and_separates_dedup_windows():
    k = alert_key(*KEY_INPUT)
    # Pinned across releases: a changed key function would re-open every open alert as a new ticket.
    assert k == "0c68db657e3561bf59eda35e35002c54"
    tokyo = T0.astimezone(timezone(timedelta(hours=9)))
    assert alert_key(KEY_INPUT[0], KEY_INPUT[1], tokyo) == k  # the same instant, another offset
    assert bucket_start(T0 + timedelta(minutes=29, seconds=59), timedelta(minutes=15)) == T0 + timedelta(
        minutes=15
    )


@pytest.mark.parametrize(
    "component",
    ["detection id", "dedup value 0", "dedup value 1", "dedup value 2", "dedup window start"],
)
def test_alert_key_changes_when_any_one_component_changes(component):
    """Each part of the identity (detection id, every dedup value, the dedup window start) is in the key:
    two alerts differing in one of them only must never share a ticket, page or message."""
    detection, values, start = KEY_INPUT[0], list(KEY_INPUT[1]), KEY_INPUT[2]
    if component == "detection id":
        detection = "cloudtrail_root_activity"
    elif component.startswith("dedup value"):
        i = int(component.rsplit(" ", 1)[1])
        values[i] = {0: "222222222222", 1: "bob", 2: "203.0.113.7"}[i]
    else:
        start = T0 + timedelta(minutes=15)
    assert alert_key(detection, values, start) != alert_key(*KEY_INPUT), component


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (["alice", "bob"], ["bob", "alice"]),  # values are positional
        (["ab", "c"], ["a", "bc"]),  # no concatenation ambiguity
        (["a,b"], ["a", "b"]),
        (["a", None], ["a"]),  # a missing value is still a value
    ],
)
def test_alert_key_does_not_confuse_dedup_value_lists(a, b):
    assert alert_key("d", a, T0) != alert_key("d", b, T0)


def test_grouped_hits_split_on_every_dedup_column_and_only_those(brute):
    """Through group_hits: a hit differing in one dedup column is another alert; in another column, the same."""
    base = hit(1)
    assert list(brute.header.dedup.keys) == ["account_id", "actor"]
    other = {"account_id": "222222222222", "actor": "bob", "source_ip": "203.0.113.7", "event_name": "X"}
    for column, value in other.items():
        keys = {c.key for c in group_hits(brute, [base, base | {column: value}])}
        assert len(keys) == (2 if column in brute.header.dedup.keys else 1), column


def test_threshold_and_aligned_buckets(brute):
    groups = group_hits(brute, [hit(m) for m in (1, 2, 3, 4, 16)] + [hit(5, actor="bob")])
    by = {(g.dedup_values["actor"], g.bucket_start.minute): g.hits for g in groups}
    assert by == {("alice", 0): 4, ("bob", 0): 1, ("alice", 15): 1}


def test_rerunning_a_window_changes_nothing(settings, brute):
    ledger = Ledger(settings.ledger_url)
    hits = [hit(m) for m in range(1, 7)]
    fired = ledger.record_window(brute, T0, T0 + timedelta(hours=1), group_hits(brute, hits))
    assert len(fired) == 1
    before = ledger.dump()
    assert ledger.record_window(brute, T0, T0 + timedelta(hours=1), group_hits(brute, hits)) == fired
    assert ledger.dump() == before
    assert before["alerts"][0]["hit_count"] == 6


def test_threshold_crossed_across_two_run_windows(settings, brute):
    """3 failures at 10:58-10:59 and 3 at 11:00-11:01 are 6 in two buckets: no alert. 5 in one bucket split
    across runs (a 30-minute run window) add up."""
    ledger = Ledger(settings.ledger_url)
    half = timedelta(minutes=30)
    first = [hit(m) for m in (31, 32, 33)]
    second = [hit(m) for m in (34, 35)]
    assert ledger.record_window(brute, T0, T0 + half, group_hits(brute, first)) == []
    # A 30-minute run window that ends mid-bucket: the same bucket continues in the next run.
    fired = ledger.record_window(brute, T0 + half, T0 + 2 * half, group_hits(brute, second))
    assert len(fired) == 1
    assert ledger.alerts()[0].hit_count == 5


def test_dispatch_delivers_once_and_retries_failures(settings, brute, monkeypatch):
    ledger = Ledger(settings.ledger_url)
    ledger.record_window(brute, T0, T0 + timedelta(hours=1), group_hits(brute, [hit(m) for m in range(1, 7)]))
    ledger.record_window(
        brute,
        T0,
        T0 + timedelta(hours=1),
        group_hits(brute, [hit(m) for m in range(1, 7)] + [hit(m, "bob") for m in range(1, 7)]),
    )

    from mamori.alerts.outputs.local import LocalOutput

    real = LocalOutput.deliver
    calls: list[str] = []

    def flaky(self, alert, det, previous_ref):
        calls.append((alert.key, previous_ref))
        if alert.dedup_values["actor"] == "bob" and len([c for c in calls if c[0] == alert.key]) == 1:
            raise ConnectionError("outbox unavailable")
        return real(self, alert, det, previous_ref)

    monkeypatch.setattr(LocalOutput, "deliver", flaky)
    # No backoff here (test_delivery_outage covers it): the next run retries at once.
    monkeypatch.setattr("mamori.alerts.ledger.RETRY_FIRST", timedelta(0))
    with pytest.raises(RuntimeError, match="1 deliveries failed"):
        detect.dispatch(settings)
    states = {d["alert_key"]: (d["state"], d["failures"]) for d in ledger.deliveries()}
    assert sorted(states.values()) == [("delivered", 0), ("failed", 1)]

    detect.dispatch(settings)  # the retry delivers bob's alert, and does not touch alice's
    detect.dispatch(settings)  # and a third run sends nothing
    assert len(calls) == 3
    assert {d["state"] for d in ledger.deliveries()} == {"delivered"}
    tickets = sorted((Path(settings.outbox_url.removeprefix("file://")) / "tickets").rglob("*.md"))
    assert len(tickets) == 2
    index = (Path(settings.outbox_url.removeprefix("file://")) / "alerts.jsonl").read_text().splitlines()
    assert len(index) == 2

    # A later window inside the same dedup period adds hits: one update per alert, with the earlier ref.
    later = [hit(11), hit(11, "bob")]
    ledger.record_window(brute, T0 + timedelta(hours=1), T0 + timedelta(hours=2), group_hits(brute, later))
    assert sorted(a.hit_count for a in ledger.alerts()) == [7, 7]
    detect.dispatch(settings)
    updates = calls[3:]
    assert len(updates) == 2 and all(ref and ref.endswith(".md") for _, ref in updates)
    detect.dispatch(settings)
    assert len(calls) == 5


def test_experimental_rules_record_and_ticket_but_never_page(settings):
    import dataclasses

    from mamori.alerts.routing import load_routing

    routing = load_routing(REPO / "sql")  # the severity defaults of sql/routing.yaml
    det = get_detection(REPO / "sql", "cloudtrail_trail_stopped_or_changed")  # high: github+pagerduty+slack
    assert routing.routes_for(det) == ["github", "pagerduty", "slack"]
    trial = dataclasses.replace(det, header=det.header.model_copy(update={"status": "experimental"}))
    assert routing.routes_for(trial) == ["github"]
    ledger = Ledger(settings.ledger_url)
    ledger.record_window(trial, T0, T0 + timedelta(hours=1), group_hits(trial, [hit(1)]))
    assert ledger.alerts()[0].routes == ["github"]


def test_a_fresh_home_gets_its_ledger_folder(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'not' / 'yet' / 'there' / 'ledger.db'}")
    assert ledger.alerts() == [] and (tmp_path / "not" / "yet" / "there" / "ledger.db").exists()
