"""Triage and tickets agree both ways, over HTTP against the fake GitHub and PagerDuty: a close in mamori labels
and closes the incident's issue (a comment with the verdict and the note, inert) and resolves its page, a reopen
reopens the issue; an issue closed on GitHub with a verdict label closes the incident with that verdict, by
`github:<login>`, and nothing is echoed back. Alerts are recorded and grouped as a detect run does
(test_incidents.run_window)."""

from __future__ import annotations

import pytest
from fake_github import FakeGitHub
from test_github_markdown import MENTION, REFERENCE, github_view
from test_incident_tickets import H0, THREE, live_incident
from test_incidents import run_window

from mamori import detect
from mamori.alerts import triage
from mamori.alerts.ledger import Ledger

HOSTILE_NOTE = "benign: the CI runner. closes #1, see acme/security-alerts#7 @org/team\n<img src=x>"


@pytest.fixture
def wired(settings, output_connections, monkeypatch):
    gh, pd, _ = output_connections
    real = detect.make_output

    def no_wait(name, s):  # the outputs' own in-run retries without their sleeps
        out = real(name, s)
        if hasattr(out, "sleep"):
            out.sleep = lambda _seconds: None
        return out

    monkeypatch.setattr(detect, "make_output", no_wait)
    ledger = Ledger(settings.ledger_url)
    run_window(ledger, settings, H0, THREE)
    detect.dispatch(settings)
    return settings, ledger, gh, pd


def writes(gh: FakeGitHub) -> int:
    return len([r for r in gh.requests if r.method in ("POST", "PATCH")])


def resolutions(ledger: Ledger) -> set[str]:
    return {a["resolution"] for a in ledger.dump()["alerts"]}


def labels(issue: dict) -> set[str]:
    return {lb["name"] for lb in issue["labels"]}


def test_a_close_in_mamori_labels_comments_and_closes_the_issue_and_a_reopen_reopens_it(wired):
    s, ledger, gh, pd = wired
    inc = live_incident(ledger)
    [issue] = gh.issue_list()
    before = len(gh.comment_list(1))
    triage.close(ledger, inc.incident_id, "false_positive", "alice", note=HOSTILE_NOTE)

    detect.dispatch(s)
    [issue] = gh.issue_list()
    assert issue["state"] == "closed"
    assert "verdict:false-positive" in labels(issue) and "mamori-incident" in labels(issue)
    [comment] = gh.comment_list(1)[before:]
    assert comment["body"].startswith("<!-- mamori:triage=")
    assert "`false-positive`" in comment["body"] and "`alice`" in comment["body"]
    view = github_view(comment["body"])
    live = "".join(view.live)
    assert view.dropped == [] and not REFERENCE.search(live) and not MENTION.search(live)
    assert "closes #1" in "".join(view.text)  # the note whole, inside a code block
    assert [i.state for i in pd.incidents_for(inc.incident_id)] == ["resolved"]  # the page too
    assert detect.sync_alerts(s)["verdicts"] == 0  # its alerts are resolved: nothing read back

    quiet = writes(gh)
    detect.dispatch(s)  # shown once
    assert writes(gh) == quiet

    triage.reopen(ledger, inc.incident_id, "bob", note="the runner was not ours")
    detect.dispatch(s)
    [issue] = gh.issue_list()
    assert issue["state"] == "open" and not {lb for lb in labels(issue) if lb.startswith("verdict:")}
    reopened = gh.comment_list(1)[-1]["body"]
    assert "Reopened in mamori" in reopened and "`bob`" in reopened
    assert len(gh.comment_list(1)) == before + 2

    # A correction: closed again with another verdict, the label follows it (one verdict label).
    triage.close(ledger, inc.incident_id, "true-positive", "bob")
    triage.close(ledger, inc.incident_id, "benign-true-positive", "bob")
    detect.dispatch(s)
    [issue] = gh.issue_list()
    assert issue["state"] == "closed"
    assert {lb for lb in labels(issue) if lb.startswith("verdict:")} == {"verdict:benign-true-positive"}
    assert len(gh.comment_list(1)) == before + 3  # only the latest action is shown


def test_an_issue_closed_on_github_with_a_verdict_label_closes_the_incident(wired):
    s, ledger, gh, pd = wired
    inc = live_incident(ledger)
    gh.close_issue(1, by="carol-sec", labels=("verdict:true-positive",))

    summary = detect.sync_alerts(s)

    assert summary == {"checked": 3, "resolved": 3, "verdicts": 1}
    after = live_incident(ledger)
    assert (after.status, after.verdict) == ("closed", "true-positive")
    [close] = triage.actions(ledger, inc.incident_id)
    assert (close.action, close.verdict, close.actor) == ("close", "true-positive", "github:carol-sec")
    assert resolutions(ledger) == {"true-positive"}
    assert [i.state for i in pd.incidents_for(inc.incident_id)] == ["resolved"]
    quiet = writes(gh)
    detect.dispatch(s)  # the verdict came from the issue: nothing is written back to it
    detect.sync_alerts(s)
    assert writes(gh) == quiet
    assert len(triage.actions(ledger, inc.incident_id)) == 1


def test_a_bare_verdict_label_counts_and_two_verdicts_record_none(wired):
    """`false-positive` (the label the sync read before verdict labels had a prefix) is a verdict; an issue
    closed with two different verdicts is ambiguous: its alerts are resolved as `closed`, no verdict."""
    s, ledger, gh, _ = wired
    gh.close_issue(1, labels=("false-positive", "verdict:true-positive"))
    assert detect.sync_alerts(s)["verdicts"] == 0
    inc = live_incident(ledger)
    assert inc.verdict is None and resolutions(ledger) == {"closed"}


def test_a_bare_label_closes_the_incident_too(wired):
    s, ledger, gh, _ = wired
    gh.close_issue(1, by="dave", labels=("False_Positive",))
    assert detect.sync_alerts(s)["verdicts"] == 1
    assert live_incident(ledger).verdict == "false-positive"


def test_a_reopen_not_yet_shown_on_github_is_not_undone_by_the_closed_issue(wired):
    """GitHub is down when the analyst reopens: the issue still says closed with a verdict. The sync must
    not read that as a new verdict and close the incident again; once GitHub is back the issue reopens."""
    s, ledger, gh, _ = wired
    inc = live_incident(ledger)
    triage.close(ledger, inc.incident_id, "false-positive", "alice")
    detect.dispatch(s)
    triage.reopen(ledger, inc.incident_id, "alice")
    gh.fail_always = "502"
    with pytest.raises(RuntimeError, match="1 deliveries failed"):
        detect.dispatch(s)
    gh.fail_always = None
    assert gh.issue_list()[0]["state"] == "closed"
    summary = detect.sync_alerts(s)
    assert summary["verdicts"] == 0 and summary["resolved"] == 0
    assert live_incident(ledger).status == "open"
    detect.dispatch(s)
    assert gh.issue_list()[0]["state"] == "open"
    assert detect.sync_alerts(s) == {"checked": 3, "resolved": 0, "verdicts": 0}


def test_an_acknowledgement_in_mamori_acknowledges_the_page_once(wired):
    """Someone is on it: the incident's PagerDuty alert stops escalating (acknowledged, not resolved); the
    issue is left as it is (GitHub has no such state). Closing later resolves the page."""
    s, ledger, gh, pd = wired
    inc = live_incident(ledger)
    quiet, requests = writes(gh), pd.requests
    triage.acknowledge(ledger, inc.incident_id, "alice")
    detect.dispatch(s)
    assert [i.state for i in pd.incidents_for(inc.incident_id)] == ["acknowledged"]
    assert pd.requests == requests + 1 and writes(gh) == quiet
    detect.dispatch(s)
    assert pd.requests == requests + 1
    triage.close(ledger, inc.incident_id, "true-positive", "alice")
    detect.dispatch(s)
    assert [i.state for i in pd.incidents_for(inc.incident_id)] == ["resolved"]


def test_a_crash_between_the_mirror_and_its_record_comments_once(wired, monkeypatch):
    """The worker dies after GitHub took the close (comment, label, closed) and before the ledger recorded
    it: the next dispatch mirrors the same action again and finds its comment by the marker."""
    s, ledger, gh, _ = wired
    inc = live_incident(ledger)
    before = len(gh.comment_list(1))
    triage.close(ledger, inc.incident_id, "false-positive", "alice")
    real = Ledger.mark_triage_synced

    def crash(self, *args, **kwargs):
        raise SystemExit("worker killed after the GitHub writes, before the ledger write")

    monkeypatch.setattr(Ledger, "mark_triage_synced", crash)
    with pytest.raises(SystemExit):
        detect.dispatch(s)
    assert len(gh.comment_list(1)) == before + 1 and gh.issue_list()[0]["state"] == "closed"
    assert [p.incident_id for p in ledger.triage_unsynced("github")] == [inc.incident_id]
    mirrored = len(gh.calls("GET", "/comments"))
    monkeypatch.setattr(Ledger, "mark_triage_synced", real)
    detect.dispatch(s)
    assert len(gh.calls("GET", "/comments")) > mirrored  # mirrored again: it looked for its comment
    assert len(gh.comment_list(1)) == before + 1 and ledger.triage_unsynced("github") == []
    quiet = writes(gh)
    detect.dispatch(s)
    assert writes(gh) == quiet
