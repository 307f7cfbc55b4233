"""The detection catalog: every rule loads under the strict model, parses as Athena SQL, and passes its
positive and negative raw-event cases on DuckDB through the real parser."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import sqlglot

from mamori.alerts.routing import load_routing, routing_problems
from mamori.detections.loader import DetectionError, load_catalog, load_detection
from mamori.detections.testing import STUB_KEY, case_files, case_stub, evaluate_case, run_catalog_cases
from mamori.sources import SOURCES

REPO = Path(__file__).resolve().parents[2]
SQL = REPO / "sql"
CASES = REPO / "tests" / "detections"
CATALOG = load_catalog(SQL)
ALL_CASES = [
    (det, kind, path)
    for det in CATALOG
    for kind, paths in case_files(CASES, det.id).items()
    for path in paths
]


def test_catalog_has_the_skeleton_rules():
    assert len(CATALOG) >= 5
    assert {d.header.log_source for d in CATALOG} <= set(SOURCES)


@pytest.mark.parametrize("det", CATALOG, ids=lambda d: d.id)
def test_every_detection_has_positive_and_negative_cases(det):
    files = case_files(CASES, det.id)
    assert files["positive"], f"{det.id}: no positive case under tests/detections/{det.id}/positive/"
    assert files["negative"], f"{det.id}: no negative case under tests/detections/{det.id}/negative/"


@pytest.mark.parametrize(
    ("det", "kind", "path"), ALL_CASES, ids=lambda x: getattr(x, "id", getattr(x, "name", x))
)
def test_case(det, kind, path):
    assert case_stub(path) is None, f"{path}: a generated stub, not reviewed ({STUB_KEY})"
    alerts, quarantined = evaluate_case(det, path)
    assert quarantined == 0, "the case itself does not parse"
    if kind == "positive":
        assert alerts >= 1
    else:
        assert alerts == 0


@pytest.mark.parametrize("det", CATALOG, ids=lambda d: d.id)
def test_every_rule_routes_to_registered_outputs(det):
    """`outputs:` and `output_options:` name registered outputs, and each output accepts its options."""
    problems = routing_problems(det.header)
    assert not problems, (
        f"{det.path}: {'; '.join(problems)}; use a name of OUTPUTS in include/mamori/alerts/outputs/__init__.py "
        "(or register the output there) and only the options its options_model declares"
    )


def test_default_routing_names_registered_outputs_for_every_severity():
    routing = load_routing(SQL)  # raises, naming sql/routing.yaml, on an unknown output or a missing severity
    assert set(routing.by_severity) == {"critical", "high", "medium", "low", "info"}


@pytest.mark.parametrize("det", CATALOG, ids=lambda d: d.id)
def test_rendered_rule_is_one_athena_select_with_window(det):
    from datetime import UTC, datetime

    sql = det.render(datetime(2026, 11, 1, 10, tzinfo=UTC), datetime(2026, 11, 1, 11, tzinfo=UTC))
    tree = sqlglot.parse_one(sql, read="athena")
    assert isinstance(tree, sqlglot.exp.Select)
    assert "dt = '2026-11-01' AND hour IN ('10')" in sql
    assert "now()" not in sql.lower() and "current_timestamp" not in sql.lower()


# -- the catalog's guard rails must themselves fail on bad input ------------------------------------------------


def _copy_rule(tmp_path: Path, rule_id: str = "cloudtrail_root_activity") -> Path:
    src = next(SQL.glob(f"detections/*/{rule_id}.sql"))
    dst = tmp_path / "detections" / src.parent.name / f"{rule_id}.sql"
    dst.parent.mkdir(parents=True)
    shutil.copy(src, dst)
    return dst


def test_unknown_header_key_is_rejected(tmp_path):
    f = _copy_rule(tmp_path)
    f.write_text(f.read_text().replace("owner:", "sevirity: high\nowner:", 1))
    with pytest.raises(DetectionError, match="sevirity"):
        load_detection(f)


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("outputs: [github, pagerdutty]", "outputs: unknown output 'pagerdutty'"),
        ("output_options: {github: {asignees: [octo-cat]}}", "output_options.github.asignees"),
    ],
    ids=["unknown-output", "unknown-option"],
)
def test_a_misrouted_rule_fails_the_routing_check(tmp_path, line, says):
    f = _copy_rule(tmp_path)
    f.write_text(f.read_text().replace("owner:", f"{line}\nowner:", 1))
    problems = routing_problems(load_detection(f).header)
    assert len(problems) == 1 and problems[0].startswith(says), problems


def test_filename_must_equal_id(tmp_path):
    f = _copy_rule(tmp_path)
    renamed = f.with_name("cloudtrail_something_else.sql")
    f.rename(renamed)
    with pytest.raises(DetectionError, match="differs from the filename"):
        load_detection(renamed)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("{{ window() }}", "TRUE", "window"),
        ("severity: high", "severity: urgent", "severity"),
        ("TA0004:T1078.004", "Privilege Escalation", "mitre"),
        ("\nFROM cloudtrail\n", "\nFROM cloudtrail WHERE WHERE\n", "Athena SQL"),
    ],
)
def test_invalid_rules_are_rejected(tmp_path, old, new, message):
    f = _copy_rule(tmp_path)
    text = f.read_text()
    assert old in text
    f.write_text(text.replace(old, new, 1))
    with pytest.raises(DetectionError, match=message):
        load_detection(f)


def test_a_rule_without_cases_fails_the_case_run(tmp_path):
    _copy_rule(tmp_path)
    results = list(run_catalog_cases(tmp_path, tmp_path / "no-cases"))
    assert {r.kind for r in results} == {"positive", "negative"}
    assert not any(r.passed for r in results)


def test_a_stub_case_fails_until_its_key_is_deleted(tmp_path):
    """A generated case (mamori sigma import) alerts as a real one would, yet fails until it is reviewed."""
    f = _copy_rule(tmp_path)
    det = load_detection(f)
    cases = tmp_path / "cases"
    for kind, src in case_files(CASES, det.id).items():
        (cases / det.id / kind).mkdir(parents=True)
        doc = json.loads(src[0].read_text())
        (cases / det.id / kind / "stub.json").write_text(json.dumps({STUB_KEY: "not reviewed", **doc}))
    results = list(run_catalog_cases(tmp_path, cases))
    assert [(r.kind, r.passed, r.stub) for r in results] == [
        ("positive", False, "not reviewed"),
        ("negative", False, "not reviewed"),
    ]
    assert results[0].alerts >= 1 and results[1].alerts == 0  # the records themselves behave
    for path in cases.rglob("stub.json"):
        path.write_text(json.dumps({k: v for k, v in json.loads(path.read_text()).items() if k != STUB_KEY}))
    assert all(r.passed for r in run_catalog_cases(tmp_path, cases))


def test_a_positive_case_that_stops_matching_fails(tmp_path):
    """Breaking the rule's condition must turn its positive cases red (the case test can fail)."""
    f = _copy_rule(tmp_path)
    f.write_text(f.read_text().replace("'Root'", "'NotRoot'"))
    det = load_detection(f)
    positives = case_files(CASES, det.id)["positive"]
    assert positives and all(evaluate_case(det, p)[0] == 0 for p in positives)


@pytest.mark.parametrize(
    ("rule", "old", "new", "message"),
    [
        ("cloudtrail_first_seen_caller_identity", "lookback: 14d\n", "", "needs both `lookback:`"),
        (
            "cloudtrail_first_seen_caller_identity",
            "lookback: 14d",
            "lookback: 90d",
            "lookback must be between",
        ),
        ("cloudtrail_root_activity", "owner:", "lookback: 7d\nowner:", "never uses"),
        ("cloudtrail_console_login_after_failures", "before='30m'", "before='2d'", "more than 1 day"),
        ("cloudtrail_console_login_after_failures", "before='30m'", "before='soon'", "must look like"),
        ("cloudtrail_root_activity", "{{ window() }}", "{{ window() }} AND {{ now() }}", "unknown template"),
    ],
)
def test_window_macros_are_checked(tmp_path, rule, old, new, message):
    f = _copy_rule(tmp_path, rule)
    text = f.read_text()
    assert old in text
    f.write_text(text.replace(old, new, 1))
    with pytest.raises(DetectionError, match=message):
        load_detection(f)


def test_first_seen_and_sequence_rules_render_their_extra_ranges():
    from datetime import UTC, datetime

    start, end = datetime(2026, 11, 15, 10, tzinfo=UTC), datetime(2026, 11, 15, 11, tzinfo=UTC)
    first_seen = next(d for d in CATALOG if d.id == "cloudtrail_first_seen_caller_identity").render(
        start, end
    )
    assert "dt BETWEEN '2026-11-01' AND '2026-11-15'" in first_seen  # 14-day baseline, pruned by day
    assert (
        "event_time >= TIMESTAMP '2026-11-01 10:00:00.000' AND event_time < TIMESTAMP '2026-11-15 10:00:00.000'"
        in first_seen
    )
    sequence = next(d for d in CATALOG if d.id == "cloudtrail_console_login_after_failures").render(
        start, end
    )
    assert "(dt = '2026-11-15' AND hour IN ('09', '10'))" in sequence  # 09:30 reaches into the 09 partition
    assert "event_time >= TIMESTAMP '2026-11-15 09:30:00.000'" in sequence
