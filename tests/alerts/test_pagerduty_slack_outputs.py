"""PagerDuty and Slack outputs over real HTTP against local fakes: one incident per alert however often it
is sent, the retry policy (429 + Retry-After, 5xx, timeouts, give-up, no retry on 400/404), inert and
bounded text for hostile log values, and no secret in exceptions or logs."""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path

import pytest
from fake_pagerduty_slack import FakePagerDuty, FakeSlack

from mamori.alerts.ledger import Alert
from mamori.alerts.outputs.base import DeliveryError, TransientError, retry_after_seconds, with_retries
from mamori.alerts.outputs.pagerduty import MAX_SUMMARY, PagerDutyOutput
from mamori.alerts.outputs.slack import MAX_MESSAGE, SlackOutput
from mamori.detections.loader import Detection, get_detection

REPO = Path(__file__).resolve().parents[2]
ROUTING_KEY = "R0UT1NGKEYdeadbeefcafe0123456789"  # 32 characters, like a real integration key
SLACK_TOKEN_PATH = "/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"
HOSTILE = [
    "@org/team",
    "<!channel>",
    "<@U123ABC>",
    "@here",
    "@channel @everyone",
    "<http://evil|click me>",
    "[x](http://evil)",
    "<img src=x>",
    "| table | break |",
    "`code` ``x`` *bold* _it_ ~s~",
    "a\u202eb\u200bc\x00d",
    "line\nbreak\r\n",
    "&lt;!channel&gt;",
    "x" * 100_000,
]


def make_alert(value: str = "alice", *, status: str = "open", key: str = "a" * 32) -> Alert:
    return Alert(
        key=key,
        detection_id="cloudtrail_root_activity",
        title="Root account activity",
        severity="high",
        status=status,
        log_source="cloudtrail",
        dedup_values={"account_id": "111122223333", "actor": value},
        bucket_start="2026-11-01T10:00:00+00:00",
        bucket_end="2026-11-01T11:00:00+00:00",
        first_seen="2026-11-01T10:01:00+00:00",
        last_seen="2026-11-01T10:02:00+00:00",
        hit_count=3,
        samples=[{"actor": value, "source_ip": value, "event_name": "ConsoleLogin", "user_agent": value}],
        routes=["pagerduty", "slack"],
    )


@pytest.fixture(scope="module")
def det() -> Detection:
    return get_detection(REPO / "sql", "cloudtrail_root_activity")


@pytest.fixture
def pd(monkeypatch, settings):
    """A started fake PagerDuty, the connection pointing at it, and an output with fast retries."""
    with FakePagerDuty() as fake:
        fake.hold_seconds = 1.0
        monkeypatch.setenv(
            "AIRFLOW_CONN_MAMORI_PAGERDUTY",
            json.dumps({"conn_type": "pagerduty_events", "password": ROUTING_KEY, "host": fake.url}),
        )
        out = PagerDutyOutput(settings)
        out.timeout = 0.3
        out.retry_base_delay = 0.01
        yield fake, out


@pytest.fixture
def slack(monkeypatch, settings):
    with FakeSlack() as fake:
        fake.webhook_path = SLACK_TOKEN_PATH
        fake.hold_seconds = 2.0
        monkeypatch.setenv(
            "AIRFLOW_CONN_MAMORI_SLACK",
            json.dumps({"conn_type": "slackwebhook", "password": fake.webhook_url}),
        )
        out = SlackOutput(settings)
        out.timeout = 1
        out.retry_base_delay = 0.01
        yield fake, out


def outside_code(text: str) -> str:
    """Slack text outside inline code spans (content never holds a backtick, so spans pair up)."""
    assert text.count("`") % 2 == 0, "an unclosed code span would let content out"
    return "".join(text.split("`")[0::2])


def code_spans(text: str) -> list[str]:
    return text.split("`")[1::2]


# --- configured() ------------------------------------------------------------------------------------


def test_configured_follows_the_connections(monkeypatch, settings):
    monkeypatch.delenv("AIRFLOW_CONN_MAMORI_PAGERDUTY", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_MAMORI_SLACK", raising=False)
    assert not PagerDutyOutput.configured(settings)
    assert not SlackOutput.configured(settings)
    monkeypatch.setenv(
        "AIRFLOW_CONN_MAMORI_PAGERDUTY",
        json.dumps({"conn_type": "pagerduty_events", "password": ROUTING_KEY}),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_MAMORI_SLACK",
        json.dumps({"conn_type": "slackwebhook", "password": "https://hooks.slack.com/services/T/B/X"}),
    )
    assert PagerDutyOutput.configured(settings)
    assert SlackOutput.configured(settings)


# --- the shared retry policy ------------------------------------------------------------------------


def test_retry_policy_backoff_retry_after_cap_and_final_errors():
    slept: list[float] = []
    calls = iter(
        [TransientError("502"), TransientError("429", retry_after=120), TransientError("timeout"), "done"]
    )

    def send() -> str:
        r = next(calls)
        if isinstance(r, Exception):
            raise r
        return r

    assert with_retries(send, what="t", base_delay=1.0, sleep=slept.append) == "done"
    assert slept == [1.0, 60.0, 4.0]  # doubling backoff; Retry-After wins but is capped at 60 s
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0 and retry_after_seconds("x") is None

    def final() -> str:
        raise DeliveryError("400")

    slept.clear()
    with pytest.raises(DeliveryError, match="400"):
        with_retries(final, what="t", sleep=slept.append)
    assert slept == []


# --- PagerDuty ---------------------------------------------------------------------------------------


def test_trigger_opens_one_incident_with_the_mapped_event(pd, det):
    fake, out = pd
    a = make_alert()
    assert out.deliver(a, det, None, ticket_url="https://github.com/acme/alerts/issues/7") == a.key
    assert len(fake.incidents) == 1 and fake.incidents[0].state == "triggered"
    (ev,) = fake.events
    assert ev["routing_key"] == ROUTING_KEY
    assert ev["event_action"] == "trigger" and ev["dedup_key"] == a.key
    p = ev["payload"]
    assert p["severity"] == "error"  # high → error
    assert p["summary"].startswith("[HIGH] Root account activity: account_id=111122223333")
    assert p["source"] == "aws:111122223333"
    assert p["timestamp"] == a.first_seen
    assert p["component"] == "cloudtrail_root_activity" and p["group"] == "cloudtrail"
    assert p["class"] == "TA0004"
    cd = p["custom_details"]
    assert cd["hit_count"] == 3 and cd["dedup_values"] == {"account_id": "111122223333", "actor": "alice"}
    assert cd["first_seen"] == a.first_seen and cd["last_seen"] == a.last_seen
    assert cd["runbook"].startswith("1. Ask the account owner")
    assert cd["ticket"] == "https://github.com/acme/alerts/issues/7"
    assert ev["links"] == [{"href": "https://github.com/acme/alerts/issues/7", "text": "ticket"}]


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [("critical", "critical"), ("high", "error"), ("medium", "warning"), ("low", "info"), ("info", "info")],
)
def test_severity_mapping(pd, ours, theirs):
    fake, out = pd
    a = make_alert()
    a = Alert(**{**a.__dict__, "severity": ours})
    out.deliver(a, None, None)  # no detection: still a valid event, without class/runbook
    p = fake.events[-1]["payload"]
    assert p["severity"] == theirs and "class" not in p and "runbook" not in p["custom_details"]


def test_redelivery_and_lost_response_stay_one_incident(pd, det):
    fake, out = pd
    a = make_alert()
    fake.fail_next(1, "lost_response")  # PagerDuty processed it, the client never heard back
    out.deliver(a, det, None)  # ... so it retries
    out.deliver(a, det, a.key)  # the dispatcher crashed before recording, and sends again next run
    assert len(fake.incidents) == 1
    assert len(fake.events) == 3 and fake.requests == 3
    assert {e["dedup_key"] for e in fake.events} == {a.key}


def test_resolve_closes_the_incident_and_a_closed_alert_is_not_reopened(pd, det):
    fake, out = pd
    a = make_alert()
    out.deliver(a, det, None)
    out.resolve(a.key)
    out.resolve(a.key)  # idempotent
    assert [i.state for i in fake.incidents] == ["resolved"]
    assert fake.events[-1] == {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": a.key}
    # The ledger closed the alert; a late (re)delivery must not trigger a fresh incident.
    assert out.deliver(make_alert(status="resolved"), det, a.key) == a.key
    assert len(fake.incidents) == 1 and fake.incidents[0].state == "resolved"


def test_429_honours_retry_after(pd, det):
    fake, out = pd
    fake.fail_next(1, "429")
    t0 = time.monotonic()
    out.deliver(make_alert(), det, None)
    assert time.monotonic() - t0 >= 1.0  # Retry-After: 1, not the 0.01 s backoff
    assert fake.requests == 2 and len(fake.incidents) == 1


@pytest.mark.parametrize("mode", ["502", "timeout"])
def test_transient_failure_then_success(pd, det, mode):
    fake, out = pd
    fake.fail_next(1, mode)
    out.deliver(make_alert(), det, None)
    assert fake.requests == 2 and len(fake.events) == 1 and len(fake.incidents) == 1


def test_persistent_502_gives_up_after_four_attempts(pd, det):
    fake, out = pd
    fake.fail_next(10, "502")
    with pytest.raises(DeliveryError, match="gave up after 4 attempts"):
        out.deliver(make_alert(), det, None)
    assert fake.requests == 4 and not fake.incidents


def test_invalid_event_is_not_retried_and_the_key_is_not_leaked(pd, det, monkeypatch, caplog):
    fake, out = pd
    bad_key = "not-a-valid-but-secret-routing-key-0123456789"
    monkeypatch.setenv(
        "AIRFLOW_CONN_MAMORI_PAGERDUTY",
        json.dumps({"conn_type": "pagerduty_events", "password": bad_key, "host": fake.url}),
    )
    caplog.set_level(logging.DEBUG)
    with pytest.raises(DeliveryError, match=r"invalid \(400, not retried\).*routing_key") as exc:
        out.deliver(make_alert(), det, None)
    assert fake.requests == 1
    assert bad_key not in str(exc.value) and bad_key not in caplog.text


def test_no_routing_key_in_errors_or_logs(pd, det, caplog, capfd):
    fake, out = pd
    caplog.set_level(logging.DEBUG)
    fake.fail_next(1, "timeout")
    fake.fail_next(1, "429")
    out.deliver(make_alert(), det, None)
    fake.fail_next(4, "502")
    with pytest.raises(DeliveryError) as exc:
        out.resolve("b" * 32)
    assert "attempt" in caplog.text  # the retries were logged ...
    assert ROUTING_KEY not in caplog.text and ROUTING_KEY not in str(exc.value)  # ... without the key
    assert ROUTING_KEY not in "".join(capfd.readouterr())  # nor on stdout/stderr (structlog, warnings)


def test_hostile_values_are_plain_and_bounded_in_pagerduty(pd, det):
    fake, out = pd
    for i, v in enumerate(HOSTILE):
        out.deliver(make_alert(v, key=f"{i:032d}"), det, None)
    assert len(fake.incidents) == len(HOSTILE)
    for ev in fake.events:
        p = ev["payload"]
        assert len(p["summary"]) <= MAX_SUMMARY
        for text in (p["summary"], p["source"], *p["custom_details"]["dedup_values"].values()):
            assert not re.search(r"[\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]", text)
            assert len(text) < 1200
        assert len(json.dumps(ev)) < 16_000  # far below PagerDuty's 512 KB event limit
    rtl = next(e for e in fake.events if "a\\u202eb" in e["payload"]["summary"])
    assert "\\u200bc\\u0000d" in rtl["payload"]["custom_details"]["dedup_values"]["actor"]


# --- Slack -------------------------------------------------------------------------------------------


def test_slack_posts_once_per_alert(slack, det):
    fake, out = slack
    a = make_alert()
    ref = out.deliver(a, det, None, ticket_url="https://github.com/acme/alerts/issues/7")
    assert ref == f"slack:{a.key}"
    (msg,) = fake.messages
    assert msg["unfurl_links"] is False and msg["unfurl_media"] is False
    text = msg["text"]
    assert text.startswith("*[HIGH] Root account activity*")
    assert "`actor`: `alice`" in text and "hits *3*" in text
    assert "<https://github.com/acme/alerts/issues/7|open the ticket>" in text
    # Incoming webhooks cannot edit or thread: a known alert gets no second message.
    assert out.deliver(make_alert(), det, ref) == ref
    assert len(fake.messages) == 1 and fake.requests == 1


def test_slack_429_honours_retry_after(slack, det):
    fake, out = slack
    fake.fail_next(1, "429")
    t0 = time.monotonic()
    out.deliver(make_alert(), det, None)
    assert time.monotonic() - t0 >= 1.0
    assert fake.requests == 2 and len(fake.messages) == 1


@pytest.mark.parametrize("mode", ["502", "timeout"])
def test_slack_transient_failure_then_success(slack, det, mode):
    fake, out = slack
    fake.fail_next(1, mode)
    out.deliver(make_alert(), det, None)
    assert fake.requests == 2 and len(fake.messages) == 1


def test_slack_lost_response_duplicates_at_most_once(slack, det):
    """Documented limit: Slack has no idempotency key, so a response lost after Slack posted means a copy."""
    fake, out = slack
    fake.fail_next(1, "lost_response")
    out.deliver(make_alert(), det, None)
    assert len(fake.messages) == 2 and fake.messages[0] == fake.messages[1]


def test_slack_persistent_502_gives_up_after_four_attempts(slack, det):
    fake, out = slack
    fake.fail_next(10, "502")
    with pytest.raises(DeliveryError, match="gave up after 4 attempts"):
        out.deliver(make_alert(), det, None)
    assert fake.requests == 4 and not fake.messages


def test_slack_404_is_not_retried_and_the_url_is_not_leaked(slack, det, monkeypatch, caplog):
    fake, out = slack
    wrong = fake.url + "/services/T000/B000/WRONGSECRETTOKEN0000"
    monkeypatch.setenv(
        "AIRFLOW_CONN_MAMORI_SLACK", json.dumps({"conn_type": "slackwebhook", "password": wrong})
    )
    caplog.set_level(logging.DEBUG)
    with pytest.raises(DeliveryError, match=r"HTTP 404, not retried\): no_service") as exc:
        out.deliver(make_alert(), det, None)
    assert fake.requests == 1
    for leak in (wrong, "WRONGSECRETTOKEN0000"):
        assert leak not in str(exc.value) and leak not in caplog.text


def test_slack_url_not_in_logs_across_retries(slack, det, caplog, capfd):
    fake, out = slack
    # slack_sdk logs the URL when its logger's own level is <= DEBUG; Airflow 3's hook logger is a structlog
    # proxy at the deployment's level (so DEBUG in some), invisible to caplog: pin the guard directly.
    assert out._client().logger.level > logging.CRITICAL
    caplog.set_level(logging.DEBUG)
    fake.fail_next(1, "502")
    fake.fail_next(1, "timeout")
    out.deliver(make_alert(), det, None)
    fake.fail_next(4, "502")
    with pytest.raises(DeliveryError) as exc:
        out.deliver(make_alert(key="c" * 32), det, None)
    assert "attempt" in caplog.text
    printed = "".join(capfd.readouterr())
    for leak in (fake.webhook_url, "XXXXXXXXXXXXXXXXXXXXXXXX"):
        assert leak not in caplog.text and leak not in str(exc.value) and leak not in printed


def test_hostile_values_are_inert_and_bounded_in_slack(slack, det):
    fake, out = slack
    for i, v in enumerate(HOSTILE):
        out.deliver(make_alert(v, key=f"{i:032d}"), det, None)
    assert len(fake.messages) == len(HOSTILE)
    for msg in fake.messages:
        text = msg["text"]
        assert len(text) <= MAX_MESSAGE
        assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]", text)
        # Slack's control sequences and entities: only escaped forms, and no raw < or > at all.
        assert "<" not in text and ">" not in text
        assert not re.search(r"&(?!amp;|lt;|gt;)", text)
        outside = outside_code(text)
        for bad in ("@", "http://evil", "](", "<img", "| table"):
            assert bad not in outside, (bad, outside)
        for span in code_spans(text):
            assert "\n" not in span  # an escaped line break, not a new line
    by_value = {v: m["text"] for v, m in zip(HOSTILE, fake.messages, strict=True)}
    assert "`&lt;!channel&gt;`" in by_value["<!channel>"]
    assert "`&amp;lt;!channel&amp;gt;`" in by_value["&lt;!channel&gt;"]  # pre-escaped input stays literal
    assert "`a\\u202eb\\u200bc\\u0000d`" in by_value["a\u202eb\u200bc\x00d"]
    assert "\\u0060code\\u0060" in by_value["`code` ``x`` *bold* _it_ ~s~"]
    assert "…[+" in by_value["x" * 100_000]  # bounded visibly
