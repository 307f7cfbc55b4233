"""The signed webhook output over real HTTP against a receiver that verifies signatures (fake_webhook.py):
delivery, the signature, retries on 429 (Retry-After) and 5xx, no duplicate across re-runs and crashes (the
receiver deduplicates by the alert key), secrets kept out of errors, hostile log values inert, and the link
to the alert's ticket when there is one."""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fake_webhook import SECRET, FakeWebhook, fake_webhook  # noqa: F401 - the fixture, requested by name

from mamori import detect
from mamori.alerts.alert import Alert
from mamori.alerts.ledger import Ledger
from mamori.alerts.outputs.base import DeliveryError
from mamori.alerts.outputs.webhook import WebhookOutput
from mamori.detections.dedup import group_hits
from mamori.detections.loader import Detection, get_detection

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 1, 10, tzinfo=UTC)
HOSTILE = '</script><script>alert(1)</script>"},"severity":"info","x":{"y":"\n@channel <!here> \u202eevil\x00'


def make_alert(value: str = "alice", key: str = "a" * 32) -> Alert:
    return Alert(
        key=key,
        detection_id="cloudtrail_root_activity",
        title="Root account activity",
        severity="high",
        status="open",
        log_source="cloudtrail",
        dedup_values={"account_id": "111122223333", "actor": value},
        bucket_start="2026-11-01T10:00:00+00:00",
        bucket_end="2026-11-01T11:00:00+00:00",
        first_seen="2026-11-01T10:01:00+00:00",
        last_seen="2026-11-01T10:02:00+00:00",
        hit_count=3,
        samples=[{"actor": value}],
        routes=["webhook"],
    )


@pytest.fixture(scope="module")
def det() -> Detection:
    return get_detection(REPO / "sql", "cloudtrail_root_activity")


def connect(monkeypatch, fake: FakeWebhook, secret: str = SECRET) -> None:
    """The `mamori_webhook` connection as an operator writes it in .env, pointing at the fake."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_MAMORI_WEBHOOK", json.dumps({"conn_type": "http", "host": fake.url, "password": secret})
    )


@pytest.fixture
def hook(monkeypatch, settings, fake_webhook):  # noqa: F811
    connect(monkeypatch, fake_webhook)
    out = WebhookOutput(settings)
    out.retry_base_delay = 0.01
    return fake_webhook, out


def test_delivery_is_signed_and_the_receiver_verifies_it(hook, det):
    fake, out = hook
    a = make_alert()
    assert WebhookOutput.configured(out.settings)
    assert out.deliver(a, det, None) == f"webhook:{a.key}"
    assert fake.requests == 1 and fake.verified == 1 and fake.rejected == []
    doc = fake.deliveries[a.key]
    assert doc["alert_key"] == a.key and doc["severity"] == "high" and doc["hit_count"] == 3
    assert doc["dedup_values"] == {"account_id": "111122223333", "actor": "alice"}
    assert doc["title"] == "Root account activity" and doc["mitre"] == list(det.header.mitre)
    assert "ticket" not in doc  # no ticket given, no link invented
    headers = {k.lower(): v for k, v in fake.headers[a.key].items()}
    assert headers["idempotency-key"] == a.key and headers["x-mamori-signature"].startswith("v1=")
    # A later hit of the same alert posts nothing: the receiver would drop the same key anyway.
    assert out.deliver(a, det, f"webhook:{a.key}") == f"webhook:{a.key}" and fake.requests == 1


def test_a_wrong_secret_is_refused_by_the_receiver_and_not_retried(monkeypatch, settings, fake_webhook, det):  # noqa: F811
    connect(monkeypatch, fake_webhook, secret="not-the-receivers-secret")
    out = WebhookOutput(settings)
    out.retry_base_delay = 0.01
    with pytest.raises(DeliveryError, match=r"HTTP 401 \(not retried\)") as exc:
        out.deliver(make_alert(), det, None)
    assert fake_webhook.rejected == ["bad signature"] and fake_webhook.requests == 1
    assert fake_webhook.deliveries == {}
    assert "not-the-receivers-secret" not in str(exc.value)


def test_429_waits_for_retry_after_then_delivers(hook, det):
    fake, out = hook
    fake.retry_after = 1
    fake.fail_next(1, "429")
    started = time.monotonic()
    out.deliver(make_alert(), det, None)
    assert time.monotonic() - started >= 1.0  # the server's 1 s, not the 0.01 s backoff
    assert fake.requests == 2 and len(fake.deliveries) == 1 and fake.verified == 1


def test_5xx_is_retried_until_it_succeeds(hook, det):
    fake, out = hook
    fake.fail_next(2, "503")
    out.deliver(make_alert(), det, None)
    assert fake.requests == 3 and len(fake.deliveries) == 1


def test_a_receiver_that_keeps_failing_gives_up_with_a_redacted_error(hook, det):
    fake, out = hook
    fake.fail_next(4, "503")
    with pytest.raises(DeliveryError, match="gave up after 4 attempts"):
        out.deliver(make_alert(), det, None)
    assert fake.requests == 4 and fake.deliveries == {}


def test_an_error_quoting_the_request_reveals_neither_url_token_nor_secret(hook, det):
    fake, out = hook
    fake.fail_next(1, "echo")  # a 400 whose body quotes the request's path (with its token)
    with pytest.raises(DeliveryError) as exc:
        out.deliver(make_alert(), det, None)
    message = str(exc.value)
    assert "HTTP 400" in message and "T0KEN" not in message and SECRET not in message
    assert exc.value.__cause__ is None  # no chained exception carrying the request


def test_a_hostile_log_value_arrives_inert(hook, det):
    fake, out = hook
    a = make_alert(HOSTILE)
    out.deliver(a, det, None)
    raw, doc = fake.raw[a.key], fake.deliveries[a.key]
    # The value stayed one JSON string: nothing it contains became a field or changed one.
    assert doc["severity"] == "high" and set(doc["dedup_values"]) == {"account_id", "actor"}
    actor = doc["dedup_values"]["actor"]
    assert "\n" not in actor and "\x00" not in actor and "\u202e" not in actor  # shown, not obeyed
    assert "\\n" in actor and "\\u202e" in actor
    assert "</script>" in actor  # the receiver gets the text as text ...
    assert b"<" not in raw and b">" not in raw and b"&" not in raw  # ... and no markup on the wire


# --- through the dispatcher ------------------------------------------------------------------------------


def hit(minute: int, actor: str) -> dict:
    return {
        "event_time": T0 + timedelta(minutes=minute),
        "account_id": "111111111111",
        "actor": actor,
        "principal": actor,
        "source_ip": "198.51.100.23",
        "event_name": "StopLogging",
    }


def routed(outputs: list[str]) -> Detection:
    det = get_detection(REPO / "sql", "cloudtrail_trail_stopped_or_changed")
    return dataclasses.replace(det, header=det.header.model_copy(update={"outputs": outputs}))


def test_no_duplicate_across_reruns_recurrences_and_a_crash(monkeypatch, settings, fake_webhook):  # noqa: F811
    for conn in ("GITHUB", "PAGERDUTY", "SLACK"):
        monkeypatch.delenv(f"AIRFLOW_CONN_MAMORI_{conn}", raising=False)
    connect(monkeypatch, fake_webhook)
    det = routed(["webhook"])
    ledger = Ledger(settings.ledger_url)
    ledger.record_window(det, T0, T0 + timedelta(hours=1), group_hits(det, [hit(1, "alice"), hit(2, "bob")]))

    # The worker dies after the receiver accepted the first alert and before the ledger recorded it.
    real = Ledger.mark_delivered
    victim: list[str] = []

    def crash(self, key, output, ref, hits, owner=None):
        if not victim:
            victim.append(key)
            raise SystemExit("worker killed after the webhook call, before the ledger write")
        return real(self, key, output, ref, hits, owner)

    monkeypatch.setattr(Ledger, "mark_delivered", crash)
    with pytest.raises(SystemExit):
        detect.dispatch(settings)
    monkeypatch.setattr(Ledger, "mark_delivered", real)
    for _ in range(2):
        detect.dispatch(settings)
    ledger.record_window(
        det, T0 + timedelta(minutes=30), T0 + timedelta(minutes=40), group_hits(det, [hit(31, "alice")])
    )
    detect.dispatch(settings)

    keys = {a.key for a in ledger.alerts()}
    assert len(keys) == 2 and set(fake_webhook.deliveries) == keys
    assert all(d["state"] == "delivered" for d in ledger.deliveries())
    # Sent again only for the crashed alert, with the same key, and dropped by the receiver.
    assert {k: fake_webhook.received[k] for k in keys} == {k: 2 if k in victim else 1 for k in keys}
    assert fake_webhook.duplicates == 1


def test_the_notification_links_to_the_ticket_delivered_first(
    monkeypatch,
    settings,
    output_connections,
    fake_webhook,  # noqa: F811 - the fixture imported above, requested by name
):
    fake_github = output_connections[0]
    connect(monkeypatch, fake_webhook)
    det = routed(["github", "webhook"])
    ledger = Ledger(settings.ledger_url)
    ledger.record_window(det, T0, T0 + timedelta(hours=1), group_hits(det, [hit(1, "alice")]))
    detect.dispatch(settings)
    [issue] = fake_github.issue_list()
    [doc] = fake_webhook.deliveries.values()
    assert doc["ticket"] == issue["html_url"]
