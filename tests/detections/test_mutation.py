"""Mutation testing of detections: the generator makes the right breaks, the runner notices what cases prove,
and the catalog's cases kill every mutant (fast tier: the rules changed since docs/coverage.md; slow: all)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mamori.detections.coverage import recorded_fingerprints
from mamori.detections.loader import Detection, load_catalog, load_detection
from mamori.detections.mutate import fingerprint, generate_mutants, identity_body, score_rule

REPO = Path(__file__).resolve().parents[2]
SQL = REPO / "sql"
CASES = REPO / "tests" / "detections"
ROOT_RULE = SQL / "detections" / "cloudtrail" / "cloudtrail_root_activity.sql"


def _rule(tmp_path: Path, body: str, extra_header: str = "", source: str = "cloudtrail") -> Detection:
    text = ROOT_RULE.read_text()
    header = text[: text.index("*/")]
    header = header.replace("id: cloudtrail_root_activity", "id: cloudtrail_mutation_probe")
    path = tmp_path / "sql" / "detections" / source / "cloudtrail_mutation_probe.sql"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + extra_header + "*/\n" + body)
    return load_detection(path)


def _copy_cases(tmp_path: Path, src_id: str, dst_id: str, keep: dict[str, list[str]] | None = None) -> Path:
    cases = tmp_path / "cases"
    shutil.copytree(CASES / src_id, cases / dst_id)
    for kind, names in (keep or {}).items():
        for p in (cases / dst_id / kind).iterdir():
            if p.name not in names:
                p.unlink()
    return cases


ROOT_BODY = ROOT_RULE.read_text().split("*/", 1)[1]


def test_mutants_cover_each_condition_comparison_and_threshold(tmp_path):
    det = _rule(
        tmp_path,
        "SELECT event_time, account_id, sourceipaddress AS source_ip, eventname AS event_name,\n"
        "  useridentity.arn AS actor, count(*) AS n\nFROM cloudtrail\n"
        "WHERE {{ window() }} AND useridentity.type = 'Root' AND errorcode IS NULL\n"
        "  AND eventname IN ('A', 'B')\n"
        "GROUP BY event_time, account_id, sourceipaddress, eventname, useridentity.arn\n"
        "HAVING count(*) >= 5",
    )
    ids = {m.id for m in generate_mutants(det)}
    assert ids == {
        "drop main.where: useridentity.type = 'Root'",
        "drop main.where: errorcode IS NULL",
        "drop main.where: eventname IN ('A', 'B')",
        "drop main.having: COUNT(*) >= 5",
        "negate main.where: useridentity.type = 'Root'",
        "negate main.where: errorcode IS NULL",
        "negate main.where: eventname IN ('A', 'B')",
        "negate main.having: COUNT(*) >= 5",
        "threshold main.having: COUNT(*) >= 5 (+1)",
        "threshold main.having: COUNT(*) >= 5 (-1)",
    }
    # The window macro is never dropped, and every mutant keeps it verbatim.
    assert all("{{ window() }}" in m.body for m in generate_mutants(det))


def test_sequence_and_first_seen_rules_get_window_mutants():
    seq = load_detection(SQL / "detections" / "cloudtrail" / "cloudtrail_console_login_after_failures.sql")
    ids = {m.id for m in generate_mutants(seq)}
    assert {"before widen: 30m -> 1h", "before narrow: 30m -> 15m"} <= ids
    narrow = next(m for m in generate_mutants(seq) if m.id == "before narrow: 30m -> 15m")
    assert "window(before='15m')" in narrow.body and "window(before='30m')" not in narrow.body
    assert any(i.startswith("drop main.on: ") for i in ids)  # the join conditions are conditions too
    first_seen = load_detection(
        SQL / "detections" / "cloudtrail" / "cloudtrail_first_seen_caller_identity.sql"
    )
    by_id = {m.id: m for m in generate_mutants(first_seen)}
    assert by_id["lookback widen: 14d -> 28d"].lookback == "28d"
    assert by_id["lookback narrow: 14d -> 7d"].lookback == "7d"


def test_header_threshold_moves_only_above_one(tmp_path):
    det = _rule(tmp_path, ROOT_BODY)
    assert not [m for m in generate_mutants(det) if m.id.startswith("threshold header")]
    text = det.path.read_text().replace("threshold: 1\n", "threshold: 3\n")
    det.path.write_text(text)
    moved = {m.id: m.threshold for m in generate_mutants(load_detection(det.path))}
    assert moved["threshold header: threshold 3 (+1)"] == 4
    assert moved["threshold header: threshold 3 (-1)"] == 2


def test_round_trip_keeps_every_rule_meaning():
    """Mutants go through sqlglot; the unmutated round trip must render the same SQL structure."""
    import sqlglot

    for det in load_catalog(SQL):
        from datetime import UTC, datetime

        t = datetime(2026, 11, 1, 10, tzinfo=UTC)
        twin = Detection(header=det.header, body=identity_body(det), path=det.path)
        a = sqlglot.parse_one(det.render(t, t.replace(hour=11)), read="athena")
        b = sqlglot.parse_one(twin.render(t, t.replace(hour=11)), read="athena")
        assert a == b, det.id


def test_a_condition_no_negative_case_depends_on_survives(tmp_path):
    """The audit's example: drop `useridentity.type = 'Root'` and all-root negatives still pass."""
    det = _rule(tmp_path, ROOT_BODY)
    cases = _copy_cases(
        tmp_path,
        "cloudtrail_root_activity",
        det.id,
        keep={"positive": ["root_access_key_api_call.json"], "negative": ["root_api_call_denied.json"]},
    )
    score = score_rule(det, cases)
    assert not score.problems
    survivors = {r.mutant.id for r in score.survivors}
    assert "drop main.where: useridentity.type = 'Root'" in survivors
    assert not score.complete
    killed = {r.mutant.id: r.killed_by for r in score.results if r.status == "killed"}
    assert killed["drop main.where: errorcode IS NULL"] == "negative/root_api_call_denied.json (owner run)"
    assert killed["negate main.where: useridentity.type = 'Root'"].startswith("positive/root_access_key")


def test_a_negative_case_that_differs_only_in_the_condition_kills_it(tmp_path):
    det = _rule(tmp_path, ROOT_BODY)
    cases = _copy_cases(
        tmp_path,
        "cloudtrail_root_activity",
        det.id,
        keep={"positive": ["root_access_key_api_call.json"], "negative": ["root_api_call_denied.json"]},
    )
    doc = json.loads((cases / det.id / "positive" / "root_access_key_api_call.json").read_text())
    for rec in doc["Records"]:
        rec["userIdentity"] |= {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/ops"}
    (cases / det.id / "negative" / "same_call_by_iam_user.json").write_text(json.dumps(doc))
    score = score_rule(det, cases)
    by_id = {r.mutant.id: r for r in score.results}
    assert by_id["drop main.where: useridentity.type = 'Root'"].killed_by == (
        "negative/same_call_by_iam_user.json (owner run)"
    )


def test_declared_equivalents_are_accepted_and_checked(tmp_path):
    det = _rule(
        tmp_path,
        ROOT_BODY,
        extra_header=(
            "equivalent_mutants:\n"
            "  - mutant: \"drop main.where: useridentity.type = 'Root'\"\n"
            "    reason: pretend no event can tell them apart (test)\n"
            "  - mutant: 'drop main.where: errorcode IS NULL'\n"
            "    reason: a case kills this one, so listing it is an error\n"
            "  - mutant: 'drop main.where: no_such_condition = 1'\n"
            "    reason: names a mutant that does not exist at all\n"
        ),
    )
    cases = _copy_cases(
        tmp_path,
        "cloudtrail_root_activity",
        det.id,
        keep={"positive": ["root_access_key_api_call.json"], "negative": ["root_api_call_denied.json"]},
    )
    score = score_rule(det, cases)
    by_id = {r.mutant.id: r for r in score.results}
    assert by_id["drop main.where: useridentity.type = 'Root'"].status == "accepted"
    assert "drop main.where: useridentity.type = 'Root'" not in {r.mutant.id for r in score.survivors}
    assert not score.complete  # the stale and the killed-but-listed entries are problems
    assert any("do not exist" in p and "no_such_condition" in p for p in score.problems)
    assert any("a case kills" in p and "errorcode IS NULL" in p for p in score.problems)


def test_missing_or_rejected_cases_make_the_score_untrustworthy(tmp_path):
    det = _rule(tmp_path, ROOT_BODY)
    cases = _copy_cases(tmp_path, "cloudtrail_root_activity", det.id)
    shutil.rmtree(cases / det.id / "negative")
    (cases / det.id / "positive" / "broken.json").write_text('{"Records": [{"eventTime": "not a time"}]}')
    score = score_rule(det, cases)
    assert "no negative case" in score.problems
    assert any(p.startswith("positive/broken.json") for p in score.problems)
    assert not score.complete


def test_cli_mutate_exits_nonzero_on_a_survivor_and_names_it(tmp_path, capsys, monkeypatch):
    from mamori.cli import main

    sql = tmp_path / "sql"
    shutil.copytree(SQL, sql)
    cases = _copy_cases(
        tmp_path,
        "cloudtrail_root_activity",
        "cloudtrail_root_activity",
        keep={"positive": ["root_access_key_api_call.json"], "negative": ["root_api_call_denied.json"]},
    )
    monkeypatch.setenv("MAMORI_SQL_DIR", str(sql))
    rc = main(["detections", "mutate", "cloudtrail_root_activity", "--cases", str(cases)])
    out = capsys.readouterr().out
    assert rc == 1
    assert "survived drop main.where: useridentity.type = 'Root'" in out
    assert "0/1 rules at 100%" in out
    assert main(["detections", "mutate", "no_such_rule", "--cases", str(cases)]) == 2


def _changed_rules() -> list[str]:
    recorded = recorded_fingerprints((REPO / "docs" / "coverage.md").read_text())
    return [d.id for d in load_catalog(SQL) if recorded.get(d.id) != fingerprint(d, CASES)]


def test_rules_changed_since_the_coverage_doc_kill_every_mutant():
    """Fast tier: exactly the rules (or cases) edited since `make coverage` last ran are mutation-tested."""
    catalog = {d.id: d for d in load_catalog(SQL)}
    failures = []
    for det_id in _changed_rules():
        score = score_rule(catalog[det_id], CASES)
        if not score.complete:
            failures.append(f"{det_id}: survivors {[r.mutant.id for r in score.survivors]} {score.problems}")
    assert not failures, "\n".join(failures)


@pytest.mark.slow
def test_every_rule_kills_every_mutant():
    """Slow tier: the whole catalog, whatever the fingerprints say."""
    failures = []
    for det in load_catalog(SQL):
        score = score_rule(det, CASES)
        if not score.complete:
            failures.append(f"{det.id}: survivors {[r.mutant.id for r in score.survivors]} {score.problems}")
    assert not failures, "\n".join(failures)


OLD_IN_WINDOW_COUNT = """SELECT
    account_id,
    {{ principal() }} AS principal,
    min(coalesce(useridentity.arn, useridentity.principalid)) AS actor,
    min(event_time) AS event_time,
    min(sourceipaddress) AS source_ip,
    min(eventname) AS event_name,
    count(*) AS denied_calls
FROM cloudtrail
WHERE
    {{ window() }}
    AND errorcode IN ('AccessDenied', 'AccessDeniedException')
GROUP BY account_id, {{ principal() }}
HAVING count(*) >= 20 AND count(DISTINCT eventname) >= 10
"""


def _straddling_denials(path: Path) -> None:
    """30 denied calls on 30 actions between 10:50 and 11:07: the issue's burst across the hour edge."""
    from datetime import UTC, datetime, timedelta

    t0 = datetime(2026, 11, 1, 10, 50, tzinfo=UTC)
    records = [
        {
            "eventVersion": "1.10",
            "userIdentity": {
                "type": "IAMUser",
                "principalId": "AIDAEXAMPLE",
                "arn": "arn:aws:iam::123456789012:user/ci",
                "accountId": "123456789012",
                "userName": "ci",
            },
            "eventTime": (t0 + timedelta(seconds=35 * i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": "iam.amazonaws.com",
            "eventName": f"List{i:02d}Things",
            "awsRegion": "us-east-1",
            "sourceIPAddress": "198.51.100.23",
            "userAgent": "aws-cli/2.22.4",
            "errorCode": "AccessDenied",
            "errorMessage": "not authorized",
            "requestID": f"req-{i}",
            "eventID": f"00000000-0000-4000-8000-{i:012d}",
            "readOnly": True,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": "123456789012",
            "eventCategory": "Management",
        }
        for i in range(30)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"description": "burst across 11:00", "Records": records}))


def test_a_pinned_hourly_count_catches_a_burst_lost_at_the_hour_edge(tmp_path):
    """The issue's defect as a case: counting inside one run window sees 17 + 13 denials, never 20."""
    from mamori.detections.testing import run_catalog_cases

    rule = SQL / "detections" / "cloudtrail" / "cloudtrail_access_denied_volume.sql"
    sql = tmp_path / "sql"
    (sql / "detections" / "cloudtrail").mkdir(parents=True)
    header = rule.read_text().split("*/", 1)[0]
    header = "\n".join(line for line in header.splitlines() if "before widen" not in line)
    header = header.split("equivalent_mutants:")[0]
    (sql / "detections" / "cloudtrail" / rule.name).write_text(header + "*/\n" + OLD_IN_WINDOW_COUNT)
    cases = tmp_path / "cases"
    base = cases / "cloudtrail_access_denied_volume"
    _straddling_denials(base / "positive" / "burst_across_the_hour.json")
    shutil.copytree(CASES / "cloudtrail_access_denied_volume" / "negative", base / "negative")

    [pos] = [r for r in run_catalog_cases(sql, cases) if r.kind == "positive"]
    assert pos.passed  # one window over the whole case sees all 30: "at least one alert" cannot tell

    (base / "expected.yaml").write_text("positive/burst_across_the_hour.json: 1\n")
    [pos] = [r for r in run_catalog_cases(sql, cases) if r.kind == "positive"]
    assert (str(pos.hourly), str(pos.expected_hourly), pos.passed) == (
        "0 alert(s), 0 hit(s)",
        "1 alert(s)",
        False,
    )


def test_a_pinned_case_kills_a_mutant_that_reports_one_burst_twice(tmp_path):
    det = load_detection(SQL / "detections" / "cloudtrail" / "cloudtrail_access_denied_volume.sql")
    cases = tmp_path / "cases"
    base = cases / det.id
    _straddling_denials(base / "positive" / "burst_across_the_hour.json")
    shutil.copytree(CASES / det.id / "negative", base / "negative")
    unpinned = {r.mutant.id: r for r in score_rule(det, cases).results}
    (base / "expected.yaml").write_text("positive/burst_across_the_hour.json: {alerts: 1, hits: 1}\n")
    pinned = {r.mutant.id: r for r in score_rule(det, cases).results}
    newly = [i for i, r in pinned.items() if "(hourly runs:" in (r.killed_by or "") and unpinned[i].survived]
    # Without "no other denial at the limit in the hour before", every denial past the 20th is a hit.
    assert (
        "drop main.where: (previous_over_limit IS NULL OR previous_over_limit < event_time - INTERVAL '1' HOUR)"
        in newly
    )
    assert all("pinned 1 alert(s), 1 hit(s)" in pinned[i].killed_by for i in newly)


def test_expectations_file_is_validated(tmp_path):
    from mamori.detections.testing import case_expectations

    det = load_detection(ROOT_RULE)
    cases = _copy_cases(tmp_path, det.id, det.id)
    (cases / det.id / "expected.yaml").write_text(
        "positive/nope.json: 1\nnegative/root_api_call_denied.json: 2\npositive/root_access_key_api_call.json: 0\n"
    )
    with pytest.raises(ValueError) as exc:
        case_expectations(cases, det)
    msg = str(exc.value)
    assert "positive/nope.json: no such case file" in msg
    assert (
        "negative/root_api_call_denied.json: expected alerts must be an integer (0 for a negative case)"
        in msg
    )
    assert "positive/root_access_key_api_call.json: a positive case expects at least one alert" in msg
