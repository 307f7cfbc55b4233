"""`{{ principal() }}`: a rule's source's principal expression (FieldModel.principal), rendered in place.

The roll-up it gives is tested end to end in test_session_rollup.py; here: how it renders, that a source with no
principal makes it a load error naming the rule, and that new rules are scaffolded keyed on it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from mamori.detections.loader import DetectionError, load_detection
from mamori.detections.mutate import generate_mutants, identity_body
from mamori.detections.render import render_sql
from mamori.detections.scaffold import scaffold
from mamori.sources import SPECS

REPO = Path(__file__).resolve().parents[2]
START, END = datetime(2026, 11, 1, 10, tzinfo=UTC), datetime(2026, 11, 1, 11, tzinfo=UTC)
BODY = (
    "SELECT {{ principal() }} AS principal, actor\nFROM t\nWHERE {{ window() }}\nGROUP BY {{ principal() }}"
)


def test_it_renders_the_given_expression_on_one_line_as_one_operand() -> None:
    sql = render_sql(BODY, START, END, principal="CASE WHEN a\n    THEN b ELSE c END")
    first, *_, last = sql.splitlines()
    assert first == "SELECT (CASE WHEN a THEN b ELSE c END) AS principal, actor"
    assert last == "GROUP BY (CASE WHEN a THEN b ELSE c END)"
    assert len(sql.splitlines()) == len(BODY.splitlines())  # file lines of SQL errors stay right


def test_without_a_principal_it_is_an_error_naming_the_rule() -> None:
    with pytest.raises(
        ValueError, match="vpcflow_probe: principal\\(\\) is used, but its log source declares"
    ):
        render_sql(BODY, START, END, principal=None, rule="vpcflow_probe")


def _rule(tmp_path: Path, source: str, template: str, rule_id: str, body: str) -> Path:
    header = (REPO / "sql" / "detections" / source / f"{template}.sql").read_text().split("*/", 1)[0]
    path = tmp_path / "sql" / "detections" / source / f"{rule_id}.sql"
    path.parent.mkdir(parents=True)
    path.write_text(header.replace(f"id: {template}", f"id: {rule_id}") + "*/\n" + body)
    return path


def test_a_rule_of_a_source_without_a_principal_fails_to_load_naming_it(tmp_path: Path) -> None:
    assert SPECS["vpcflow"].fields.principal is None
    body = (
        "SELECT event_time, account_id, source_ip, target, {{ principal() }} AS principal\n"
        "FROM vpcflow\nWHERE {{ window() }}"
    )
    path = _rule(tmp_path, "vpcflow", "vpcflow_port_scan", "vpcflow_probe", body)
    with pytest.raises(DetectionError, match="vpcflow_probe: principal\\(\\) is used"):
        load_detection(path)


def test_a_cloudtrail_rule_renders_its_source_expression_and_mutants_leave_it_alone() -> None:
    det = load_detection(REPO / "sql" / "detections" / "cloudtrail" / "cloudtrail_credential_recon_tool.sql")
    sql = det.render(START, END)
    assert f"({SPECS['cloudtrail'].fields.principal}) AS principal" in sql
    assert "{{ principal() }} AS principal" in identity_body(det)
    assert all(
        "{{ principal() }} AS principal" in m.body for m in generate_mutants(det) if m.body != det.body
    )


def test_new_rules_are_keyed_on_the_principal_where_the_source_has_one(tmp_path: Path) -> None:
    scaffold(tmp_path, "cloudtrail_new_thing")
    ct = (tmp_path / "sql" / "detections" / "cloudtrail" / "cloudtrail_new_thing.sql").read_text()
    assert "keys: [account_id, principal]" in ct and "{{ principal() }} AS principal" in ct
    scaffold(tmp_path, "vpcflow_new_thing")
    flow = (tmp_path / "sql" / "detections" / "vpcflow" / "vpcflow_new_thing.sql").read_text()
    assert "keys: [account_id, actor]" in flow and "principal" not in flow
