"""docs/data-quality.md lists every check and every parser quarantine class with its outcome; the lists are
generated from the code's declarations (mamori.quality.doc_tables), and this test fails when they differ, so the
document cannot promise an alert the code does not raise (or leave out one it does)."""

from __future__ import annotations

from pathlib import Path

from mamori.quality import doc_tables, quarantine
from mamori.quality.rules import RULES, checks_for

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "data-quality.md"


def _table_rows(doc: str, begin: str, end: str) -> list[list[str]]:
    """The cells of the markdown table between two markers (header and rule lines left out)."""
    assert begin in doc and end in doc, f"{DOC.name} has no section {begin!r}"
    body = doc[doc.index(begin) + len(begin) : doc.index(end)]
    rows = [
        [c.strip() for c in line.strip().strip("|").split("|")] for line in body.splitlines() if line.strip()
    ]
    return rows[2:]


def test_the_documents_tables_are_the_codes():
    doc = DOC.read_text(encoding="utf-8")
    assert doc_tables.render(doc) == doc, (
        "docs/data-quality.md is out of date with the checks or quarantine classes: run "
        "`python -m mamori.quality.doc_tables docs/data-quality.md`"
    )


def test_every_check_of_every_source_is_in_the_checks_table_with_its_action():
    rows = _table_rows(DOC.read_text(encoding="utf-8"), doc_tables.CHECKS_BEGIN, doc_tables.CHECKS_END)
    documented = {(r[0].strip("`"), r[1]) for r in rows}
    declared = {(c.id, c.action) for s in RULES for c in checks_for(s)} | set(doc_tables.BATCH_CHECKS)
    assert documented == declared


def test_every_quarantine_class_of_every_source_is_in_the_quarantine_table():
    rows = _table_rows(
        DOC.read_text(encoding="utf-8"), doc_tables.QUARANTINE_BEGIN, doc_tables.QUARANTINE_END
    )
    documented = {(s.strip(), r[1].strip("`")) for r in rows for s in r[0].split(",")}
    declared = {(s, c.id) for s, classes in quarantine.CLASSES.items() for c in classes}
    assert documented == declared | {("any", quarantine.UNCLASSIFIED)}


def test_the_batch_checks_listed_are_the_ones_validation_runs():
    """validate.py builds these checks from literals; a renamed one must not leave the document behind."""
    source = (REPO / "include" / "mamori" / "quality" / "validate.py").read_text(encoding="utf-8")
    for cid, action in doc_tables.BATCH_CHECKS:
        assert f'"{cid}"' in source
        assert f'"{action}"' in source


def test_every_source_has_its_plausible_range_and_time_bounds_in_the_document():
    """The range each source's event times must lie in (issue 18: "a documented plausible range per source"),
    read back from the document's table against each source's `SourceRules`: a source added or a bound
    changed without the document fails here (the prose listed every source but route53resolver)."""
    rows = _table_rows(DOC.read_text(encoding="utf-8"), doc_tables.TIMES_BEGIN, doc_tables.TIMES_END)
    documented = {r[0]: (r[1], r[2], r[3]) for r in rows}
    assert set(documented) == set(RULES)
    for source, rules in RULES.items():
        plausible, late, skew = documented[source]
        assert plausible.startswith(f"[{rules.earliest:%Y-%m-%d}, window end + "), (source, plausible)
        assert doc_tables.parse_span(late) == rules.late, (source, late)
        assert doc_tables.parse_span(skew) == rules.skew, (source, skew)
        assert plausible.endswith(f"+ {skew})"), (source, plausible)
