"""Making validation cheaper must not change what it reports: for every source, a generated batch that passes
and the same batch with one row broken per check (so every check fails on rows of its own), plus a schema
mismatch and a row-count gap, give the same expectations with the same outcomes, counts, examples and
quarantined rows as the validation of commit 4dcce6a (golden/dq_results.json).

`python tests/quality/test_dq_result_identity.py` rewrites the golden file: only right when a change of what
validation reports is intended (and said so in the commit).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from mamori.quality.rules import EVENT_TIME_US, checks_for, rules_for
from mamori.quality.validate import BatchQuality, validate_table
from mamori.sources import SOURCES, get_source

GOLDEN = Path(__file__).with_name("golden") / "dq_results.json"
START = datetime(2026, 11, 1, tzinfo=UTC)
HOURS = {"cloudtrail_insights": 24}  # its first insight comes 8 h in; six hours for the others' stories


def end(source: str) -> datetime:
    """The batch's window end: every generated event lies inside, so the good batch passes."""
    return START + timedelta(hours=HOURS.get(source, 6) + 1)


ROWS = 300  # per batch: enough rows for every check to fail on rows of its own


@cache
def good_table(source: str) -> pa.Table:
    """The first ROWS rows the source's generator delivers, parsed as ingest parses them."""
    from mamori.dev.generate import get_generator

    src, gen = get_source(source), get_generator(source)
    assert gen is not None, source
    rows: list[dict[str, Any]] = []

    def put(key: str, data: bytes, _landed: datetime) -> None:
        raw = src.classify(key)
        if raw is not None and raw.kind == "events" and len(rows) < ROWS:
            rows.extend(r for _, r in src.parse_object(raw, data).rows)

    gen(put, START, hours=HOURS.get(source, 6), seed=11)
    assert rows, source
    return pa.Table.from_pylist(rows[:ROWS], schema=src.schema)


def _bad_value(check: Any) -> Any:
    if check.kind == "not_null":
        return None
    if check.kind == "in_set":
        return "not-in-the-set\u202e<b>"
    if check.kind == "regex":
        return "999.1.2.3 <script>"
    if check.kind == "between":
        hi, lo = check.params.get("max_value"), check.params.get("min_value")
        return hi + 1 if hi is not None else lo - 1
    raise AssertionError(check.kind)


def bad_table(source: str) -> pa.Table:
    """The good batch with row i broken for the i-th check (a NULL, a value out of the set, a malformed IP, an
    out-of-range number, an event before `earliest`, older than `late`, after the window plus skew)."""
    table = good_table(source)
    rows = table.to_pylist()
    r = rules_for(source)
    times = {
        "event_time:not_before_earliest": r.earliest - timedelta(days=1),
        "event_time:not_older_than_late": START - r.late - timedelta(hours=1),
        "event_time:not_after_window_plus_skew": end(source) + r.skew + timedelta(hours=1),
    }
    for i, check in enumerate(
        c for c in checks_for(source) if c.column in table.column_names or c.id in times
    ):
        row = rows[(7 * i + 3) % len(rows)]
        if check.column == EVENT_TIME_US:
            row["event_time"] = times[check.id].replace(tzinfo=None)
        else:
            row[check.column] = _bad_value(check)
    return pa.Table.from_pylist(rows, schema=table.schema)


def outcome(q: BatchQuality) -> dict[str, Any]:
    return {
        "checks": q.checks,
        "quarantine_rows": {str(k): v for k, v in sorted(q.quarantine_rows.items())},
        "quarantine_batch": q.quarantine_batch,
        "failed_fatal": q.failed_fatal,
    }


def outcomes(source: str) -> dict[str, Any]:
    schema = get_source(source).schema
    good, bad = good_table(source), bad_table(source)
    moved = good.drop_columns(["event_time"]).append_column("event_time", good["event_time"])

    def run(table: pa.Table, expected_rows: int, imported: bool = False) -> dict[str, Any]:
        return outcome(
            validate_table(source, table, schema, START, end(source), expected_rows, imported=imported)
        )

    return {
        "good": run(good, good.num_rows),
        "bad": run(bad, bad.num_rows),
        "bad_imported": run(
            bad, bad.num_rows, imported=True
        ),  # an archive's batch: no "older than late" flag
        "row_count_gap": run(good, good.num_rows + 1),
        "schema_mismatch": run(moved, good.num_rows),
    }


@pytest.mark.parametrize("source", list(SOURCES))
def test_validation_reports_what_it_reported_before(source):
    want = json.loads(GOLDEN.read_text(encoding="utf-8"))[source]
    got = json.loads(json.dumps(outcomes(source)))  # tuples → lists, as the golden file holds them
    assert want["bad"]["checks"] and any(not c["success"] for c in want["bad"]["checks"])
    for case in want:
        assert got[case] == want[case], case


if __name__ == "__main__":  # regenerate the golden file (a deliberate change of what validation reports only)
    doc = {name: outcomes(name) for name in SOURCES}
    GOLDEN.write_text(json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=True) + "\n", encoding="utf-8")
    print(f"written {GOLDEN}", file=sys.stderr)
