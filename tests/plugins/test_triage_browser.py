"""Triage and search in the mamori view as an analyst does it: a real `airflow api-server` (login on) over a home
that mamori's own stages filled (generated CloudTrail with its attack story, ingested, detected and grouped
into incidents), and headless Chromium driven over the DevTools protocol, clicking.

The analyst signs in on Airflow's login page, opens the incident queue, opens the most severe incident,
acknowledges it, closes it as a false positive with a note carrying markup and a Markdown link; the ledger
(read through `mamori.status`, as the CLI reads it) holds the close with that verdict, note and user, and the
page shows the note as text: no element was made from it. Posts that do not come from the page's own form
(no token, a wrong token, a form on another origin even with the right token) are refused and change nothing.
Then the incident's entity pivots to the search page, and a search for an event whose fields carry markup
shows it as text.

The home's GitHub and PagerDuty outputs point at fakes served on 127.0.0.1, and the seeded alerts are
dispatched before the browser opens, so the incident has its issue and its page. After the close, one run of
the dispatch DAG's two tasks (`detect.dispatch`, `detect.sync_alerts`) labels the issue
`verdict:false-positive`, comments the verdict with the note inert and closes it, resolves the page, and
the scorecard (`mamori.status.scorecard_rows`, what `mamori detections scorecard` prints) counts the false
positive for the incident's rules, by the analyst, as the view's scorecard page (/mamori/scorecard) shows.
One of those rules was given a history before the session (four more of its alerts, landed, ingested and
detected by the stage functions, each incident closed as a true positive through the view's triage call):
four judged alerts hide its precision, and the close, the fifth, makes it exactly 4/5 = 0.80, in the rows
and on the page.

With MAMORI_SCREENSHOT_DIR set (`make screenshot`), the run's screenshots of the incident queue, an incident
page, the search page and the charts are copied there (docs/).
"""

from __future__ import annotations

import contextlib
import gzip
import http.server
import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import chromium_cdp
import cmarkgfm
import pytest
import view_support
from cmarkgfm.cmark import Options

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "alerts"))
import fake_github  # the fakes live beside the alert tests (as tests/e2e/test_scheduler.py)
from fake_pagerduty_slack import FakePagerDuty

pytestmark = pytest.mark.slow

ANALYST = "analyst"
NOTE = "scanner we run <img src=x onerror=alert(1)> see [runbook](https://evil.example/x) **bold**"
CONNECTIONS = ("AIRFLOW_CONN_MAMORI_GITHUB", "AIRFLOW_CONN_MAMORI_PAGERDUTY")
ROUTING_KEY = "R0UT1NGKEYFAKE0000000000000000ab"
# A verdict history for one of the closed incident's rules, so the close moves its precision: four more
# alerts of it (distinct actors: one each, by its dedup keys), each its own incident closed as true positive.
PRECISION_RULE = "cloudtrail_security_group_opened_to_world"
HISTORY = 4
HISTORY_TIME = view_support.START + timedelta(hours=view_support.HOURS + 1, minutes=10)
SHOTS = {
    "queue": "mamori-incidents.png",
    "incident": "mamori-incident.png",
    "search": "mamori-search.png",
    "charts": "mamori-charts.png",
}


@dataclass
class View:
    url: str
    airflow_home: Path
    seeded: view_support.Seeded
    out: Path
    github: fake_github.FakeGitHub
    pagerduty: FakePagerDuty
    history: list[str]  # the incidents closed as true positives before the session (_seed_verdict_history)


@pytest.fixture(scope="module")
def view(tmp_path_factory: pytest.TempPathFactory) -> Iterator[View]:
    chromium_cdp.chromium()  # skip (or fail, where required) before minutes of seeding, not after
    base = tmp_path_factory.mktemp("triage-browser")
    saved = {k: os.environ.get(k) for k in ("MAMORI_HOME", "MAMORI_SQL_DIR", *CONNECTIONS)}
    gh, gh_server = fake_github.start()
    try:
        with FakePagerDuty() as pd:
            # The outputs' Airflow connections, as an operator puts them in .env; read by this process's
            # dispatch (the api-server only records triage in the ledger).
            os.environ[CONNECTIONS[0]] = json.dumps(
                {
                    "conn_type": "github",
                    "password": fake_github.TOKEN,
                    "host": gh.api_url,
                    "extra": {"repo": "acme/security-alerts"},
                }
            )
            os.environ[CONNECTIONS[1]] = json.dumps(
                {"conn_type": "pagerduty_events", "password": ROUTING_KEY, "host": pd.url}
            )
            seeded = view_support.seed_home(base)
            history = _seed_verdict_history()
            from mamori import detect

            detect.dispatch()  # the incidents' issues and pages, before anyone triages
            airflow_home = base / "airflow"
            with view_support.api_server(
                airflow_home,
                seeded.home,
                f"{ANALYST}:USER,viewer:VIEWER",
                {"MAMORI_SQL_DIR": str(seeded.sql_dir)},
            ) as url:
                yield View(url, airflow_home, seeded, base, gh, pd, history)
    finally:
        fake_github.stop(gh_server)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _history_delivery() -> tuple[str, bytes]:
    """HISTORY security groups opened to the world an hour after the generated data, each by another user
    from another address: HISTORY alerts of PRECISION_RULE, none sharing an entity with the attack story."""
    records = [
        {
            "eventVersion": "1.09",
            "userIdentity": {
                "type": "IAMUser",
                "principalId": f"AIDAHISTORY00000000{n}",
                "arn": f"arn:aws:iam::111111111111:user/netops{n}",
                "accountId": "111111111111",
                "userName": f"netops{n}",
            },
            "eventTime": (HISTORY_TIME + timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": "ec2.amazonaws.com",
            "eventName": "AuthorizeSecurityGroupIngress",
            "awsRegion": "us-east-1",
            "sourceIPAddress": f"192.0.2.{10 + n}",
            "userAgent": "aws-cli/2.15.0",
            "requestParameters": {
                "groupId": f"sg-0history000000{n}",
                "ipPermissions": {
                    "items": [
                        {
                            "ipProtocol": "tcp",
                            "fromPort": 22,
                            "toPort": 22,
                            "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]},
                        }
                    ]
                },
            },
            "requestID": f"req-history-{n}",
            "eventID": f"00000000-0000-0000-0000-00000000007{n}",
            "readOnly": False,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": "111111111111",
            "eventCategory": "Management",
        }
        for n in range(HISTORY)
    ]
    key = (
        "AWSLogs/111111111111/CloudTrail/us-east-1/2026/11/01/"
        f"111111111111_CloudTrail_us-east-1_{HISTORY_TIME:%Y%m%dT%H%MZ}_history0000000000.json.gz"
    )
    return key, gzip.compress(json.dumps({"Records": records}).encode())


def _seed_verdict_history() -> list[str]:
    """PRECISION_RULE's earlier verdicts, given as an analyst gives them: the history delivery lands, is
    ingested and detected by the stage functions in the hour after the seeded ones, and each incident it
    makes is closed as a true positive through the view's triage call. HISTORY true positives are below
    the scorecard's MIN_VERDICTS judged alerts: the rule's precision is not shown until one more verdict."""
    from mamori import detect, ingest, status
    from mamori.config import load_settings
    from mamori.lake import Store

    s = load_settings()
    raw = Store(s.raw_url, s.raw_conn_id)
    key, data = _history_delivery()
    raw.write_atomic(key, data)
    raw.set_landed(key, HISTORY_TIME + timedelta(minutes=HISTORY + 4))
    known = {i["id"] for i in status.collect(datetime.now(UTC), s)["incidents"]}
    for h in (1, 2):  # the delivery's ingest window and the next; the detect runs whose windows see it
        ws = view_support.START + timedelta(hours=view_support.HOURS + h)
        we = ws + timedelta(hours=1)
        for batch in ingest.plan_window("cloudtrail", ws, we):
            ingest.convert_batch(batch)
        ingest.finalize_window("cloudtrail", ws, we)
        detect.summarize_window([detect.run_chunk(ids, ws, we) for ids in detect.detection_chunks()], ws, we)
    history = [i for i in status.collect(datetime.now(UTC), s)["incidents"] if i["id"] not in known]
    assert [i["rules"] for i in history] == [[PRECISION_RULE]] * HISTORY, history
    for i in history:
        status.triage_incident(i["id"], "close", "earlier-analyst", "true-positive", "confirmed, reverted", s)
    return [i["id"] for i in history]


def _settings(view: View) -> Any:
    from mamori.config import load_settings

    return load_settings({"MAMORI_HOME": str(view.seeded.home), "MAMORI_SQL_DIR": str(view.seeded.sql_dir)})


def _sign_in(page: chromium_cdp.Page, view: View, user: str) -> None:
    """Airflow's own login page (SimpleAuthManager): the UI redirects there, the analyst types and signs in,
    and the `_token` cookie it sets is what the mamori view's requests carry."""
    page.goto(view.url + "/")
    page.wait_for("!!document.querySelector('input[name=password]')")
    page.type("input[name=username]", user)
    page.type("input[name=password]", view_support.passwords(view.airflow_home)[user])
    page.wait_for("!document.querySelector('button[type=submit]').disabled")
    page.click("button[type=submit]")
    page.wait_for("!location.pathname.startsWith('/auth/')")


def _cells(page: chromium_cdp.Page, table: str) -> list[list[str]]:
    return list(
        page.eval(
            f"[...document.querySelectorAll('table.{table} tbody tr')]"
            ".map(r => [...r.cells].map(c => c.textContent))"
        )
    )


def _forge_page(action: str, token: str) -> bytes:
    """Another site's page with a form aimed at a triage route, carrying even the right token (as if it had
    leaked): the browser sends the analyst's cookie along; only the request's origin gives it away."""
    return (
        "<!doctype html><html><body>"
        f"<form method='post' action='{action}'><input type='hidden' name='csrf' value='{token}'>"
        "<button id='go' type='submit'>win a prize</button></form></body></html>"
    ).encode()


@contextlib.contextmanager
def _other_site(body: bytes) -> Iterator[int]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def _issue_number(view: View, incident_id: str) -> int:
    """The incident's issue on the fake GitHub, from the ledger's record of its delivery."""
    from mamori.alerts.ledger import Ledger

    _, ticket = Ledger(_settings(view).ledger_url).incident_tickets("github")[incident_id]
    assert ticket.ref, incident_id
    return int(ticket.ref.rstrip("/").rsplit("/", 1)[1])


def _issue(view: View, number: int) -> dict[str, Any]:
    [issue] = [i for i in view.github.issue_list() if i["number"] == number]
    return issue


def test_an_analyst_triages_and_searches_in_the_browser(view: View) -> None:
    from mamori import detect, status

    t0 = time.monotonic()
    s = _settings(view)
    shots: dict[str, Path] = {}
    first = status.collect(datetime.now(UTC), s)["incidents"][0]
    issue_no = _issue_number(view, first["id"])
    assert _issue(view, issue_no)["state"] == "open"
    assert [i.state for i in view.pagerduty.incidents_for(first["id"])] == ["triggered"]
    score_before = {r["detection_id"]: r for r in status.scorecard_rows(s)}
    # The rule's history: HISTORY true positives, one judged alert short of a shown precision.
    assert PRECISION_RULE in first["rules"] and first["alerts"] == len(first["rules"]), first
    was = score_before[PRECISION_RULE]
    assert (was["true_positive"], was["false_positive"], was["precision"]) == (HISTORY, 0, None), was
    with chromium_cdp.browser(view.out) as page:
        _sign_in(page, view, ANALYST)
        page.goto(f"{view.url}/mamori/scorecard")
        row = {r[0]: r for r in _cells(page, "scorecard")}[PRECISION_RULE]
        assert (row[5], row[7], row[8]) == (str(HISTORY), "0", ""), row

        # The queue: the most severe incident first; its link opens the incident page.
        page.goto(view.url + "/mamori/")
        queue = _cells(page, "incidents")
        # The history's incidents are listed closed with their verdict; every other one is open.
        history = {h[:12] for h in view.history}
        assert queue and all(row[1] == "open" for row in queue if row[0] not in history), queue
        assert {row[0]: row[1] for row in queue if row[0] in history} == dict.fromkeys(
            history, "closed (true-positive)"
        ), queue
        assert queue[0][0] == first["id"][:12]
        shots["queue"] = page.screenshot(view.out / SHOTS["queue"])
        shots["charts"] = page.screenshot(view.out / SHOTS["charts"], "#charts")
        page.click("table.incidents tbody tr:first-child a", navigates=True)
        assert page.url() == f"{view.url}/mamori/incidents/{first['id']}"
        assert first["id"] in page.text() and "Acknowledge" in page.text()
        shots["incident"] = page.screenshot(view.out / SHOTS["incident"])

        # Acknowledge, then close as a false positive with the hostile note: each a click on the form.
        page.type("form[action$='/acknowledge'] input[name=note]", "looking")
        page.click("form[action$='/acknowledge'] button", navigates=True)
        assert status.incident_page(first["id"], s)["status"] == "acknowledged"
        assert page.url().endswith(f"/mamori/incidents/{first['id']}")  # back on the page (303)
        page.eval(
            "(() => { const s = document.querySelector(\"form[action$='/close'] select[name=verdict]\");"
            " s.value = 'false-positive'; s.dispatchEvent(new Event('change')); })()"
        )
        page.type("form[action$='/close'] input[name=note]", NOTE)
        page.click("form[action$='/close'] button", navigates=True)

        closed = status.incident_page(first["id"], s)
        assert (closed["status"], closed["verdict"]) == ("closed", "false-positive")
        assert [(a["action"], a["actor"], a["verdict"], a["note"]) for a in closed["actions"]] == [
            ("acknowledge", ANALYST, None, "looking"),
            ("close", ANALYST, "false-positive", NOTE),
        ]
        # The note on the page: the exact text in its cell, and no element made from it.
        record = _cells(page, "actions")
        assert record[-1][1:] == [ANALYST, "close false-positive", NOTE], record
        assert page.eval("document.images.length") == 0
        assert page.eval("document.querySelectorAll('a[href*=\"evil.example\"], strong, b').length") == 0
        assert (
            page.eval(
                "document.querySelector('table.actions tbody tr:last-child td:last-child').childElementCount"
            )
            == 0
        )
        assert not [e for e in page.events if e["method"] == "Page.javascriptDialogOpening"]

        # Forged posts change nothing: the Reopen form without its token, with another token, and the same
        # form on another origin (same site: the cookie goes along) carrying the right token.
        token = page.eval("document.querySelector(\"form[action$='/reopen'] input[name=csrf]\").value")
        page.eval("document.querySelector(\"form[action$='/reopen'] input[name=csrf]\").remove()")
        page.click("form[action$='/reopen'] button", navigates=True)
        assert "the form's token does not match" in page.text()
        page.goto(f"{view.url}/mamori/incidents/{first['id']}")
        page.eval(
            "document.querySelector(\"form[action$='/reopen'] input[name=csrf]\").value = '0'.repeat(64)"
        )
        page.click("form[action$='/reopen'] button", navigates=True)
        assert "the form's token does not match" in page.text()
        action = f"{view.url}/mamori/incidents/{first['id']}/reopen"
        with _other_site(_forge_page(action, token)) as port:
            # Same site, another port: the cookie goes along, the Fetch Metadata check refuses.
            page.goto(f"http://127.0.0.1:{port}/")
            page.click("#go", navigates=True)
            assert page.url() == action and "posted from the mamori view only" in page.text(), page.text()
            # Another site: refused too (by the same check, or sooner when the browser keeps the cookie home).
            page.goto(f"http://localhost:{port}/")
            page.click("#go", navigates=True)
            assert page.url() == action
            assert any(w in page.text() for w in ("mamori view only", "Not authenticated")), page.text()
        after = status.incident_page(first["id"], s)
        assert after["status"] == "closed" and len(after["actions"]) == 2

        # One run of the dispatch DAG (its dispatch task, then its sync task) shows the close on the tickets.
        before = len(view.github.comment_list(issue_no))
        detect.dispatch(s)
        detect.sync_alerts(s)
        issue = _issue(view, issue_no)
        assert issue["state"] == "closed", issue
        assert "verdict:false-positive" in {lb["name"] for lb in issue["labels"]}, issue["labels"]
        [comment] = view.github.comment_list(issue_no)[before:]
        assert "`false-positive`" in comment["body"] and f"`{ANALYST}`" in comment["body"], comment["body"]
        # The note as GitHub renders it: all its characters there as text, no element made from it.
        html = cmarkgfm.github_flavored_markdown_to_html(comment["body"], options=Options.CMARK_OPT_UNSAFE)
        assert NOTE.replace("<", "&lt;").replace(">", "&gt;") in html, html
        assert "<img" not in html and 'evil.example/x"' not in html and "<strong>bold" not in html, html
        assert [i.state for i in view.pagerduty.incidents_for(first["id"])] == ["resolved"]
        # The scorecard counts the false positive for the incident's rules, by the analyst.
        score_after = {r["detection_id"]: r for r in status.scorecard_rows(s)}
        added = 0
        for rule in first["rules"]:
            was, now = score_before[rule], score_after[rule]
            assert now["false_positive"] > was["false_positive"] and now["open"] < was["open"], (was, now)
            assert (now["last_verdict"], now["last_verdict_by"]) == ("false-positive", ANALYST), now
            added += now["false_positive"] - was["false_positive"]
        assert added == first["alerts"]
        # The close is the rule's fifth judged alert: its precision is shown, 4 true of 5 judged.
        now = score_after[PRECISION_RULE]
        assert (now["true_positive"], now["false_positive"], now["precision"]) == (HISTORY, 1, 0.8), now

        # The same rows in the view's scorecard page, as text.
        page.goto(f"{view.url}/mamori/scorecard")
        shown = {r[0]: r for r in _cells(page, "scorecard")}
        for rule in first["rules"]:
            assert shown[rule][7] == str(score_after[rule]["false_positive"]), shown[rule]
            assert shown[rule][9].startswith(f"false-positive by {ANALYST}"), shown[rule]
        assert (shown[PRECISION_RULE][5], shown[PRECISION_RULE][8]) == (str(HISTORY), "0.80"), shown[
            PRECISION_RULE
        ]

        # Search: the incident's IP pivots to its events; an event whose fields carry markup shows as text.
        page.goto(f"{view.url}/mamori/incidents/{first['id']}")
        ip = next(e["value"] for e in first["entities"] if e["kind"] == "ip")
        page.click(f"a.pivot[href*='ip={ip}']", navigates=True)
        rows = _cells(page, "results")
        assert rows and all(ip in r[6].split(",") for r in rows), rows[:3]
        shots["search"] = page.screenshot(view.out / SHOTS["search"])
        page.goto(f"{view.url}/mamori/search")
        page.type("input[name=from]", view_support.START.isoformat())
        page.type("input[name=to]", (view_support.START + timedelta(hours=6)).isoformat())
        page.type("input[name=ip]", view_support.MARKUP_IP)
        page.click("form.search button", navigates=True)
        (row,) = _cells(page, "results")
        assert row[4] == "GetCallerIdentity" and view_support.MARKUP in row[7], row
        assert page.eval("document.images.length") == 0
        assert page.eval("document.querySelectorAll('a[href*=\"evil.example\"]').length") == 0
        assert not [e for e in page.events if e["method"] == "Page.javascriptDialogOpening"]

    for shot in shots.values():
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000, shot
    target = os.environ.get("MAMORI_SCREENSHOT_DIR")  # `make screenshot` → docs/
    if target:
        for name, shot in shots.items():
            shutil.copyfile(shot, Path(target) / SHOTS[name])
    print(f"\ntriage browser test: {time.monotonic() - t0:.1f} s; screenshots in {view.out}")
