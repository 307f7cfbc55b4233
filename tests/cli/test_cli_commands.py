"""`mamori detections backtest`, `mamori suppressions report` and `mamori quality report`, run through the real
command line (`main([...])`) over a small ingested lake (conftest.py), each checked against figures counted
independently from the generated records, and each refusing bad arguments with one line and exit 2."""

from __future__ import annotations

import json
import shutil
import statistics
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cli_lake import ACCT, ACCT_B, HOURS, START, WINDOWS, Lake

from mamori.alerts.ledger import Ledger
from mamori.cli import main
from mamori.config import load_settings

REPO = Path(__file__).resolve().parents[2]
BRUTE = "cloudtrail_console_login_brute_force"
SG = "cloudtrail_security_group_opened_to_world"
ROOT = "cloudtrail_root_activity"
CI_ROLE = f"arn:aws:sts::{ACCT_B}:assumed-role/ci-deploy/GitHubActions"


def iso(t: datetime) -> str:
    return t.isoformat()


def t_of(rec: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(rec["eventTime"].replace("Z", "+00:00"))


def one_line_error(capsys: pytest.CaptureFixture[str], prefix: str) -> str:
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{prefix}: "), out.err
    return lines[0]


# -- mamori detections backtest -------------------------------------------------------------------------------


def test_backtest_counts_hits_alerts_and_top_entities(lake: Lake, capsys: pytest.CaptureFixture[str]) -> None:
    end = START + timedelta(hours=HOURS)
    assert main(["detections", "backtest", BRUTE, "--from", iso(START), "--to", iso(end)]) == 0
    lines = capsys.readouterr().out.splitlines()

    # The oracle: every failed console login in the range is a hit; the attack's 8 share one 15-minute bucket.
    failures = [
        r
        for r in lake.records
        if r["eventName"] == "ConsoleLogin"
        and r["responseElements"]["ConsoleLogin"] == "Failure"
        and START <= t_of(r) < end
    ]
    (step,) = [st for st in lake.steps if BRUTE in st.detections]
    assert len(failures) > 8  # background typos too: hits that stay below the threshold
    assert lines[0] == (
        f"{BRUTE}: {HOURS} windows, {len(failures)} hits, 1 alerts "
        "(threshold 5, dedup ['account_id', 'actor'] per 15m)"
    )
    assert lines[1] == (
        f"  alert {step.time:%Y-%m-%d %H:%M:%S} hits=8    {{'account_id': '{ACCT}', 'actor': 'alice'}}"
    )
    # The five most frequent values with their counts; values tied on a count may come in any order (the rule's
    # rows are not ordered), so each listed value is checked against its own count.
    for line, label, field in ((lines[2], "actor", "userName"), (lines[3], "source_ip", "sourceIPAddress")):
        oracle = Counter(r["userIdentity"][field] if field == "userName" else r[field] for r in failures)
        assert line.startswith(f"  top {label:10} "), line
        shown = [v.rsplit(" (", 1) for v in line.removeprefix(f"  top {label:10} ").split(", ")]
        assert [int(n.rstrip(")")) for _, n in shown] == [n for _, n in oracle.most_common(5)], line
        assert all(oracle[v] == int(n.rstrip(")")) for v, n in shown), line
    assert lines[3].startswith("  top source_ip  198.51.100.23 (8)")

    # A range before the attack: the background failures only, and no alert.
    quiet_end = START + timedelta(hours=1)
    assert main(["detections", "backtest", BRUTE, "--from", iso(START), "--to", iso(quiet_end)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    quiet = sum(1 for r in failures if t_of(r) < quiet_end)
    assert first.startswith(f"{BRUTE}: 1 windows, {quiet} hits, 0 alerts")


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["no_such_rule", "--from", "2026-11-01T00:00", "--to", "2026-11-01T06:00"], "no_such_rule"),
        ([BRUTE, "--from", "yesterday", "--to", "2026-11-01T06:00"], "'yesterday'"),
        ([BRUTE, "--from", "2026-11-01T06:00", "--to", "2026-11-01T00:00"], "empty range"),
    ],
)
def test_backtest_refuses_bad_arguments(
    lake: Lake, capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    assert main(["detections", "backtest", *argv]) == 2
    assert says in one_line_error(capsys, "backtest")


# -- mamori suppressions report -------------------------------------------------------------------------------

SUPPRESSIONS = f"""
- id: ci-deploy-bastion
  detection: {SG}
  match: {{account_id: "{ACCT_B}", actor: "{CI_ROLE}"}}
  owner: platform-team
  reason: CI opens tcp/22 to ::/0 while it rebuilds the bastion (ticket OPS-42)
  expires: 2027-01-31
- id: root-drill-over
  detection: {ROOT}
  match: {{account_id: "{ACCT}"}}
  owner: security-engineering
  reason: quarterly break-glass drill from the office (ticket SEC-123), done in October
  expires: 2026-10-15
- id: office-egress
  detection: "*"
  match: {{source_ip: "203.0.113.77"}}
  owner: security-engineering
  reason: the office's egress address, scanned by our own vulnerability scanner
  expires: 2027-06-30
"""


@pytest.fixture
def suppressed(lake: Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lake:
    """The catalog with three suppressions, and its two rules run over the lake by `mamori backfill`."""
    sql = tmp_path / "sql"
    shutil.copytree(REPO / "sql", sql)
    (sql / "suppressions.yaml").write_text(SUPPRESSIONS)
    monkeypatch.setenv("MAMORI_SQL_DIR", str(sql))
    # Detect intervals are shifted back by the detection lag (1 h): these cover the events of [START, +6 h).
    argv = ["backfill", "--skip-ingest", "--detections", f"{SG},{ROOT}"]
    argv += ["--from", iso(START + timedelta(hours=1)), "--to", iso(START + timedelta(hours=WINDOWS))]
    assert main(argv) == 0
    return lake


def test_suppressions_report_says_which_entry_hid_what(
    suppressed: Lake, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    end = START + timedelta(hours=HOURS)
    assert main(["suppressions", "report", "--from", iso(START), "--to", iso(end)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [ln.split()[:2] for ln in out] == [
        ["ci-deploy-bastion", "active"],
        [SG, "1"],
        ["root-drill-over", "EXPIRED"],
        ["office-egress", "active"],
    ]
    assert "owner=platform-team" in out[0] and "hid 1 hits" in out[0]
    assert "EXPIRED 2026-10-15" in out[2] and "hid 0 hits" in out[2]
    assert "hid 0 hits" in out[3]

    # What the ledger holds agrees: the CI role's rule change was hidden, admin-bob's was not, and the expired
    # drill entry no longer hides the attacker's root login.
    alerts = Ledger(load_settings().ledger_url).alerts()
    by_rule = sorted(
        (a.detection_id, a.dedup_values.get("principal", "")) for a in alerts if a.detection_id in (SG, ROOT)
    )
    bob = f"arn:aws:iam::{ACCT}:user/admin-bob"
    assert by_rule == [(ROOT, ""), (SG, bob)]
    sg_steps = [st for st in suppressed.steps if SG in st.detections]
    # The rule keys on the principal: the CI role itself, not its GitHubActions session.
    ci_role = f"arn:aws:iam::{ACCT_B}:role/ci-deploy"
    assert sorted(st.expected_dedup_values(SG)["principal"] for st in sg_steps) == sorted([bob, ci_role])

    # The range counts: the CI role's change happened at 05:22, outside [START, 05:00).
    assert (
        main(["suppressions", "report", "--from", iso(START), "--to", iso(START + timedelta(hours=5))]) == 0
    )
    assert "hid 0 hits" in capsys.readouterr().out.splitlines()[0]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--from", "x", "--to", "2026-11-02T00:00"], "'x'"),
        (["--from", "2026-11-02T00:00", "--to", "2026-11-01T00:00"], "empty range"),
    ],
)
def test_suppressions_report_refuses_bad_arguments(
    lake: Lake, capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    assert main(["suppressions", "report", *argv]) == 2
    assert says in one_line_error(capsys, "suppressions")


def test_suppressions_report_refuses_a_malformed_file(
    lake: Lake, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sql = tmp_path / "sql"
    sql.mkdir()
    (sql / "suppressions.yaml").write_text("- id: no-owner\n  detection: '*'\n  match: {a: b}\n")
    monkeypatch.setenv("MAMORI_SQL_DIR", str(sql))
    assert main(["suppressions", "report", "--from", "2026-11-01", "--to", "2026-11-02"]) == 2
    assert "suppressions.yaml" in one_line_error(capsys, "suppressions")


# -- mamori quality report ------------------------------------------------------------------------------------


def _sections(out: str) -> tuple[list[str], list[str]]:
    """(data-quality table, freshness table) of a quality report."""
    dq, _, fresh = out.partition("\nfreshness per stream")
    return dq.splitlines(), ("freshness per stream" + fresh).splitlines()


def _row(lines: list[str], first: str, second: str | None = None) -> list[str]:
    (row,) = [ln.split() for ln in lines if ln.split()[:1] == [first] and second in (None, ln.split()[1])]
    return row


def test_quality_report_figures(lake: Lake, capsys: pytest.CaptureFixture[str]) -> None:
    # Expectations per batch, as the batch's kept GX result lists them (row checks, schema, row count).
    kept = lake.home / "lake/_manifests/cloudtrail/window=20261101T0000Z/dq-batch-0000.json"
    per_batch = len(json.loads(kept.read_text())["checks"])
    assert per_batch > 20
    assert main(["quality", "report"]) == 0
    lines, fresh = _sections(capsys.readouterr().out)
    end = START + timedelta(hours=WINDOWS)  # default: the end of the latest finalized window
    assert lines[0] == f"data quality per source, windows starting in [first, {end})"
    # One batch per window; the hand-written delivery's eventSource fails one check (flag) in one batch.
    assert _row(lines, "cloudtrail") == [
        "cloudtrail",
        str(WINDOWS),
        f"{WINDOWS - 1}/{WINDOWS}",
        f"{WINDOWS * per_batch - 1}/{WINDOWS * per_batch}",
        "0",
        "regex:eventsource",
        "(flag,",
        "1",
        "rows",
        "in",
        "1",
        "batches)",
    ]
    assert _row(lines, "alb")[1:5] == ["0", "0/0", "0/0", "0"]  # a source with no window yet

    # Freshness of each CloudTrail stream in the last window, which only holds the day's stragglers.
    assert fresh[0] == f"freshness per stream, ingest window ending {end.isoformat()}"
    for acct in (ACCT, ACCT_B):
        for region in ("us-east-1", "eu-west-1"):
            per_window = [0] * WINDOWS
            objects = 0
            for key, landed, n in lake.objects:
                if f"/{acct}/CloudTrail/{region}/" in key:
                    per_window[int((landed - START) / timedelta(hours=1))] += n
                    objects += landed >= end - timedelta(hours=1)
            row = _row(fresh, "cloudtrail", f"{acct}/{region}")
            median = statistics.median(per_window[:-1])
            assert row[2:6] == ["low", str(objects), str(per_window[-1]), f"{median:.0f}"]
            assert per_window[-1] < 0.2 * median  # below volume_drop_ratio of its median window

    # A range: two windows, the failing one among them; freshness of a window with too little history.
    assert (
        main(
            [
                "quality",
                "report",
                "--from",
                iso(START + timedelta(hours=2)),
                "--to",
                iso(START + timedelta(hours=4)),
            ]
        )
        == 0
    )
    lines, fresh = _sections(capsys.readouterr().out)
    assert _row(lines, "cloudtrail")[1:5] == ["2", "1/2", f"{2 * per_batch - 1}/{2 * per_batch}", "0"]
    assert _row(fresh, "cloudtrail", f"{ACCT}/us-east-1")[2] == "learning"


def test_quality_report_refuses_bad_arguments_and_says_when_there_is_nothing(
    lake: Lake, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["quality", "report", "--from", "2026-13-01"]) == 2
    assert "'2026-13-01'" in one_line_error(capsys, "quality")
    assert main(["quality", "report", "--from", "2026-11-01T04:00", "--to", "2026-11-01T02:00"]) == 2
    assert "empty range" in one_line_error(capsys, "quality")
    monkeypatch.setenv("MAMORI_HOME", str(tmp_path / "empty"))
    assert main(["quality", "report"]) == 1
    assert capsys.readouterr().out.strip() == "no finalized ingest window yet"


# -- mamori backfill: recorded, then ticketed only when dispatched ----------------------------------------------


def test_backfill_records_alerts_and_tickets_them_only_with_dispatch(
    lake: Lake, capsys: pytest.CaptureFixture[str]
) -> None:
    """A backfill records its alerts with ticket routes only (no paging without --page); tickets are opened by
    a dispatch: `--dispatch` at the end of the backfill, else the next dispatch_alerts run."""
    s = load_settings()
    argv = ["backfill", "--skip-ingest", "--detections", f"{SG},{ROOT}"]
    argv += ["--from", iso(START + timedelta(hours=1)), "--to", iso(START + timedelta(hours=WINDOWS))]
    tickets = Path(s.outbox_url.removeprefix("file://")) / "tickets"

    capsys.readouterr()
    assert main(argv) == 0
    ours = [a for a in Ledger(s.ledger_url).alerts() if a.detection_id in (SG, ROOT)]
    assert len(ours) == 3 and all(a.routes == ["github"] for a in ours)  # high severity, yet no page
    assert not tickets.exists()
    # It says where the alerts went and that nothing was delivered without --dispatch.
    note = capsys.readouterr().err.strip().splitlines()[-1]
    assert note.startswith("alerts: 3 opened or updated in the alert ledger (sqlite:///"), note
    assert "routed to github; NOT delivered: no ticket was opened" in note
    assert "Deliver them with --dispatch" in note and s.outbox_url in note

    assert main([*argv, "--dispatch"]) == 0  # the work is done (resumed: nothing runs), then dispatch
    out = capsys.readouterr()
    summary = json.loads(out.out.strip().splitlines()[-1])
    assert summary["ran"] == 0 and summary["dispatch"]["failed"] == 0
    assert "alert_keys" not in summary  # the note's input, not output
    assert "alerts: none opened or updated" in out.err  # resumed: this run's detect steps were all done
    for a in ours:  # no GitHub connection here: the ticket is the local Markdown one
        assert (tickets / a.detection_id / f"{a.key}.md").is_file()


def test_help_says_where_raw_data_is_read_from_which_objects_and_the_detect_lag(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`mamori --help` and `mamori backfill --help` name MAMORI_RAW_URL, the landing-time rule, the detect lag,
    the key-date import, and that a backfill delivers nothing without --dispatch."""
    for argv in (["--help"], ["backfill", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        text = " ".join(capsys.readouterr().out.split())
        for fact in (
            "MAMORI_RAW_URL (default $MAMORI_HOME/raw",
            "reads the objects that LANDED in it (S3 LastModified), under the key dates of its own day and the "
            "day before",
            "`mamori backfill --by key-date` imports them",
            "first evaluates each source's events of [start - first, end - first), the first lag being "
            "MAMORI_DETECT_FIRST_LAG_MINUTES (default 0",
            "re-reads the windows before it up to the lag, the lag being the source's delivery lag",
            "or MAMORI_DETECT_LAG_MINUTES for every source when set",
            "re-reads the windows of the MAMORI_DETECT_OVERLAP_MINUTES (default 15) before those",
        ):
            assert fact in text, (argv, fact)
    assert "--by {landing,key-date}" in text
    assert "nothing is delivered (no ticket, no outbox file) unless --dispatch" in text
