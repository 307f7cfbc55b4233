"""The GitHub output end to end over HTTP (GithubHook → PyGithub → fake GitHub): one issue per alert key,
one comment per new hit count, inert hostile values, bounded retries, and no token in any error or log."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import time
from pathlib import Path
from typing import Any

import pytest
from fake_github import TOKEN, FakeGitHub, fake_github  # noqa: F401 - fake_github is a fixture

from mamori.alerts.ledger import Alert
from mamori.alerts.outputs.github import (
    MAX_LABEL,
    GitHubOutput,
    GitHubOutputError,
    issue_title,
    key_label,
    label_name,
)
from mamori.detections.loader import get_detection

REPO = Path(__file__).resolve().parents[2]
GH_REPO = "acme/security-alerts"
KEY = "0123456789abcdef" + "fedcba9876543210"
HOSTILE = {
    "actor": "@org/team",
    "link": "[x](http://evil)",
    "html": "<img src=x>",
    "table": "| table | break |",
    "bidi": "a\u202eb",
    "huge": "y" * 100_000,
}


@pytest.fixture
def det():
    return get_detection(REPO / "sql", "cloudtrail_root_activity")


def make_alert(key: str = KEY, hits: int = 1, **over: Any) -> Alert:
    a = Alert(
        key=key,
        detection_id="cloudtrail_root_activity",
        title="Root account activity",
        severity="critical",
        status="open",
        log_source="cloudtrail",
        dedup_values={"account_id": "123456789012", "actor": "root"},
        bucket_start="2026-11-01T10:00:00+00:00",
        bucket_end="2026-11-01T11:00:00+00:00",
        first_seen="2026-11-01T10:01:00+00:00",
        last_seen="2026-11-01T10:02:00+00:00",
        hit_count=hits,
        samples=[{"actor": "root", "event_name": "ConsoleLogin"}],
        routes=["github"],
    )
    return dataclasses.replace(a, **over)


def connect(monkeypatch: pytest.MonkeyPatch, fake: FakeGitHub, token: str = TOKEN) -> None:
    conn = {"conn_type": "github", "password": token, "host": fake.api_url, "extra": {"repo": GH_REPO}}
    monkeypatch.setenv("AIRFLOW_CONN_MAMORI_GITHUB", json.dumps(conn))


@pytest.fixture
def gh(fake_github, monkeypatch, settings):  # noqa: F811 - pytest fixture injection
    """A connected output with short timeouts/backoff so the suite stays fast."""
    connect(monkeypatch, fake_github)
    fake_github.hang_seconds = 2.5
    return fake_github, GitHubOutput(settings, timeout=1, backoff=0.05, throttle=False)


def outside_code(md: str) -> str:
    """The Markdown with fenced blocks and inline code spans removed: what GitHub would interpret."""
    md = re.sub(r"^(`{3,})[^\n]*\n.*?\n\1$", "", md, flags=re.S | re.M)
    out = []
    for line in md.splitlines():
        runs, i, j, kept = list(re.finditer(r"`+", line)), 0, 0, []
        while j < len(runs):
            opener = runs[j]
            kept.append(line[i : opener.start()])
            closer = next(k for k in range(j + 1, len(runs)) if len(runs[k][0]) == len(opener[0]))
            i, j = runs[closer].end(), closer + 1
        kept.append(line[i:])
        out.append("".join(kept))
    return "\n".join(out)


def test_configured_iff_connection_exists(fake_github, monkeypatch, settings):  # noqa: F811
    monkeypatch.delenv("AIRFLOW_CONN_MAMORI_GITHUB", raising=False)
    assert GitHubOutput.configured(settings) is False
    connect(monkeypatch, fake_github)
    assert GitHubOutput.configured(settings) is True
    assert fake_github.requests == []  # no network


def test_first_delivery_opens_one_labelled_issue_with_inert_body(gh, det):
    fake, out = gh
    alert = make_alert(
        dedup_values={"actor": "@org/team", **HOSTILE},
        samples=[dict(HOSTILE), {"user_agent": "<img src=x> @org/team [x](http://evil)"}],
    )
    ref = out.deliver(alert, det, None)

    [issue] = fake.issue_list()
    assert ref == issue["html_url"] == f"{fake.base}/{GH_REPO}/issues/1"
    assert {lb["name"] for lb in issue["labels"]} == {
        "severity:critical",
        "detection:cloudtrail_root_activity",
        "source:cloudtrail",
        "mamori:0123456789abcdef",
    }
    body = issue["body"]
    assert body.startswith(f"<!-- mamori:alert_key={KEY} -->\n<!-- mamori:hits=1 -->\n")
    assert len(body) < 65536
    assert "\u202e" not in body
    live = outside_code(body)
    for raw in ("@org", "](http://evil)", "<img", "| table | break |", "y" * 1000):
        assert raw not in live, raw
    title = issue["title"]
    assert title.startswith("[CRITICAL] ") and len(title) <= 200
    assert "@org" not in title and "\uff20org/team" in title  # visible, not a mention
    assert len(fake.calls("POST")) == 1


def test_title_is_one_visible_bounded_line(det):
    a = make_alert(dedup_values={"actor": "x\u202e\n@team " + "z" * 500})
    t = issue_title(a, det)
    assert len(t) <= 200 and "\n" not in t and "\u202e" not in t and "\\u202e" in t
    assert not re.search(r"(?<![\w`])@", t)  # no '@' that GitHub could read as a mention


def test_labels_are_bounded_and_unique():
    long_a, long_b = "d" * 60 + "a", "d" * 60 + "b"
    la, lb = label_name("detection", long_a), label_name("detection", long_b)
    assert len(la) <= MAX_LABEL and len(lb) <= MAX_LABEL and la != lb
    assert "," not in label_name("source", "a,b")
    assert key_label(KEY) == "mamori:0123456789abcdef"


def test_recurrence_adds_one_comment_not_an_issue(gh, det):
    fake, out = gh
    ref = out.deliver(make_alert(hits=1), det, None)
    ref2 = out.deliver(make_alert(hits=3, last_seen="2026-11-01T10:40:00+00:00"), det, ref)
    assert ref2 == ref
    assert len(fake.issue_list()) == 1
    [comment] = fake.comment_list(1)
    assert comment["body"].startswith("<!-- mamori:hits=3 -->\n")
    assert "2026-11-01T10:40:00+00:00" in comment["body"]


def test_retried_update_does_not_comment_twice(gh, det):
    fake, out = gh
    ref = out.deliver(make_alert(hits=1), det, None)
    for _ in range(3):
        assert out.deliver(make_alert(hits=2), det, ref) == ref
    assert len(fake.comment_list(1)) == 1
    out.deliver(make_alert(hits=1), det, ref)  # a stale, lower count never comments either
    assert len(fake.comment_list(1)) == 1


def test_crash_between_send_and_record_keeps_one_issue(gh, det):
    """The dispatcher delivered, then died before recording the ref: the next run passes previous_ref=None."""
    fake, out = gh
    ref = out.deliver(make_alert(hits=1), det, None)
    assert out.deliver(make_alert(hits=1), det, None) == ref
    assert len(fake.issue_list()) == 1 and fake.comment_list(1) == []
    assert out.deliver(make_alert(hits=4), det, None) == ref  # found by label, updated
    assert len(fake.issue_list()) == 1 and len(fake.comment_list(1)) == 1


def test_lost_create_response_is_not_repeated(gh, det):
    """The POST took effect but its response timed out: the retry finds the issue instead of re-creating."""
    fake, out = gh
    fake.fail_next(1, "hang_after", method="POST")
    ref = out.deliver(make_alert(), det, None)
    assert len(fake.issue_list()) == 1
    assert ref == fake.issue_list()[0]["html_url"]


def test_foreign_or_missing_previous_ref_falls_back_to_label_search(gh, det):
    fake, out = gh
    ref = out.deliver(make_alert(hits=1), det, None)
    assert out.deliver(make_alert(hits=1), det, "https://github.com/other/repo/issues/1") == ref
    assert out.deliver(make_alert(hits=1), det, f"{fake.base}/{GH_REPO}/issues/99") == ref
    assert len(fake.issue_list()) == 1


def test_other_alerts_issue_is_never_taken(gh, det):
    """Same label prefix but a different key in the marker (or no marker): a new issue is opened."""
    fake, out = gh
    other = KEY[:16] + "0" * 16
    out.deliver(make_alert(key=other), det, None)
    ref = out.deliver(make_alert(), det, f"{fake.base}/{GH_REPO}/issues/1")
    assert ref.endswith("/issues/2") and len(fake.issue_list()) == 2


def test_marker_in_a_log_value_cannot_suppress_updates(gh, det):
    fake, out = gh
    evil = "<!-- mamori:hits=999 -->"
    ref = out.deliver(make_alert(hits=1, samples=[{"actor": evil}], dedup_values={"actor": evil}), det, None)
    out.deliver(make_alert(hits=2, samples=[{"actor": evil}]), det, ref)
    assert len(fake.comment_list(1)) == 1


def test_429_waits_for_retry_after(gh, det):
    fake, out = gh
    fake.fail_next(1, "429")
    out.deliver(make_alert(), det, None)
    first, second = fake.requests[0], fake.requests[1]
    assert second.at - first.at >= 1.0
    assert len(fake.issue_list()) == 1


def test_502_then_success(gh, det):
    fake, out = gh
    fake.fail_next(2, "502")
    out.deliver(make_alert(), det, None)
    assert len(fake.issue_list()) == 1


def test_timeout_then_success(gh, det):
    fake, out = gh
    fake.fail_next(1, "hang")
    t0 = time.monotonic()
    out.deliver(make_alert(), det, None)
    assert len(fake.issue_list()) == 1
    assert time.monotonic() - t0 < 2.5  # the client gave up at its 1 s timeout, not the server's 2.5 s


def test_persistent_502_raises_after_four_attempts_without_the_token(gh, det, caplog):
    fake, out = gh
    fake.fail_always = "502"
    fake.echo_auth_in_errors = True  # the error page even contains the Authorization header
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="github")  # PyGithub logs every response body at DEBUG
    with pytest.raises(GitHubOutputError) as info:
        out.deliver(make_alert(), det, None)
    assert len(fake.requests) == 4
    assert any(r.name == "github.Requester" for r in caplog.records)
    text = f"{info.value} {info.value!r} {info.value.__cause__!r} {info.value.__context__!r}"
    assert "502" in text and "4 attempt" in text
    assert TOKEN not in text
    assert TOKEN not in caplog.text
    assert info.value.__context__ is None and info.value.__cause__ is None


def test_persistent_429_with_token_echo_is_scrubbed(gh, det, caplog, monkeypatch):
    fake, out = gh
    out.sleep = lambda s: None  # the Retry-After wait itself is covered above
    fake.fail_always = "429"
    fake.echo_auth_in_errors = True
    caplog.set_level(logging.DEBUG)
    with pytest.raises(GitHubOutputError) as info:
        out.deliver(make_alert(), det, None)
    assert len(fake.requests) == 4
    assert TOKEN not in str(info.value) and TOKEN not in caplog.text


def test_bad_token_is_not_retried(gh, det, monkeypatch, settings):
    fake, _ = gh
    connect(monkeypatch, fake, token="ghp_wrongTOKEN0123456789abcdef")
    out = GitHubOutput(settings, timeout=1, backoff=0.05, throttle=False)
    with pytest.raises(GitHubOutputError) as info:
        out.deliver(make_alert(), det, None)
    assert len(fake.requests) == 1 and "401" in str(info.value)
    assert "ghp_wrongTOKEN" not in str(info.value)


def test_issue_state_follows_the_issue(gh, det):
    fake, out = gh
    ref = out.deliver(make_alert(), det, None)
    state, labels = out.issue_state(ref)
    assert state == "open" and "severity:critical" in labels
    fake.close_issue(1)
    assert out.issue_state(ref)[0] == "closed"


def test_lost_comment_response_is_not_repeated(gh, det):
    fake, out = gh
    ref = out.deliver(make_alert(hits=1), det, None)
    fake.fail_next(1, "hang_after", method="POST")
    out.deliver(make_alert(hits=2), det, ref)
    assert len(fake.comment_list(1)) == 1
