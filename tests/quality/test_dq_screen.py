"""A passing batch asks GX one question, not one per check: the row-level checks are counted vectorised on the
Arrow table and GX judges those counts (one expectation over the aggregates); a batch with any unexpected row,
or a row-count gap, still runs the whole suite in GX, so every failure's document, examples and quarantined
rows come from GX as before (test_dq_result_identity pins them for every source).

GX's verdict on the counts is a pure function of that frame (check ids and unexpected counts), so it is asked
once per process for each distinct frame: every passing batch of a source hands GX the same one.

The counts must be exact where the golden file shows GX's: the same unexpected and element counts per check
for every source's batch with one row broken per check.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_dq_result_identity import GOLDEN, START, bad_table, end, good_table

from mamori.quality import validate
from mamori.quality.rules import EVENT_TIME_US, checks_for
from mamori.sources import SOURCES, get_source


def _suites_gx_validated(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many expectations each GX validation from here on holds (a suite, or one expectation). The
    schema verdict is cached per process, so after a first validation only the row checks reach GX."""
    from great_expectations.validator.v1_validator import Validator

    seen: list[int] = []
    real = Validator._validate_expectation_configs

    def spy(self: Any, *a: Any, **k: Any) -> Any:
        seen.append(len(k["expectation_configs"] if "expectation_configs" in k else a[0]))
        return real(self, *a, **k)

    monkeypatch.setattr(Validator, "_validate_expectation_configs", spy)
    validate._counts_verdict.cache_clear()  # verdicts on counts an earlier test's batches obtained
    return seen


def n_row_checks(source: str, table: Any) -> int:
    return len([c for c in checks_for(source) if c.column in table.column_names or c.column == EVENT_TIME_US])


@pytest.mark.parametrize("source", list(SOURCES))
def test_a_passing_batch_asks_gx_one_expectation_over_the_aggregates(source, monkeypatch):
    schema, table = get_source(source).schema, good_table(source)
    validate.validate_table(
        source, table, schema, START, end(source), table.num_rows
    )  # schema verdict cached
    seen = _suites_gx_validated(monkeypatch)
    q = validate.validate_table(source, table, schema, START, end(source), table.num_rows)
    assert q.success
    assert seen == [1]


@pytest.mark.parametrize("source", ["cloudtrail", "vpcflow"])
def test_gx_judges_each_distinct_counts_frame_once_per_process(source, monkeypatch):
    """The next passing batch (other rows, the same all-zero counts) reuses GX's verdict, while its documents
    still carry its own element counts; a frame with other counts (a bad row, a row-count gap) is new input,
    so GX is asked about it, and its verdict is its own."""
    schema, good, bad = get_source(source).schema, good_table(source), bad_table(source)
    validate.validate_table(source, good, schema, START, end(source), good.num_rows)
    seen = _suites_gx_validated(monkeypatch)
    first = validate.validate_table(source, good, schema, START, end(source), good.num_rows)
    fewer = good.slice(1)
    again = validate.validate_table(source, fewer, schema, START, end(source), fewer.num_rows)
    assert first.success and again.success and seen == [1]
    elements = {c["id"]: c["element_count"] for c in again.checks if c["expectation"].endswith("not_be_null")}
    assert elements and set(elements.values()) == {fewer.num_rows}
    ids = (*(c.id for c in validate.row_checks(source, good)), "row_count:manifest")
    zeros = (0,) * len(ids)
    assert validate._counts_verdict(ids, zeros) is True and seen == [1]  # the cached verdict
    assert validate._counts_verdict(ids, (*zeros[:-1], 1)) is False and seen == [1, 1]  # a gap: asked
    assert validate._counts_verdict(ids, (2, *zeros[1:])) is False and seen == [1, 1, 1]  # unexpected rows
    assert validate._counts_verdict(ids[1:] + ids[:1], zeros) is True and seen == [1, 1, 1, 1]  # other checks
    q = validate.validate_table(source, bad, schema, START, end(source), bad.num_rows)
    assert not q.success and seen[4:6] == [1, n_row_checks(source, good) + 1]


@pytest.mark.parametrize("source", ["cloudtrail", "vpcflow"])
def test_a_batch_with_a_bad_row_or_a_row_count_gap_runs_the_whole_suite_in_gx(source, monkeypatch):
    schema, good, bad = get_source(source).schema, good_table(source), bad_table(source)
    validate.validate_table(source, good, schema, START, end(source), good.num_rows)
    seen = _suites_gx_validated(monkeypatch)
    n_checks = n_row_checks(source, good)
    q = validate.validate_table(source, bad, schema, START, end(source), bad.num_rows)
    assert not q.success and q.quarantine_rows
    assert seen[:2] == [
        1,
        n_checks + 1,
    ]  # the aggregates said no; the suite (+ row count), then quarantine calls
    seen.clear()
    q = validate.validate_table(source, good, schema, START, end(source), good.num_rows + 1)
    assert q.failed_fatal == ["row_count:manifest"]
    assert seen == [1, n_checks + 1]


@pytest.mark.parametrize("source", list(SOURCES))
def test_vectorised_counts_equal_gx_counts_on_every_broken_check(source):
    """Per check, the vectorised screen counts the rows GX reported unexpected (and the rows it looked at)."""
    want = json.loads(GOLDEN.read_text(encoding="utf-8"))[source]
    for case, imported in (("bad", False), ("bad_imported", True)):
        table = bad_table(source)
        checks = validate.row_checks(source, table, imported)
        counts = validate.screen(source, table, checks, START, end(source))
        assert counts is not None, f"{source}: a check the screen cannot count"
        gx = {c["id"]: (c["element_count"], c["unexpected_count"]) for c in want[case]["checks"]}
        got = {c.id: counts[i] for i, c in enumerate(checks)}
        assert got == {cid: gx[cid] for cid in got}, case
        assert any(u for _, u in got.values())
