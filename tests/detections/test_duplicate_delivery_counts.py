"""Two trails writing to one bucket deliver every CloudTrail event twice (same eventID, two objects). The table
detections read has one row per event, so thresholds and hit counts count events, not deliveries.

The events are a rule's own reviewed case files, doubled as a second trail would deliver them, through the real
parser into the engine the cases use (DuckDBEngine.register_table, the same dedup as the lake's views).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pyarrow as pa

from mamori.config import load_settings
from mamori.detections.dedup import group_hits
from mamori.detections.loader import get_detection
from mamori.detections.runner import run_detection
from mamori.detections.testing import case_table
from mamori.engines.duckdb import DuckDBEngine

REPO = Path(__file__).resolve().parents[2]
SQL = REPO / "sql"
CASES = REPO / "tests" / "detections" / "cloudtrail_console_login_brute_force"
RULE = "cloudtrail_console_login_brute_force"  # threshold: 5 failed sign-ins per user per 15 minutes


def _records(case: str) -> list[dict]:
    return orjson.loads((CASES / case).read_bytes())["Records"]


def _run(records: list[dict]) -> list[tuple[int, int]]:
    """(hits, alerts at the rule's threshold) per dedup group, for the records as one delivered object."""
    det = get_detection(SQL, RULE)
    table, quarantined = case_table("cloudtrail", orjson.dumps({"Records": records}))
    assert quarantined == 0
    engine = DuckDBEngine(load_settings({"MAMORI_HOME": "/nonexistent"}), threads=1, create_views=False)
    try:
        engine.register_table("cloudtrail", table)
        hits = run_detection(
            det, engine, datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)
        )
        delivered = engine.query("SELECT count(*) AS n FROM cloudtrail_delivered").column("n")[0].as_py()
    finally:
        engine.close()
    assert delivered == len(records)  # every delivered copy is still there to count and reconcile
    return [(c.hits, int(c.hits >= det.header.threshold)) for c in group_hits(det, hits)]


def test_three_failures_delivered_twice_do_not_reach_a_threshold_of_five():
    three = _records("negative/four_failures.json")[:3]
    assert len({r["eventID"] for r in three}) == 3
    assert _run(three + three) == [(3, 0)]


def test_five_failures_delivered_twice_are_five_hits_not_ten():
    five = _records("positive/five_failures_one_user.json")
    assert _run(five + list(reversed(five))) == _run(five) == [(5, 1)]


def test_records_without_an_event_id_are_never_merged():
    """A record with no eventID cannot be shown to be a copy: each one counts."""
    five = [
        {k: v for k, v in r.items() if k != "eventID"} | {"eventTime": r["eventTime"]}
        for r in _records("positive/five_failures_one_user.json")
    ]
    assert _run(five) == [(5, 1)]


def test_a_forged_copy_with_another_principal_does_not_hide_the_real_event():
    """Copies collapse only when they agree on who, what, when, where from and the outcome: a record that
    reuses a real eventID but names someone else is a second row, not a duplicate that could mask the first."""
    five = _records("positive/five_failures_one_user.json")
    forged = [r | {"sourceIPAddress": "192.0.2.1"} for r in five]
    assert [h for h, _ in _run(forged + five)] == [10]


def test_the_table_detections_read_keeps_every_column_of_the_delivered_one():
    table, _ = case_table(
        "cloudtrail", orjson.dumps({"Records": _records("positive/five_failures_one_user.json")})
    )
    engine = DuckDBEngine(load_settings({"MAMORI_HOME": "/nonexistent"}), threads=1, create_views=False)
    try:
        engine.register_table("cloudtrail", pa.concat_tables([table, table]))
        once = engine.query("SELECT * FROM cloudtrail ORDER BY eventid")
    finally:
        engine.close()
    assert once.column_names == table.column_names
    assert once.to_pylist() == table.sort_by("eventid").to_pylist()


def test_rows_come_back_in_the_order_they_were_delivered_whatever_the_threads():
    """A window returns rows in an order of its own (varying with DuckDB's thread count); the view orders them
    as delivered, so hits tied on event time, actor and event name keep the same samples in every run."""
    base = _records("positive/five_failures_one_user.json")[0]
    records = [base | {"eventID": f"00000000-0000-0000-0000-{i:012d}"} for i in range(3000, 0, -1)]
    table, _ = case_table("cloudtrail", orjson.dumps({"Records": records + records[:500]}))
    expected = [r["eventID"] for r in records]
    for threads in (1, 4):
        engine = DuckDBEngine(
            load_settings({"MAMORI_HOME": "/nonexistent"}), threads=threads, create_views=False
        )
        try:
            engine.register_table("cloudtrail", table)
            got = engine.query("SELECT eventid FROM cloudtrail WHERE eventname = 'ConsoleLogin'").column(0)
        finally:
            engine.close()
        assert got.to_pylist() == expected, threads
