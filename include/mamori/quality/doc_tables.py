"""The tables of docs/data-quality.md that list what the code does: every check and every parser quarantine class,
with its outcome, and every source's plausible range of event times. Generated from the declarations (the
sources' specs, through rules.py and quarantine.py), so the document cannot promise an alert the code does not
raise; tests/quality/test_data_quality_doc.py fails when the two differ.

Regenerate after changing a rule or a class: `python -m mamori.quality.doc_tables docs/data-quality.md`.
"""

from __future__ import annotations

import re
import sys
from datetime import timedelta
from pathlib import Path

from mamori.quality.quarantine import CLASSES, UNCLASSIFIED
from mamori.quality.rules import RULES, checks_for

# Checks validate.py adds to every suite on top of the row-level ones (their ids are literals there).
BATCH_CHECKS: tuple[tuple[str, str], ...] = (
    ("schema:column_order", "quarantine_batch"),
    ("schema:types", "quarantine_batch"),
    ("schema:column_count", "quarantine_batch"),
    ("row_count:manifest", "fail"),
)

# What happens to the rows a failed check names (the alert is `mamori_dq_<source>` with `check` = the check id).
OUTCOMES = {
    "flag": "rows kept; alert",
    "quarantine": "failing rows to quarantine/ (reason `dq:<check>`); alert",
    "quarantine_batch": "every row of the batch to quarantine/; alert",
    "fail": "batch fails before writing (`_gap-bNNNN.json`); `mamori_reconciliation_gap` (health DAG)",
}

CHECKS_BEGIN = "<!-- BEGIN GENERATED checks (python -m mamori.quality.doc_tables) -->"
CHECKS_END = "<!-- END GENERATED checks -->"
QUARANTINE_BEGIN = "<!-- BEGIN GENERATED parser quarantine classes (python -m mamori.quality.doc_tables) -->"
QUARANTINE_END = "<!-- END GENERATED parser quarantine classes -->"
TIMES_BEGIN = "<!-- BEGIN GENERATED event-time bounds (python -m mamori.quality.doc_tables) -->"
TIMES_END = "<!-- END GENERATED event-time bounds -->"


def _sources_text(names: list[str], every: list[str]) -> str:
    return "every source" if names == every else ", ".join(names)


def checks_table() -> str:
    """Every check of every source (sources sharing a check with the same action share a row)."""
    every = sorted(RULES)
    rows: dict[tuple[str, str], list[str]] = {}
    for source in every:
        for c in checks_for(source):
            rows.setdefault((c.id, c.action), []).append(source)
        for cid, action in BATCH_CHECKS:
            rows.setdefault((cid, action), []).append(source)
    out = ["| check | action | sources | outcome |", "|---|---|---|---|"]
    for (cid, action), names in sorted(rows.items()):
        out.append(f"| `{cid}` | {action} | {_sources_text(names, every)} | {OUTCOMES[action]} |")
    return "\n".join(out) + "\n"


def quarantine_table() -> str:
    """Every parser quarantine class (sources sharing a parser share rows); each one raises its own alert."""
    groups: dict[int, list[str]] = {}
    for source in sorted(CLASSES):
        groups.setdefault(id(CLASSES[source]), []).append(source)
    out = [
        "| sources | class (alert `check` = `quarantine:<class>`) | unit | what |",
        "|---|---|---|---|",
    ]
    for names in sorted(groups.values()):
        for c in CLASSES[names[0]]:
            out.append(f"| {', '.join(names)} | `{c.id}` | {c.unit} | {c.what} |")
    out.append(
        f"| any | `{UNCLASSIFIED}` | record | a reason no class above matches (a new or reworded reason) |"
    )
    return "\n".join(out) + "\n"


def _span(td: timedelta) -> str:
    """A bound as a person reads it: `1 day`, `14 days`, `2 h`, `15 min`."""
    seconds = int(td.total_seconds())
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'s' if unit == 'day' and n != 1 else ''}"
    return f"{seconds} s"


def parse_span(text: str) -> timedelta:
    """`_span`'s text back to the bound (the document test reads the table with it)."""
    n, unit = text.split()
    return timedelta(seconds=int(n) * {"day": 86400, "days": 86400, "h": 3600, "min": 60, "s": 1}[unit])


def times_table() -> str:
    """Every source's plausible range and late/skew bounds (`SourceRules`), one row per source: the range is
    what the `event_time:*` checks above enforce, so the document states each source's own numbers."""
    out = [
        "| source | plausible range | late (older rows flagged, kept) | skew (later rows quarantined) |",
        "|---|---|---|---|",
    ]
    for source, r in sorted(RULES.items()):
        out.append(
            f"| {source} | [{r.earliest:%Y-%m-%d}, window end + {_span(r.skew)}) | {_span(r.late)} "
            f"| {_span(r.skew)} |"
        )
    return "\n".join(out) + "\n"


def _section(begin: str, end: str, body: str) -> str:
    return f"{begin}\n{body}{end}"


def render(doc: str) -> str:
    """`doc` with every generated section replaced by the current tables (markers must be present)."""
    for begin, end, body in (
        (CHECKS_BEGIN, CHECKS_END, checks_table()),
        (QUARANTINE_BEGIN, QUARANTINE_END, quarantine_table()),
        (TIMES_BEGIN, TIMES_END, times_table()),
    ):
        m = re.search(re.escape(begin) + r".*?" + re.escape(end), doc, re.S)
        if m is None:
            raise ValueError(f"marker {begin!r} … {end!r} not found")
        doc = doc[: m.start()] + _section(begin, end, body) + doc[m.end() :]
    return doc


def main(argv: list[str]) -> int:
    """Rewrite the generated sections of the given document in place."""
    if len(argv) != 1:
        print("usage: python -m mamori.quality.doc_tables docs/data-quality.md", file=sys.stderr)
        return 2
    path = Path(argv[0])
    path.write_text(render(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
