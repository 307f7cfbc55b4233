"""`mamori detections scorecard` and `mamori detections tune` over a seeded verdict history.

Five rules with known verdict mixes, each alert judged by closing its incident (as an analyst does in the CLI,
the view or on GitHub): the scorecard's counts, precision, last verdict and keep / tune / retire follow the
documented thresholds (mamori.alerts.scorecard). `tune` replays a proposed suppression on the ledger's stored
hits: refused, naming them, when it would hide a true positive; accepted (and appended for review) when it
hides only false positives."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from mamori.alerts import incidents, triage
from mamori.alerts.ledger import Ledger
from mamori.alerts.scorecard import recommend
from mamori.cli import main
from mamori.config import load_settings
from mamori.detections.dedup import group_hits
from mamori.detections.loader import get_detection
from mamori.detections.suppressions import load_suppressions

REPO = Path(__file__).resolve().parents[2]
ACCT = "111111111111"
T0 = datetime(2026, 11, 1, 1, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
CI_EGRESS = "203.0.113.50"
ATTACKER = "198.51.100.23"
RETIRE = "cloudtrail_console_login_without_mfa"
TUNE = "cloudtrail_security_group_opened_to_world"
KEEP = "cloudtrail_trail_stopped_or_changed"
FEW = "cloudtrail_config_recording_stopped"
BENIGN = "cloudtrail_ami_shared"


def user(name: str) -> str:
    return f"arn:aws:iam::{ACCT}:user/{name}"


# rule → [(actor, source ip or None, verdict)]: one alert each (dedup: account + principal, the user); alerts sharing an
# address share an incident, closed once with that verdict.
HISTORY: dict[str, list[tuple[str, str | None, str]]] = {
    RETIRE: [(user(f"contractor{i}"), None, "false-positive") for i in range(6)],
    TUNE: [(user(f"deployer{i}"), CI_EGRESS, "false-positive") for i in range(4)]
    + [(user(f"intruder{i}"), ATTACKER, "true-positive") for i in range(2)],
    KEEP: [(user(f"admin{i}"), None, "true-positive") for i in range(5)]
    + [(user("auditor"), None, "false-positive")],
    FEW: [(user(f"ops{i}"), None, "true-positive") for i in range(2)],
    BENIGN: [(user(f"builder{i}"), None, "benign-true-positive") for i in range(4)]
    + [(user("thief"), None, "true-positive")],
}
LAST_CLOSE = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def seeded(tmp_path, monkeypatch) -> tuple[Ledger, dict[str, str]]:
    """The history recorded as detect records it, each incident closed with its verdict, one minute apart
    (the last one at LAST_CLOSE); a private copy of sql/ so `tune --write` changes only it."""
    monkeypatch.setenv("MAMORI_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MAMORI_SQL_DIR", str(tmp_path / "sql"))
    monkeypatch.setenv("USER", "alice")
    for var in ("MAMORI_RAW_URL", "MAMORI_LAKE_URL", "MAMORI_LEDGER_URL", "MAMORI_OUTBOX_URL"):
        monkeypatch.delenv(var, raising=False)
    shutil.copytree(REPO / "sql", tmp_path / "sql")
    s = load_settings()
    ledger = Ledger(s.ledger_url)
    for rule, alerts in HISTORY.items():
        det = get_detection(s.sql_dir, rule)
        rows: list[dict[str, Any]] = [
            {
                "event_time": T0 + timedelta(minutes=i),
                "account_id": ACCT,
                "actor": actor,
                "principal": actor,  # an IAM user's principal is its ARN; the rules key alerts on it
                "source_ip": ip,
            }
            for i, (actor, ip, _) in enumerate(alerts)
        ]
        ledger.record_window(det, T0, T0 + HOUR, group_hits(det, rows))
    incidents.record_incidents(T0, T0 + HOUR, s)
    verdict_of = {actor: v for alerts in HISTORY.values() for actor, _, v in alerts}
    found = incidents.list_incidents(ledger)
    assert len(found) == sum(len(v) for v in HISTORY.values()) - 4  # the CI's 4 and the attacker's 2 join
    ids = {}
    for n, inc in enumerate(sorted(found, key=lambda i: i.incident_id)):
        verdicts = {verdict_of[a.dedup_values["principal"]] for a in inc.members}
        assert len(verdicts) == 1
        when = LAST_CLOSE - timedelta(minutes=len(found) - 1 - n)
        triage.close(ledger, inc.incident_id, verdicts.pop(), f"analyst{n}", now=when)
        ids.update({a.dedup_values["principal"]: inc.incident_id for a in inc.members})
    return ledger, ids


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_the_scorecard_counts_precision_and_advice_per_rule(seeded, capsys):
    rc, out, _ = run(capsys, "detections", "scorecard", "--json")
    assert rc == 0
    rows = {r["detection_id"]: r for r in json.loads(out)}
    assert list(rows) == [RETIRE, TUNE, BENIGN, KEEP, FEW]  # worst first
    pick = ("alerts", "incidents", "open", "true_positive", "benign_true_positive", "false_positive")
    assert {k: tuple(r[f] for f in pick) for k, r in rows.items()} == {
        RETIRE: (6, 6, 0, 0, 0, 6),
        TUNE: (6, 2, 0, 2, 0, 4),
        KEEP: (6, 6, 0, 5, 0, 1),
        FEW: (2, 2, 0, 2, 0, 0),
        BENIGN: (5, 5, 0, 1, 4, 0),
    }
    assert {k: r["precision"] for k, r in rows.items()} == {
        RETIRE: 0.0,
        TUNE: 0.3333,
        KEEP: 0.8333,
        FEW: None,  # 2 judged alerts: hidden below 5
        BENIGN: None,  # 1 judged (TP + FP); benign true positives are neither
    }
    assert {k: r["recommendation"] for k, r in rows.items()} == {
        RETIRE: "retire",
        TUNE: "tune",
        KEEP: "keep",
        FEW: "keep",
        BENIGN: "tune",
    }
    assert "fewer than 5" in rows[FEW]["reason"] and "benign" in rows[BENIGN]["reason"]
    assert rows[TUNE]["verdicts"] == 6
    # The last verdict: the latest close of an incident holding one of the rule's alerts.
    latest = max((r for r in rows.values()), key=lambda r: r["last_verdict_at"])
    assert latest["last_verdict_at"] == LAST_CLOSE.isoformat(timespec="seconds")
    assert all(r["last_verdict_by"].startswith("analyst") for r in rows.values())
    assert rows[TUNE]["last_verdict"] in ("true-positive", "false-positive")

    rc, text, _ = run(capsys, "detections", "scorecard")
    assert rc == 0 and "5 rules with alerts" in text
    line = next(x for x in text.splitlines() if x.startswith(TUNE))
    assert "0.33" in line and "tune: precision 0.33 below 0.80" in line


def test_the_thresholds_at_their_edges():
    assert recommend(0, 0, 4)[0] == "keep"  # 4 verdicts: too few
    assert recommend(0, 0, 5)[:1] == ("retire",)
    assert recommend(1, 0, 40)[0] == "tune"  # it caught one real attack: tuned, never retired
    assert recommend(4, 0, 1) == ("keep", "precision 0.80, 4 true positives", 0.8)  # 0.8 keeps
    assert recommend(3, 0, 2)[:1] == ("tune",) and recommend(3, 0, 2)[2] == 0.6
    assert recommend(5, 5, 0)[0] == "tune"  # half benign
    assert recommend(5, 4, 0)[0] == "keep"


def test_tune_refuses_a_suppression_that_would_hide_a_true_positive(seeded, capsys):
    _, incident_of = seeded
    rc, out, err = run(capsys, "detections", "tune", TUNE, "--match", f"source_ip={ATTACKER}")
    assert rc == 1
    assert "REFUSED: it would hide 2 true positive alert(s)" in err
    assert err.count(TUNE) == 2 and incident_of[user("intruder0")] in err
    assert "before: false-positive 4, true-positive 2" in out and "after:  false-positive 4" in out
    before = (load_settings().sql_dir / "suppressions.yaml").read_text()
    rc, _, err = run(capsys, "detections", "tune", TUNE, "--match", f"source_ip={ATTACKER}", "--write")
    assert rc == 1 and (load_settings().sql_dir / "suppressions.yaml").read_text() == before  # not written


def test_tune_accepts_a_suppression_hiding_only_false_positives_and_writes_it_for_review(seeded, capsys):
    rc, out, _ = run(capsys, "detections", "tune", TUNE)  # no --match: proposed from the false positives
    assert rc == 0
    assert f"proposed from {TUNE}'s false positives: source_ip = {CI_EGRESS}" in out
    assert "ACCEPTED: hides 4 alert(s), no true positive" in out
    assert "after:  true-positive 2" in out
    rc, out, _ = run(
        capsys,
        "detections",
        "tune",
        TUNE,
        "--match",
        f"source_ip={CI_EGRESS}",
        "--reason",
        "the CI runners' NAT egress opens test security groups",
        "--expires",
        "2027-01-31",
        "--write",
    )
    assert rc == 0 and "appended" in out
    sql_dir = load_settings().sql_dir
    [entry] = load_suppressions(sql_dir)
    assert (entry.detection, entry.match, entry.owner) == (TUNE, {"source_ip": CI_EGRESS}, "alice")
    assert str(entry.expires) == "2027-01-31"
    text = (sql_dir / "suppressions.yaml").read_text()
    assert text.startswith("# Suppressions as code") and yaml.safe_load(text)[0]["id"] == entry.id
    # The same entry twice is a duplicate id: refused, the file as it was.
    rc, _, err = run(capsys, "detections", "tune", TUNE, "--match", f"source_ip={CI_EGRESS}", "--write")
    assert rc == 2 and "duplicate" in err and (sql_dir / "suppressions.yaml").read_text() == text


def test_tune_needs_alerts_or_false_positives(seeded, capsys):
    rc, _, err = run(capsys, "detections", "tune", FEW)
    assert rc == 2 and "no false positives recorded" in err
    rc, _, err = run(capsys, "detections", "tune", "cloudtrail_root_activity", "--match", "actor=x")
    assert rc == 2 and "no alerts of" in err


def test_the_view_gets_the_same_rows_from_mamori_status(seeded, capsys):
    from mamori.status import scorecard_rows

    _, out, _ = run(capsys, "detections", "scorecard", "--json")
    assert scorecard_rows() == json.loads(out)


def test_a_value_learnt_from_a_log_stays_one_yaml_value(tmp_path):
    """The matched value may come from a log (attacker-controlled): written quoted, it cannot add an entry or
    a key to the reviewed file."""
    from datetime import date

    from mamori.alerts import tune

    shutil.copy(REPO / "sql" / "suppressions.yaml", tmp_path / "suppressions.yaml")
    evil = "x\n- id: allow-everything\n  detection: '*'\n  match: {account_id: '1'}"
    entry = tune.proposal(TUNE, {"actor": evil}, "alice", "a reason long enough", date(2027, 1, 1), "t-evil")
    tune.write_entry(tmp_path, entry)
    [loaded] = load_suppressions(tmp_path)
    assert loaded.match == {"actor": evil} and loaded.detection == TUNE


def test_the_views_scorecard_page_is_the_rows_as_text(seeded):
    """/mamori/scorecard renders `scorecard_rows` worst first, one table row per rule with its counts and last
    verdict; a value from outside (a ticket system's login as the last actor) shows as text, no element."""
    import html

    from mamori.status import render_scorecard_html, scorecard_rows

    rows = scorecard_rows()
    page = render_scorecard_html(rows)
    cells = [
        [html.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<td>(.*?)</td>", tr)]
        for tr in re.findall(r"<tr>(.*?)</tr>", page.split("<tbody>")[1])
    ]
    assert [c[0] for c in cells] == [r["detection_id"] for r in rows]
    by_rule = {c[0]: c for c in cells}
    assert by_rule[RETIRE][1:3] == ["retire", "6"] and by_rule[RETIRE][7] == "6"
    assert by_rule[KEEP][8] == "0.83" and by_rule[FEW][8] == ""
    assert by_rule[RETIRE][9].startswith("false-positive by analyst")

    hostile = "github:<img src=x onerror=alert(1)>"
    page = render_scorecard_html([rows[0] | {"last_verdict_by": hostile, "reason": "<script>x</script>"}])
    assert "<img" not in page and "<script" not in page
    assert html.escape(hostile, quote=True) in page
    assert "No verdicts yet" in render_scorecard_html([])
