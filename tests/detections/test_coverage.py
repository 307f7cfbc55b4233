"""The coverage matrix counts only detections whose cases pass, and the committed docs are current."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mamori.detections.coverage import compute, markdown

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # computes the whole matrix, mutation runs included (~2 min)
def test_a_rule_whose_cases_fail_is_not_counted(tmp_path):
    sql = tmp_path / "sql"
    shutil.copytree(REPO / "sql" / "detections", sql / "detections")
    shutil.copytree(REPO / "sql" / "lookups", sql / "lookups")  # reviewed lists rules read
    rule = sql / "detections" / "cloudtrail" / "cloudtrail_root_activity.sql"
    rule.write_text(rule.read_text().replace("'Root'", "'NotRoot'"))
    cov = compute(sql, REPO / "tests" / "detections")
    assert cov.failing == ["cloudtrail_root_activity"]
    assert all("cloudtrail_root_activity" not in ids for ids in cov.cells.values())
    assert "cloudtrail_root_activity" in markdown(cov, "x.svg").split("## Not counted")[1]


@pytest.mark.slow
def test_committed_coverage_doc_is_current():
    cov = compute(REPO / "sql", REPO / "tests" / "detections")
    assert cov.failing == []
    committed = (REPO / "docs" / "coverage.md").read_text()
    assert committed == markdown(cov, "coverage.svg"), "run `make coverage` and commit docs/"
