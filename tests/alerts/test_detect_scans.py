"""A detect run queries only what can hit: rules whose source has no data file in the window's hour partitions
get no query (reported as skipped, recorded as an empty contribution), and on DuckDB the rules of one source
share one scan of the window's rows."""

from __future__ import annotations

from datetime import UTC, timedelta
from pathlib import Path
from typing import ClassVar

import pytest
from lake_support import write_to_lake

from mamori import detect
from mamori.alerts.ledger import Ledger
from mamori.config import load_settings
from mamori.detections.testing import case_table
from mamori.engines.duckdb import DuckDBEngine

REPO = Path(__file__).resolve().parents[2]
ROOT_CASE = (
    REPO / "tests" / "detections" / "cloudtrail_root_activity" / "positive" / "root_access_key_api_call.json"
)


class CountingEngine(DuckDBEngine):
    """The real DuckDB engine over the lake, counting the queries and shared scans it is sent."""

    queries: ClassVar[list[str]] = []
    scans: ClassVar[list[str]] = []
    on_scan: ClassVar[list[bool]] = []  # per query: did `cloudtrail` mean a shared scan's temporary table

    def query(self, sql):  # type: ignore[override]
        CountingEngine.queries.append(sql)
        temp = "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = 'cloudtrail'"
        CountingEngine.on_scan.append(self.con.execute(temp).fetchone()[0] == 1)
        return super().query(sql)

    def shared_scan(self, table, where, columns=None):  # type: ignore[override]
        CountingEngine.scans.append(table)
        return super().shared_scan(table, where, columns)


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A lake holding one CloudTrail case (root activity) and nothing else; a ledger; a counting engine."""
    settings = load_settings(
        {
            "MAMORI_HOME": str(tmp_path / "home"),
            "MAMORI_LEDGER_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
            # windows built with one 60-minute lag and no re-reads (tests/conftest.py)
            "MAMORI_DETECT_LAG_MINUTES": "60",
            "MAMORI_DETECT_OVERLAP_MINUTES": "0",
        }
    )
    table, _ = case_table("cloudtrail", ROOT_CASE.read_bytes())
    write_to_lake(settings, "cloudtrail", table)
    hours = {
        t.replace(tzinfo=UTC, minute=0, second=0, microsecond=0) for t in table["event_time"].to_pylist()
    }
    [hour] = hours  # the case lies in one hour partition
    monkeypatch.setattr(
        detect, "get_engine", lambda _s=None, tables=None: CountingEngine(settings, threads=1, tables=tables)
    )
    CountingEngine.queries, CountingEngine.scans, CountingEngine.on_scan = [], [], []
    return settings, hour


def _chunk(settings, source):
    return next(c for c in detect.detection_chunks(settings) if c[0].startswith(source))


def test_rules_of_a_source_without_data_in_the_window_send_no_query(env):
    settings, hour = env
    start = hour + settings.detect_lag  # the run whose window is the case's hour
    vpcflow = _chunk(settings, "vpcflow_")

    results = detect.run_chunk(vpcflow, start, start + timedelta(hours=1), settings)

    assert CountingEngine.queries == []  # today: one query per rule (5)
    assert [r["detection"] for r in results] == vpcflow
    assert all(r["skipped"] and r["hits"] == 0 and r["alerts"] == [] for r in results)
    summary = detect.summarize_window([results])
    assert summary["skipped"] == sorted(vpcflow)


def test_a_source_with_data_is_queried_and_alerts(env):
    settings, hour = env
    start = hour + settings.detect_lag
    chunks = [c for c in detect.detection_chunks(settings) if c[0].startswith("cloudtrail_")]

    results = [r for c in chunks for r in detect.run_chunk(c, start, start + timedelta(hours=1), settings)]

    assert not any(r.get("skipped") for r in results)
    assert {r["detection"] for r in results if r["alerts"]} == {"cloudtrail_root_activity"}
    assert [a.detection_id for a in Ledger(settings.ledger_url).alerts()] == ["cloudtrail_root_activity"]


def test_data_only_before_the_window_is_not_enough_to_query(env):
    """The next hour's window: its `before=` rules could read the case's hour, but no hit can lie there."""
    settings, hour = env
    start = hour + timedelta(hours=1) + settings.detect_lag
    chunks = [c for c in detect.detection_chunks(settings) if c[0].startswith("cloudtrail_")]

    results = [r for c in chunks for r in detect.run_chunk(c, start, start + timedelta(hours=1), settings)]

    assert CountingEngine.queries == []
    assert all(r["skipped"] and r["hits"] == 0 for r in results)


def test_the_rules_of_a_source_share_one_scan_and_first_seen_rules_keep_their_own(env):
    settings, hour = env
    start, end = hour + settings.detect_lag, hour + settings.detect_lag + timedelta(hours=1)
    chunks = [c for c in detect.detection_chunks(settings) if c[0].startswith("cloudtrail_")]

    per_rule = [r for c in chunks for r in detect.run_chunk(c, start, end, settings, share_scans=False)]
    assert CountingEngine.scans == [] and not any(CountingEngine.on_scan)
    queries = len(CountingEngine.queries)
    CountingEngine.queries, CountingEngine.on_scan = [], []

    shared = [r for c in chunks for r in detect.run_chunk(c, start, end, settings)]

    assert CountingEngine.scans == ["cloudtrail"] * len(chunks)  # one scan of the lake per chunk
    assert len(CountingEngine.queries) == queries  # each rule still runs its own SQL, unchanged
    expected = []  # per chunk: first-seen rules on the lake table first, then the rest on the shared scan
    for c in chunks:
        reach = [detect.get_detection(settings.sql_dir, i).reach for i in c]
        expected += [False] * reach.count(None) + [True] * (len(c) - reach.count(None))
    assert CountingEngine.on_scan == expected and False in expected  # the catalog has first-seen rules
    assert shared == per_rule


def test_a_chunk_opens_views_only_for_its_own_source_table(env, monkeypatch):
    """Opening a view reads the footer of every file of its table; a chunk's rules read only their source's."""
    settings, hour = env
    opened: list[set[str] | None] = []
    monkeypatch.setattr(
        detect,
        "get_engine",
        lambda _s=None, tables=None: (
            opened.append(tables) or CountingEngine(settings, threads=1, tables=tables)
        ),
    )
    detect.run_chunk(
        _chunk(settings, "cloudtrail"), hour + timedelta(hours=1), hour + timedelta(hours=2), settings
    )
    assert opened == [{"cloudtrail"}]
    engine = DuckDBEngine(settings, threads=1, tables={"cloudtrail"})
    try:
        views = {
            r[0]
            for r in engine.con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
        }
    finally:
        engine.close()
    assert "cloudtrail" in views and "all_events" not in views and "alb" not in views
