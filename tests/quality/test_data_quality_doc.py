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
