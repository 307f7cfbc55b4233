"""The dispatcher with GitHub, PagerDuty and Slack connections, over HTTP against the fakes: exactly one
issue, one incident and one message per alert key across repeated runs and recurrences; after a crash
between send and record still one issue and one incident, but a second Slack message (webhooks are
at-least-once); and the lifecycle sync (issue closed → incident resolved, resolution recorded)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fake_github import FakeGitHub
from fake_pagerduty_slack import FakePagerDuty, FakeSlack

from mamori import detect
from mamori.alerts.ledger import Ledger
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
def wired(settings, output_connections):
    fake_github, fake_pagerduty, fake_slack = output_connections
    det = get_detection(REPO / "sql", "cloudtrail_trail_stopped_or_changed")  # high: github+pagerduty+slack
    ledger = Ledger(settings.ledger_url)
    ledger.record_window(det, T0, T0 + timedelta(hours=1), group_hits(det, [hit(1, "alice"), hit(2, "bob")]))
    return settings, ledger, det, fake_github, fake_pagerduty, fake_slack


def counts(gh: FakeGitHub, pd: FakePagerDuty, sl: FakeSlack) -> tuple[int, int, int]:
    return len(gh.issue_list()), len(pd.incidents), len(sl.messages)


def test_repeated_dispatch_and_recurrence_keep_one_ticket_page_and_message(wired):
    settings, ledger, det, gh, pd, sl = wired
    for _ in range(3):
        detect.dispatch(settings)
    assert counts(gh, pd, sl) == (2, 2, 2)
    keys = {a.key for a in ledger.alerts()}
    assert {i.dedup_key for i in pd.incidents} == keys
    # Titles tell the two actors' alerts apart.
    titles = sorted(i["title"] for i in gh.issue_list())
    assert titles[0] != titles[1] and any("alice" in t for t in titles) and any("bob" in t for t in titles)
    # Pages link to their ticket: GitHub is delivered first.
    links = [e["links"][0]["href"] for i in pd.incidents for e in i.events if e.get("links")]
    assert sorted(links) == sorted(i["html_url"] for i in gh.issue_list())

    # Re-running the window changes nothing; a later window in the dedup period is one update per output.
    ledger.record_window(det, T0, T0 + timedelta(hours=1), group_hits(det, [hit(1, "alice"), hit(2, "bob")]))
    detect.dispatch(settings)
    assert counts(gh, pd, sl) == (2, 2, 2)
    assert all(not gh.comment_list(i["number"]) for i in gh.issue_list())
    ledger.record_window(
        det, T0 + timedelta(minutes=30), T0 + timedelta(minutes=40), group_hits(det, [hit(31, "alice")])
    )
    detect.dispatch(settings)
    detect.dispatch(settings)
    assert counts(gh, pd, sl) == (2, 2, 2)
    comments = {i["number"]: len(gh.comment_list(i["number"])) for i in gh.issue_list()}
    assert sorted(comments.values()) == [0, 1]


@pytest.mark.parametrize(
    "crashed",
    [
        pytest.param("github", id="github-found-again-no-duplicate"),
        pytest.param("pagerduty", id="pagerduty-resent-same-dedup-key-no-duplicate"),
        pytest.param("slack", id="slack-at-least-once-posts-again"),
    ],
)
def test_crash_between_send_and_record(wired, monkeypatch, crashed):
    """The worker dies after an output accepted an alert and before the ledger recorded it; later runs deliver
    it again. GitHub finds its issue again (label + marker) and PagerDuty folds the trigger into the open
    incident (dedup_key): one ticket, one incident. A Slack webhook returns no id to find the message by, so
    Slack is at-least-once: the crashed alert's message is posted a second time (never zero, never three)."""
    settings, ledger, _, gh, pd, sl = wired
    real = Ledger.mark_delivered
    victim: list[str] = []

    def crash(self, key, output, ref, hits, owner=None):
        if output == crashed and not victim:
            victim.append(key)
            raise SystemExit(f"worker killed after the {output} call, before the ledger write")
        return real(self, key, output, ref, hits, owner)

    monkeypatch.setattr(Ledger, "mark_delivered", crash)
    with pytest.raises(SystemExit):
        detect.dispatch(settings)
    monkeypatch.setattr(Ledger, "mark_delivered", real)
    detect.dispatch(settings)
    detect.dispatch(settings)

    (key,) = victim
    keys = [a.key for a in ledger.alerts()]
    assert key in keys and len(keys) == 2
    assert all(d["state"] == "delivered" for d in ledger.deliveries())
    assert counts(gh, pd, sl) == (2, 2, 3 if crashed == "slack" else 2)
    assert [len(pd.incidents_for(k)) for k in keys] == [1, 1]
    # Counted at the wire: what each service received per alert.
    sent = {k: (gh.writes_for(k), pd.received_for(k), sl.received_for(k)) for k in keys}
    again = {"github": (1, 1, 1), "pagerduty": (1, 2, 1), "slack": (1, 1, 2)}[crashed]
    assert sent == {k: again if k == key else (1, 1, 1) for k in keys}
    if crashed == "slack":
        posts = [m["text"] for m in sl.messages if key in m["text"]]
        assert len(posts) == 2 and posts[0] == posts[1]  # the same message, twice


def test_closing_the_issue_resolves_the_page_and_records_the_label(wired):
    settings, ledger, _, gh, pd, _ = wired
    detect.dispatch(settings)
    first = gh.issue_list()[0]
    gh.close_issue(first["number"])
    first_issue = next(i for i in gh.issue_list() if i["number"] == first["number"])
    first_issue["labels"].append({"name": "false-positive"})
    result = detect.sync_alerts(settings)
    assert result == {"checked": 2, "resolved": 1, "verdicts": 0}
    resolved = [a for a in ledger.alerts() if a.status == "resolved"]
    assert len(resolved) == 1
    assert [i.state for i in pd.incidents_for(resolved[0].key)] == ["resolved"]
    assert detect.sync_alerts(settings) == {"checked": 1, "resolved": 0, "verdicts": 0}
    with Ledger(settings.ledger_url).engine.connect() as conn:
        row = conn.exec_driver_sql("SELECT resolution FROM alerts WHERE status = 'resolved'").one()
    assert row[0] == "false-positive"


def test_issue_assignees_come_from_the_detection_header(wired):
    import dataclasses

    from mamori.alerts.outputs.github import GitHubOutput

    settings, ledger, det, gh, _, _ = wired
    with_owner = dataclasses.replace(
        det, header=det.header.model_copy(update={"output_options": {"github": {"assignees": ["octo-cat"]}}})
    )
    alert = ledger.alerts()[0]
    GitHubOutput(settings, throttle=False).deliver(alert, with_owner, None)
    [issue] = gh.issue_list()
    assert [a["login"] for a in issue["assignees"]] == ["octo-cat"]


def test_a_rule_can_send_its_tickets_to_its_owners_repository(wired):
    import dataclasses

    from mamori.alerts.outputs.github import GitHubOutput

    settings, ledger, det, gh, _, _ = wired
    gh.repos.add("acme/cloud-team")
    routed = dataclasses.replace(
        det, header=det.header.model_copy(update={"output_options": {"github": {"repo": "acme/cloud-team"}}})
    )
    alert = ledger.alerts()[0]
    out = GitHubOutput(settings, throttle=False)
    ref = out.deliver(alert, routed, None)
    assert "/acme/cloud-team/issues/" in ref
    assert gh.issue_list() == [] and len(gh.issue_list("acme/cloud-team")) == 1
    assert out.deliver(alert, routed, ref) == ref  # found again by its reference: no second issue
    assert out.deliver(alert, routed, None) == ref  # and by label + marker after a lost record
    assert len(gh.issue_list("acme/cloud-team")) == 1
    gh.close_issue(gh.issue_list("acme/cloud-team")[0]["number"], repo="acme/cloud-team")
    assert out.issue_state(ref)[0] == "closed"


def test_one_dispatch_asks_once_per_output_whether_it_is_configured(wired, monkeypatch):
    """Inside a task every connection lookup is a request to Airflow's execution API; the end-to-end bench
    counted 40 for one window's alerts. One answer per output per run, whatever the number of alerts."""
    from mamori.alerts import outputs

    settings, ledger, _det, gh, pd, sl = wired
    asked: list[str] = []
    for name in ("github", "pagerduty", "slack"):
        cls = outputs.OUTPUTS[name]
        real = cls.configured

        def counting(settings, _real=real, _name=name):
            asked.append(_name)
            return _real(settings)

        monkeypatch.setattr(cls, "configured", counting)
    assert len(ledger.alerts(status="open")) == 2
    detect.dispatch(settings)
    assert sorted(asked) == ["github", "pagerduty", "slack"]
    assert counts(gh, pd, sl) == (2, 2, 2)
