"""The parsers' quarantine reasons in classes: what a `mamori_dq_<source>` alert counts and is keyed by.

A parser quarantines a record (or a whole object it cannot open) with a free-text reason, kept verbatim beside
the record in `quarantine/<source>/dt=…/…jsonl.gz`. That text often quotes the offending value, which is
attacker-controlled, so alerts are never keyed on it: each reason is mapped to a fixed class by the fixed
words the parser writes before any quoted value. An alert then says "3 records of class invalid_event_time"
and points at the quarantine file and line, instead of carrying (or being split by) whatever the record held.

A reason no class matches is counted as `unclassified` and alerted all the same, so a parser change that
rewords a reason, or a new reason, can make an alert vaguer but never silent. The classes are plain data
declared in each source's spec (sources/<name>/spec.py), listed in docs/data-quality.md by doc_tables.py
(tests/quality/test_data_quality_doc.py), and tests/quality/test_quarantine_alerts.py lands one object per
class of every source and expects its alert.
"""

from __future__ import annotations

from typing import Any

from mamori.sources import SPECS
from mamori.sources.rules import ReasonClass

UNCLASSIFIED = "unclassified"
CHECK_PREFIX = "quarantine:"  # the alert's `check` dedup value is CHECK_PREFIX + class
MAX_REASON = 160  # characters of a reason an alert sample carries (the full reason is in the quarantine file)
SAMPLES_PER_CLASS = 3  # references per class and batch kept in the manifest

# Derived from the specs (each source declares the classes of its own parser's reasons beside the parser).
CLASSES: dict[str, tuple[ReasonClass, ...]] = {name: spec.quarantine_classes for name, spec in SPECS.items()}


def classes_for(source: str) -> tuple[ReasonClass, ...]:
    """The declared reason classes of a source (none for a source without an entry: all `unclassified`)."""
    return CLASSES.get(source, ())


def reason_class(source: str, reason: str) -> str | None:
    """The class of a parser's quarantine reason; None for a data-quality check's (`dq:…`: alerted per check)."""
    if reason.startswith("dq:"):
        return None
    head = reason[:MAX_REASON]  # every pattern is anchored at the start: the parser's own words come first
    for c in classes_for(source):
        if c.pattern.match(head):
            return c.id
    return UNCLASSIFIED


def _bounded(text: str) -> str:
    return text if len(text) <= MAX_REASON else text[:MAX_REASON] + "…"


def summarize(source: str, entries: list[dict[str, Any]], file_key: str) -> dict[str, dict[str, Any]]:
    """Per class, the batch's parser-quarantined units: count and up to SAMPLES_PER_CLASS references.

    `entries` are the quarantine file's lines in order (line n = entries[n - 1]); a reference is the file,
    the line, the raw object and the record's position in it, and the reason cut to MAX_REASON characters.
    Deterministic, so a re-run writes the same manifest.
    """
    out: dict[str, dict[str, Any]] = {}
    for n, entry in enumerate(entries, start=1):
        cls = reason_class(source, str(entry.get("reason") or ""))
        if cls is None:
            continue
        agg = out.setdefault(cls, {"count": 0, "file": file_key, "samples": []})
        agg["count"] += 1
        if len(agg["samples"]) < SAMPLES_PER_CLASS:
            agg["samples"].append(
                {
                    "line": n,
                    "object": entry.get("object"),
                    "index": entry.get("index"),
                    "reason": _bounded(str(entry.get("reason") or "")),
                }
            )
    return dict(sorted(out.items()))


def what(source: str, cls: str) -> tuple[str, str]:
    """(unit, description) of a class, for an alert's samples."""
    for c in classes_for(source):
        if c.id == cls:
            return c.unit, c.what
    return "record", "a quarantine reason no declared class matches (see the reason and the parser)"
