"""Every rule that counts through the ledger (header `threshold:` above 1) at the edges of its dedup buckets.

A threshold rule's SQL is a row filter; the ledger adds each run window's hits per (dedup values, bucket aligned
to `dedup.period`) and opens the alert when a bucket reaches the threshold (docs/adr/0003). Rules that count in
their SQL over a sliding period have their own checks in test_window_boundaries.py; this module gives every
threshold rule, discovered from the catalog, the same three checks at its own threshold N and period P:

- N hits in one bucket, seen by two runs that each hold part of it: one alert with N hits; re-running the
  windows in any order keeps it one, with the same key and count;
- N - 1 hits in the bucket, with one more at exactly the bucket's end or one second before its start: quiet
  (a bucket is [start, start + P)); the Nth hit inside the bucket opens the alert;
- a burst that the bucket edge at 11:00 (also the edge between two hourly runs) splits below N on each side:
  quiet. This is the documented meaning of a threshold rule (README "Threshold rules": a burst that a bucket
  edge splits counts in two buckets); a rule that must see such a burst counts in its SQL over
  `window(before=)` instead. Pinned so that a change of the semantics is a decision, not an accident, with
  the bound it does give: 2N - 1 hits within one period always raise the alert, wherever the edge falls.

The hits are copies of one hit of the rule's first positive case, each at its own instant (the same entities,
so the same dedup values), through the real rule on DuckDB and the real ledger.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from mamori.alerts.ledger import Ledger
from mamori.config import load_settings
from mamori.detections.dedup import group_hits
from mamori.detections.loader import Detection, get_detection, load_catalog
from mamori.detections.runner import run_detection
from mamori.detections.testing import case_table
from mamori.engines.duckdb import DuckDBEngine

REPO = Path(__file__).resolve().parents[2]
SQL = REPO / "sql"
CASES = REPO / "tests" / "detections"
EDGE = datetime(2026, 11, 1, 11, tzinfo=UTC)  # aligned for every period a rule may have (15m, 1h, ...)
HOUR = timedelta(hours=1)

THRESHOLD_RULES = sorted(d.id for d in load_catalog(SQL) if d.header.threshold > 1)


def test_the_catalog_has_threshold_rules_to_check() -> None:
    """An empty list would make every check below vacuous."""
    assert len(THRESHOLD_RULES) >= 8, THRESHOLD_RULES


def _engine_hits(det: Detection, table: pa.Table, start: datetime, end: datetime) -> list[dict[str, Any]]:
    engine = DuckDBEngine(load_settings({"MAMORI_HOME": "/nonexistent"}), threads=1, create_views=False)
    try:
        engine.register_table(det.header.log_source, table)
        return run_detection(det, engine, start, end)
    finally:
        engine.close()


def _retimed(row: dict[str, Any], t: datetime, i: int) -> dict[str, Any]:
    """The row as if its event happened at t: event time and partition, and for a source that keeps one row per
    event (CloudTrail's duplicate-delivery view) its own event id and time, so copies count as events."""
    out = dict(row)
    out["event_time"] = t.replace(tzinfo=None)
    out["dt"], out["hour"] = f"{t:%Y-%m-%d}", f"{t:%H}"
    if "eventid" in out:
        out["eventid"] = f"00000000-0000-4000-8000-{i:012d}"
    if "eventtime" in out:
        out["eventtime"] = t.strftime("%Y-%m-%dT%H:%M:%SZ")
    return out


@functools.cache
def template(detection_id: str) -> tuple[Detection, pa.Schema, dict[str, Any]]:
    """The rule, its table's schema and one row of its first positive case that the rule reports: each row is
    put at its own second of one hour, so the hits' event times say which rows hit."""
    det = get_detection(SQL, detection_id)
    case = min((CASES / detection_id / "positive").iterdir())
    table, _ = case_table(det.header.log_source, case.read_bytes())
    base = EDGE - HOUR
    rows = [_retimed(r, base + timedelta(seconds=i), i) for i, r in enumerate(table.to_pylist())]
    hits = _engine_hits(det, pa.Table.from_pylist(rows, schema=table.schema), base, EDGE)
    assert hits, f"{detection_id}: {case.name} has no hit to copy"
    first = round((hits[0]["event_time"] - base).total_seconds())
    return det, table.schema, table.to_pylist()[first]


class Runs:
    """Copies of one rule's template hit at the given instants, and a ledger: run(window) = one detect run."""

    def __init__(self, tmp: Path, detection_id: str, times: list[datetime], ledger: str = "ledger") -> None:
        self.det, schema, row = template(detection_id)
        self.table = pa.Table.from_pylist([_retimed(row, t, i) for i, t in enumerate(times)], schema=schema)
        self.ledger = Ledger(f"sqlite:///{tmp / ledger}.db")

    def run(self, start: datetime, end: datetime) -> list[str]:
        hits = _engine_hits(self.det, self.table, start, end)
        return self.ledger.record_window(self.det, start, end, group_hits(self.det, hits))

    def alerts(self) -> list[tuple[str, int, str]]:
        return [(a.key, a.hit_count, a.bucket_start) for a in self.ledger.alerts()]


def limits(detection_id: str) -> tuple[int, timedelta]:
    det, _, _ = template(detection_id)
    return det.header.threshold, det.header.dedup.period_td


def evenly(first: datetime, last: datetime, n: int) -> list[datetime]:
    """n instants from first to last, both included."""
    step = (last - first) / (n - 1)
    return [first + i * step for i in range(n)]


@pytest.mark.parametrize("rule", THRESHOLD_RULES)
def test_threshold_reached_by_two_runs_inside_one_bucket_is_one_alert_and_reruns_keep_it_one(
    tmp_path: Path, rule: str
) -> None:
    n, period = limits(rule)
    bucket = EDGE - period
    # N hits from the bucket's first instant to its last second; two runs, each holding part of them.
    runs = Runs(tmp_path, rule, evenly(bucket, EDGE - timedelta(seconds=1), n))
    first, second = (bucket, bucket + period / 2), (bucket + period / 2, EDGE)
    assert runs.run(*first) == [], f"{rule}: alert before the bucket reached {n}"
    fired = runs.run(*second)
    alerts = runs.alerts()
    assert len(fired) == 1 and alerts == [(fired[0], n, bucket.isoformat())], f"{rule}: {fired} {alerts}"
    # Re-runs, in any order, replace their own contribution and never add it again.
    for window in (second, first, first, second):
        runs.run(*window)
    assert runs.alerts() == alerts, f"{rule}: re-runs changed the alert"


@pytest.mark.parametrize("rule", THRESHOLD_RULES)
def test_one_hit_short_of_the_threshold_in_the_bucket_is_quiet_and_the_bucket_edges_belong_outside(
    tmp_path: Path, rule: str
) -> None:
    n, period = limits(rule)
    bucket = EDGE - period
    # N - 1 hits inside (its first instant is the test above's), the second before the bucket and the bucket's
    # end, which is the next bucket's first instant.
    inside = evenly(bucket + timedelta(seconds=1), EDGE - timedelta(seconds=2), n - 1)
    around = [bucket - timedelta(seconds=1), EDGE]
    runs = Runs(tmp_path, rule, inside + around)
    for start in (EDGE - 2 * HOUR, EDGE - HOUR, EDGE):  # hourly runs around the bucket
        runs.run(start, start + HOUR)
    assert runs.alerts() == [], (
        f"{rule}: {n - 1} hits in the bucket (+ one on each side of it) raised an alert"
    )

    # The Nth, in the bucket's last second.
    runs = Runs(tmp_path, rule, [*inside, EDGE - timedelta(seconds=1), *around], ledger="with-nth")
    for start in (EDGE - 2 * HOUR, EDGE - HOUR, EDGE):
        runs.run(start, start + HOUR)
    assert [(c, b) for _, c, b in runs.alerts()] == [(n, bucket.isoformat())], f"{rule}: {runs.alerts()}"


@pytest.mark.parametrize("rule", THRESHOLD_RULES)
def test_a_burst_split_below_the_threshold_by_the_bucket_edge_counts_in_two_buckets(
    tmp_path: Path, rule: str
) -> None:
    """The documented per-bucket count (README "Threshold rules"), at the edge that is also between two hourly
    runs: N hits within one period, ceil(N/2) before 11:00 and the rest after, raise nothing."""
    n, period = limits(rule)
    before = (n + 1) // 2
    after = evenly(EDGE, EDGE + period / 2 - timedelta(seconds=1), n - before) if n - before > 1 else [EDGE]
    times = [*evenly(EDGE - period / 2, EDGE - timedelta(seconds=1), before), *after]
    assert len(times) == n and max(times) - min(times) < period
    runs = Runs(tmp_path, rule, times)
    for start in (EDGE - HOUR, EDGE):
        runs.run(start, start + HOUR)
    assert runs.alerts() == [], f"{rule}: {runs.alerts()}"

    # What the per-bucket count does guarantee: 2N - 1 hits within one period reach N on one side of any edge,
    # so such a burst is never missed (here N before 11:00, N - 1 after: one alert, in the earlier bucket).
    wide = evenly(EDGE - period / 2, EDGE + period / 2 - timedelta(seconds=1), 2 * n - 1)
    runs = Runs(tmp_path, rule, wide, ledger="twice-less-one")
    for start in (EDGE - HOUR, EDGE):
        runs.run(start, start + HOUR)
    assert [(c, b) for _, c, b in runs.alerts()] == [(n, (EDGE - period).isoformat())], (
        f"{rule}: {runs.alerts()}"
    )
