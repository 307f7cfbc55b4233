"""One ticket, one page and one message per incident (routing `deliver_per: incident`), over HTTP against the
fake GitHub, PagerDuty and Slack: the incident's first alert opens its issue, every later member is one
comment on it, re-runs send nothing, a crash between send and record opens no second issue, a merge points
the two issues at each other and closes the merged one, and closing the issue resolves the one page.
Alerts are recorded and grouped the way a detect run does it (test_incidents.run_window)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fake_github import FakeGitHub
from fake_pagerduty_slack import FakePagerDuty, FakeSlack
from test_github_markdown import HOSTILE, MENTION, REFERENCE, github_view
from test_incidents import ACCT, ALICE, ATTACKER, BOB, T0, hit, run_window

from mamori import detect
from mamori.alerts import incidents
from mamori.alerts.alert import IncidentTicket
from mamori.alerts.ledger import Ledger
from mamori.alerts.outputs.github import MAX_TITLE
from mamori.alerts.routing import load_routing
from mamori.detections.loader import get_detection

REPO = Path(__file__).resolve().parents[2]
H0 = T0.replace(minute=0)
HOUR = timedelta(hours=1)
ROOT = f"arn:aws:iam::{ACCT}:root"
CAROL = f"arn:aws:iam::{ACCT}:user/carol"
# Three high-severity rules (GitHub + PagerDuty + Slack by sql/routing.yaml), one address: one incident.
THREE = [
    hit("cloudtrail_root_activity", T0, actor=ROOT, source_ip=ATTACKER),
    hit("cloudtrail_trail_stopped_or_changed", T0 + timedelta(minutes=5), actor=ALICE, source_ip=ATTACKER),
    hit(
        "cloudtrail_security_group_opened_to_world",
        T0 + timedelta(minutes=10),
        actor=BOB,
        source_ip=ATTACKER,
        target="sg-0123456789abcdef0",
    ),
]
# A fourth member whose rule adds no new tactic: the incident's severity stays where it was.
FOURTH = hit("cloudtrail_trail_stopped_or_changed", T0 + HOUR, actor=CAROL, source_ip=ATTACKER)


@pytest.fixture
def wired(settings, output_connections):
    gh, pd, sl = output_connections
    return settings, Ledger(settings.ledger_url), gh, pd, sl


def sent(gh: FakeGitHub, pd: FakePagerDuty, sl: FakeSlack) -> tuple[int, int, int]:
    """Requests each service received so far (reads included)."""
    return len(gh.requests), pd.requests, sl.requests


def issue_posts(gh: FakeGitHub) -> int:
    return len([r for r in gh.calls("POST") if r.path.endswith("/issues")])


def triggers(pd: FakePagerDuty) -> list[dict]:
    return [e for i in pd.incidents for e in i.events if e.get("event_action") == "trigger"]


def live_incident(ledger: Ledger) -> incidents.Incident:
    [inc] = incidents.list_incidents(ledger)
    return inc


def test_an_incident_is_one_issue_with_a_comment_per_later_member_one_page_one_message(wired):
    s, ledger, gh, pd, sl = wired
    run_window(ledger, s, H0, THREE)
    inc = live_incident(ledger)
    assert len(inc.members) == 3 and inc.severity == "high"

    detect.dispatch(s)
    [issue] = gh.issue_list()
    assert issue_posts(gh) == 1
    comments = gh.comment_list(issue["number"])
    assert len(comments) == 2  # the first alert opened the issue, each other member is one comment
    founder, *others = inc.members
    assert [c["body"].split("\n", 1)[0] for c in comments] == [
        f"<!-- mamori:member={a.key} hits={a.hit_count} -->" for a in others
    ]
    body = issue["body"]
    assert body.startswith(f"<!-- mamori:incident={inc.incident_id} -->\n<!-- mamori:member={founder.key} ")
    for a in inc.members:  # the timeline: one row per member, with its rule, severity and tactic
        row = next(line for line in body.splitlines() if f"`{a.key}`" in line)
        assert f"`{a.detection_id}`" in row and f"`{a.severity}`" in row and "`TA000" in row
    assert body.count("#### ") == 3  # each member rule's runbook once
    assert inc.severity_reason in body
    assert issue["title"] == f"[HIGH] Incident: {ATTACKER} — 3 alerts"
    assert {lb["name"] for lb in issue["labels"]} >= {"mamori-incident", "severity:high"}
    # Every member's ticket is the incident's issue: pages link to it and the lifecycle sync reads it.
    refs = {d["alert_key"]: d["external_ref"] for d in ledger.deliveries() if d["output"] == "github"}
    assert {refs[a.key] for a in inc.members} == {issue["html_url"]}
    # PagerDuty: one alert for the incident (dedup key = incident id), triggered once, linking the issue.
    assert [i.dedup_key for i in pd.incidents] == [inc.incident_id]
    [trigger] = triggers(pd)
    assert trigger["payload"]["severity"] == "error" and trigger["links"][0]["href"] == issue["html_url"]
    assert len(sl.messages) == 1 and inc.incident_id in sl.messages[0]["text"]

    # Dispatching again, and re-running the window, send nothing at all.
    before = sent(gh, pd, sl)
    detect.dispatch(s)
    run_window(ledger, s, H0, THREE)
    detect.dispatch(s)
    assert sent(gh, pd, sl) == before
    assert live_incident(ledger).incident_id == inc.incident_id

    # A fourth member in a later window: one comment, the body's timeline rewritten, no page, no message.
    run_window(ledger, s, H0 + HOUR, [FOURTH])
    detect.dispatch(s)
    assert issue_posts(gh) == 1 and len(gh.issue_list()) == 1
    assert len(gh.comment_list(issue["number"])) == 3
    [issue] = gh.issue_list()
    assert all(f"`{a.key}`" in issue["body"] for a in ledger.alerts()) and len(ledger.alerts()) == 4
    assert issue["title"].endswith("— 4 alerts")
    assert len(triggers(pd)) == 1 and len(sl.messages) == 1
    before = sent(gh, pd, sl)
    detect.dispatch(s)
    assert sent(gh, pd, sl) == before


def test_a_member_that_raises_the_severity_pages_once_more_on_the_same_incident(wired):
    """A third ATT&CK tactic raises the incident one level: the same PagerDuty alert is triggered again at
    the new severity (an update of its dedup key, not a second incident) and Slack says so once."""
    s, ledger, gh, pd, sl = wired
    run_window(ledger, s, H0, THREE)
    detect.dispatch(s)
    login = hit("cloudtrail_console_login_without_mfa", T0 + HOUR, actor=ALICE, source_ip=ATTACKER)
    run_window(ledger, s, H0 + HOUR, [login])
    assert live_incident(ledger).severity == "critical"
    detect.dispatch(s)
    assert len(pd.incidents) == 1
    assert [t["payload"]["severity"] for t in triggers(pd)] == ["error", "critical"]
    assert len(sl.messages) == 2 and "raised from HIGH to" in sl.messages[1]["text"]
    assert len(gh.issue_list()) == 1 and len(gh.comment_list(1)) == 3


@pytest.mark.parametrize("step", ["record_incident", "mark_delivered"])
def test_a_crash_between_send_and_record_opens_no_second_issue(wired, monkeypatch, step):
    """The worker dies after GitHub created the incident's issue, before the ledger recorded it (on the
    incident's row, or on the alert's). The next run finds the issue by its label and marker (or by the
    recorded reference) and comments for the other members: one issue, no comment for the first alert."""
    s, ledger, gh, pd, _ = wired
    run_window(ledger, s, H0, THREE)
    real = getattr(Ledger, step)
    crashed: list[str] = []

    def crash(self, key, output, *args, **kwargs):
        if output == "github" and not crashed:
            crashed.append(key)
            raise SystemExit("worker killed after the GitHub call, before the ledger write")
        return real(self, key, output, *args, **kwargs)

    monkeypatch.setattr(Ledger, step, crash)
    with pytest.raises(SystemExit):
        detect.dispatch(s)
    assert len(gh.issue_list()) == 1 and gh.comment_list(1) == []
    monkeypatch.setattr(Ledger, step, real)
    detect.dispatch(s)
    detect.dispatch(s)
    assert issue_posts(gh) == 1 and len(gh.issue_list()) == 1
    assert len(gh.comment_list(1)) == 2
    assert all(d["state"] in ("delivered",) for d in ledger.deliveries())
    assert len(pd.incidents) == 1 and len(triggers(pd)) == 1


def test_per_alert_routing_keeps_one_ticket_page_and_message_per_alert(wired, monkeypatch, tmp_path):
    s, ledger, gh, pd, sl = wired
    sql = tmp_path / "routing"
    sql.mkdir()
    text = (REPO / "sql" / "routing.yaml").read_text()
    assert "deliver_per: incident" in text  # the default
    (sql / "routing.yaml").write_text(text.replace("deliver_per: incident", "deliver_per: alert"))
    per_alert = load_routing(sql)
    assert not per_alert.per_incident and load_routing(REPO / "sql").per_incident
    monkeypatch.setattr(detect, "load_routing", lambda _dir: per_alert)
    run_window(ledger, s, H0, THREE)
    detect.dispatch(s)
    keys = sorted(a.key for a in ledger.alerts())
    assert len(gh.issue_list()) == 3 and all(not gh.comment_list(i["number"]) for i in gh.issue_list())
    assert sorted(i.dedup_key for i in pd.incidents) == keys
    assert len(sl.messages) == 3
    assert not any(d["alert_key"] not in keys for d in ledger.deliveries())  # no incident rows


def test_hostile_entity_values_are_inert_in_the_title_body_and_comments(wired):
    """The attacker chooses the user name: shared by two alerts it is the incident's main entity, shown in
    the title and the body. It must mention no one, reference no issue and inject no tag."""
    s, ledger, gh, _, _ = wired
    run_window(
        ledger,
        s,
        H0,
        [
            hit("cloudtrail_trail_stopped_or_changed", T0, actor=HOSTILE, source_ip="203.0.113.9"),
            hit("cloudtrail_security_group_opened_to_world", T0, actor=HOSTILE, target="sg-1"),
        ],
    )
    inc = live_incident(ledger)
    assert inc.entities[0]["value"] == HOSTILE
    detect.dispatch(s)
    [issue] = gh.issue_list()
    title = issue["title"]
    assert len(title) <= MAX_TITLE and "org/team" in title
    assert not REFERENCE.search(title) and not MENTION.search(title)
    for md in (issue["body"], *(c["body"] for c in gh.comment_list(issue["number"]))):
        view = github_view(md)
        assert view.dropped == []
        live = "".join(view.live)
        assert not REFERENCE.search(live) and not MENTION.search(live)
        assert HOSTILE in "".join(view.text)  # whole and literal, inside code


def test_a_merge_points_the_issues_at_each_other_and_closes_the_merged_one(wired):
    """Two incidents with their own issues and pages; an alert naming both the address of one and the user
    of the other merges the younger into the older. The older issue gets the bridging alert and a comment
    linking the merged issue; the merged issue a comment pointing at the survivor, and is closed; its page
    is resolved and its alerts now reference the survivor's issue and page, so closing that one resolves
    all of them."""
    s, ledger, gh, pd, _ = wired
    run_window(
        ledger,
        s,
        H0,
        [
            hit("cloudtrail_root_activity", T0, actor=ROOT, source_ip=ATTACKER),
            hit(
                "cloudtrail_trail_stopped_or_changed",
                T0 + timedelta(minutes=5),
                actor=BOB,
                source_ip="203.0.113.7",
            ),
        ],
    )
    older, younger = incidents.list_incidents(ledger)
    detect.dispatch(s)
    assert len(gh.issue_list()) == 2 and len(pd.incidents) == 2
    bridge = hit(
        "cloudtrail_security_group_opened_to_world", T0 + HOUR, actor=BOB, source_ip=ATTACKER, target="sg-2"
    )
    run_window(ledger, s, H0 + HOUR, [bridge])
    assert [m["merged_id"] for m in incidents.merges(ledger)] == [younger.incident_id]
    detect.dispatch(s)

    survivor, merged = gh.issue_list()
    assert survivor["body"].startswith(f"<!-- mamori:incident={older.incident_id} -->")
    assert survivor["state"] == "open" and merged["state"] == "closed"
    first_lines = [c["body"].split("\n", 1)[0] for c in gh.comment_list(survivor["number"])]
    assert f"<!-- mamori:absorbed={younger.incident_id} -->" in first_lines
    assert any(merged["html_url"] in c["body"] for c in gh.comment_list(survivor["number"]))
    [pointer] = gh.comment_list(merged["number"])
    assert survivor["html_url"] in pointer["body"]
    assert pd.open_incident(younger.incident_id) is None and pd.open_incident(older.incident_id) is not None
    refs = {(d["alert_key"], d["output"]): d["external_ref"] for d in ledger.deliveries()}
    for a in ledger.alerts():
        assert refs[(a.key, "github")] == survivor["html_url"]
        assert refs[(a.key, "pagerduty")] == older.incident_id
    # Nothing twice: another dispatch folds nothing again, and the sync resolves nothing (survivor open).
    before = (len(gh.requests), pd.requests)
    detect.dispatch(s)
    assert (len(gh.requests), pd.requests) == before
    assert detect.sync_alerts(s)["resolved"] == 0
    gh.close_issue(survivor["number"])
    assert detect.sync_alerts(s) == {"checked": 3, "resolved": 3, "verdicts": 0}
    assert [i.state for i in pd.incidents_for(older.incident_id)] == ["resolved"]


def test_closing_the_incident_issue_resolves_its_one_page(wired):
    s, ledger, gh, pd, _ = wired
    run_window(ledger, s, H0, THREE)
    detect.dispatch(s)
    inc = live_incident(ledger)
    gh.close_issue(1)
    resolves_before = pd.requests
    assert detect.sync_alerts(s) == {"checked": 3, "resolved": 3, "verdicts": 0}
    assert pd.requests == resolves_before + 1  # one resolve for the incident, not one per alert
    assert [i.state for i in pd.incidents_for(inc.incident_id)] == ["resolved"]


def test_a_new_alert_after_the_issue_was_closed_reopens_it_and_pages_again(wired):
    """The responder closed the incident (all its alerts resolved); the attacker comes back. The new alert
    must not be resolved at once by the closed issue: the issue is reopened with the alert's comment, and
    PagerDuty and Slack are told once more (a trigger on a resolved dedup key is a new PagerDuty incident)."""
    s, ledger, gh, pd, sl = wired
    run_window(ledger, s, H0, THREE)
    detect.dispatch(s)
    gh.close_issue(1)
    assert detect.sync_alerts(s)["resolved"] == 3
    run_window(ledger, s, H0 + HOUR, [FOURTH])
    detect.dispatch(s)
    [issue] = gh.issue_list()
    assert issue["state"] == "open" and len(gh.comment_list(1)) == 3
    inc = live_incident(ledger)
    assert [i.state for i in pd.incidents_for(inc.incident_id)] == ["resolved", "triggered"]
    assert len(sl.messages) == 2
    assert detect.sync_alerts(s) == {"checked": 1, "resolved": 0, "verdicts": 0}


def test_closing_the_incident_in_triage_resolves_its_page_and_a_later_alert_pages_again(wired):
    """`mamori incidents close`: the next dispatch resolves the incident's PagerDuty alert, once, and closes
    the issue with the verdict (test_triage_sync). An alert that joins later re-opens the incident (the
    grouping does): it is paged and posted again, and commented on the issue, which is reopened (no comment
    for mamori's own reopen: the member's comment says what joined)."""
    from mamori.alerts import triage

    s, ledger, gh, pd, sl = wired
    run_window(ledger, s, H0, THREE)
    detect.dispatch(s)
    inc = live_incident(ledger)
    triage.close(ledger, inc.incident_id, "true-positive", "analyst")
    requests = pd.requests
    detect.dispatch(s)
    assert pd.requests == requests + 1
    assert [i.state for i in pd.incidents_for(inc.incident_id)] == ["resolved"]
    detect.dispatch(s)
    assert pd.requests == requests + 1  # resolved once
    run_window(ledger, s, H0 + HOUR, [FOURTH])
    assert live_incident(ledger).status == "open"
    detect.dispatch(s)
    assert [i.state for i in pd.incidents_for(inc.incident_id)] == ["resolved", "triggered"]
    assert len(sl.messages) == 2 and len(gh.comment_list(1)) == 4  # 2 members, the close, the new member
    [issue] = gh.issue_list()
    assert issue["state"] == "open" and "verdict:true-positive" not in {lb["name"] for lb in issue["labels"]}


def test_pagerduty_resolves_an_incident_by_its_dedup_key(settings, fake_pagerduty, monkeypatch):
    """The resolve the lifecycle sync sends, called directly: by the incident's id, idempotent."""
    import json

    from mamori.alerts.outputs.pagerduty import PagerDutyOutput

    # Not `from conftest import`: several test directories have a conftest.py, and which one that names
    # depends on what pytest imported first (it failed in a whole-suite run, passed alone).
    routing_key = "R" * 32

    monkeypatch.setenv(
        "AIRFLOW_CONN_MAMORI_PAGERDUTY",
        json.dumps({"conn_type": "pagerduty_events", "password": routing_key, "host": fake_pagerduty.url}),
    )
    ledger = Ledger(settings.ledger_url)
    run_window(ledger, settings, H0, THREE)
    [inc] = incidents.list_incidents(ledger)
    view = detect._incident_view(inc, lambda _: None)
    out = PagerDutyOutput(settings)
    ref, ticket = out.deliver_member(inc.members[0], None, view, IncidentTicket())
    assert ref == inc.incident_id and ticket == IncidentTicket(inc.incident_id, "high")
    assert out.deliver_member(inc.members[1], None, view, ticket) == (ref, ticket)  # no second trigger
    out.resolve(ref)
    out.resolve(ref)
    assert [i.state for i in fake_pagerduty.incidents_for(inc.incident_id)] == ["resolved"]
    assert fake_pagerduty.requests == 3


def test_one_dispatcher_at_a_time_holds_an_incident(settings):
    ledger = Ledger(settings.ledger_url)
    lease = timedelta(minutes=5)
    first = ledger.claim_incident("i" * 32, "github", "a", lease)
    second = ledger.claim_incident("i" * 32, "github", "b", lease)
    assert first.won and not second.won and second.held_by == "a"
    ledger.record_incident("i" * 32, "github", IncidentTicket("https://x/o/r/issues/1", None), "a")
    third = ledger.claim_incident("i" * 32, "github", "b", lease)
    assert third.won and third.ticket.ref == "https://x/o/r/issues/1"


def test_incident_bodies_and_member_comments_stay_under_githubs_limit(settings):
    """Twenty-five members with long runbooks and a member with a large related-activity table: the body
    drops the runbooks (then shows itself as text) and the comment its related activity, never passing the
    65,536 characters GitHub accepts."""
    import dataclasses as dc

    from mamori.alerts.outputs.github import MAX_BODY, incident_body, member_comment, member_marker

    ledger = Ledger(settings.ledger_url)
    run_window(ledger, settings, H0, THREE)
    inc = detect._incident_view(live_incident(ledger), lambda d: None)
    det = get_detection(REPO / "sql", "cloudtrail_root_activity")
    long_runbook = det.header.model_copy(update={"runbook": "step\n" * 5_000})
    heavy = dc.replace(det, header=long_runbook)
    many = [dc.replace(inc.members[0], key=f"{i:032x}", detection_id=f"rule_{i}") for i in range(25)]
    big = dc.replace(inc, members=many, rules={a.detection_id: heavy for a in many})
    body = incident_body(big, member_marker(many[0].key, 1))
    assert len(body) <= MAX_BODY and "too long" in body
    rows = [["x" * 200] * 10 for _ in range(20)]
    table = {"title": "Related", "entity": "e", "columns": ["c"] * 10, "rows": rows}
    enrichment = [{"id": f"e{i}", **table} for i in range(10)]
    noisy = dc.replace(inc.members[1], enrichment=enrichment)
    comment = member_comment(noisy, det, inc, joined=True)
    assert len(comment) <= MAX_BODY and comment.startswith(member_marker(noisy.key, noisy.hit_count))
