"""The coverage matrix counts only detections whose cases pass, and the committed docs are current."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mamori.detections.coverage import (
    Behaviour,
    BehaviourCatalog,
    Coverage,
    NotCovered,
    compute,
    load_behaviours,
    markdown,
)
from mamori.detections.loader import load_catalog

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


# -- behaviours asked for (sql/coverage.yaml): fast, no case or mutant runs ------------------------------------


def _coverage(passing: list[str], behaviours: BehaviourCatalog | None) -> Coverage:
    return Coverage(["cloudtrail"], {}, {}, passing, [], {}, {}, {"cloudtrail": len(passing)}, behaviours)


def test_the_committed_behaviour_catalog_names_only_rules_that_exist():
    ids = {d.id for d in load_catalog(REPO / "sql")}
    catalog = load_behaviours(REPO / "sql", ids)
    assert catalog is not None and catalog.behaviours and catalog.not_covered
    # The data-event behaviours of issue 17 are each caught by a rule.
    covered = {b.behaviour: b.rules for b in catalog.behaviours}
    assert covered["Mass DeleteObject and DeleteObjects by one principal"] == ["cloudtrail_s3_mass_delete"]
    assert (
        "cloudtrail_s3_bulk_object_read"
        in covered["Bulk GetObject by one principal (1,168 calls on one bucket in a ransomware lab)"]
    )


def test_a_behaviour_naming_a_rule_that_does_not_exist_fails_the_generation(tmp_path):
    (tmp_path / "coverage.yaml").write_text(
        "description: behaviours for a test\n"
        "behaviours:\n"
        "  - {behaviour: Mass deletes, origin: a test, rules: [cloudtrail_s3_mass_delete_renamed]}\n"
    )
    with pytest.raises(ValueError, match="cloudtrail_s3_mass_delete_renamed"):
        load_behaviours(tmp_path, {"cloudtrail_s3_mass_delete"})


def test_a_behaviour_listed_twice_fails_the_generation(tmp_path):
    (tmp_path / "coverage.yaml").write_text(
        "description: behaviours for a test\n"
        "behaviours:\n  - {behaviour: Mass deletes, origin: a test}\n"
        "not_covered:\n  - {behaviour: Mass deletes, reason: decided twice by mistake here}\n"
    )
    with pytest.raises(ValueError, match="listed twice"):
        load_behaviours(tmp_path, set())


def test_behaviours_show_covered_open_and_uncounted_rules_and_the_reasons_for_gaps():
    catalog = BehaviourCatalog(
        description="behaviours for a test",
        behaviours=[
            Behaviour(behaviour="Mass deletes", origin="issue 17", rules=["rule_a"]),
            Behaviour(behaviour="Shadow trail", origin="issue 17"),
            Behaviour(behaviour="Bulk reads", origin="issue 17", rules=["rule_b"]),
        ],
        not_covered=[
            NotCovered(behaviour="Miner processes", reason="needs endpoint telemetry, not collected")
        ],
    )
    doc = markdown(_coverage(["rule_a"], catalog), "x.svg")
    assert "| Mass deletes | issue 17 | rule_a | covered |" in doc
    assert "| Shadow trail | issue 17 | · | **open**: no rule yet |" in doc
    assert (
        "| Bulk reads | issue 17 | rule_b | rule not counted" in doc
    )  # rule_b's cases fail or mutants survive
    assert "3 behaviours, 1 covered by a counted rule, 1 open" in doc
    assert "- **Miner processes**: needs endpoint telemetry, not collected" in doc
    assert doc.index("## Deliberately not covered") < doc.index("## Mutation score per rule")
    # Without a catalog (a copy of the rules alone) the sections are left out.
    assert "## Behaviours asked for" not in markdown(_coverage(["rule_a"], None), "x.svg")


def test_the_matrix_counts_each_rule_once_per_source():
    doc = markdown(_coverage(["rule_a", "rule_b"], None), "x.svg")
    assert "| **rules (each once)** | 2 | 2 |" in doc
