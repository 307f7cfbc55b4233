"""What lets a detect run skip and share scans (mamori.detect.evaluate) holds for every rule in the catalog:
each reads only its own source's table, and every read of it is bounded by a window macro (the hour-partition
filter and the event-time range), so no rule reads rows outside its window plus its `before=`/`lookback` reach.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp

from mamori.detections.loader import load_catalog
from mamori.detections.render import window_predicate
from mamori.sources import SOURCES
from mamori.sources.base import PARTITION_KEYS

REPO = Path(__file__).resolve().parents[2]
CATALOG = load_catalog(REPO / "sql", include_deprecated=True)
START, END = datetime(2026, 11, 1, 10, tzinfo=UTC), datetime(2026, 11, 1, 11, tzinfo=UTC)


def _reads(sql: str) -> list[exp.Table]:
    tree = sqlglot.parse_one(sql, read="athena")
    ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
    return [t for t in tree.find_all(exp.Table) if t.name not in ctes]


@pytest.mark.parametrize("det", CATALOG, ids=lambda d: d.id)
def test_a_rule_reads_only_its_own_source_and_only_through_a_window_macro(det):
    sql = det.render(START, END)
    table = SOURCES[det.header.log_source].table
    reads = _reads(sql)
    assert reads and {t.name for t in reads} == {table}
    for t in reads:
        select = t.find_ancestor(exp.Select)
        where = select.args.get("where") if select is not None else None
        assert where is not None, f"{det.id}: a read of {table} without a WHERE"
        text = where.sql(dialect="athena")
        # the macro's shape: a partition filter AND the event-time range, both on this read
        assert "event_time >= " in text and "event_time < " in text, det.id
        assert "dt = '" in text or "dt BETWEEN" in text, det.id


@pytest.mark.parametrize("det", CATALOG, ids=lambda d: d.id)
def test_the_step_a_hit_comes_from_is_filtered_to_the_window_hours(det):
    """`{{ window() }}` renders the window's own partition filter exactly once: the filter every hit passes."""
    sql = det.render(START, END)
    assert sql.count(window_predicate(START, END)) == 1


@pytest.mark.parametrize("det", CATALOG, ids=lambda d: d.id)
def test_a_rule_runs_on_a_shared_scan_holding_only_the_columns_it_names(det):
    """A shared scan keeps only the columns its rules name (`Detection.names_read`): the rule still binds."""
    from mamori.detect import _columns
    from mamori.engines.duckdb import DuckDBEngine

    src = SOURCES[det.header.log_source]
    columns = _columns([det], src.schema.names, START, END)
    engine = DuckDBEngine(None, create_views=False)  # type: ignore[arg-type]
    try:
        empty = src.schema.empty_table()
        for key in PARTITION_KEYS:
            empty = empty.append_column(key, pa.array([], pa.string()))
        engine.register_table(src.table, empty)
        with engine.shared_scan(src.table, window_predicate(START, END), columns) as rows:
            assert rows == 0
            engine.query(det.render(START, END))  # raises a BinderException on a column left out
    finally:
        engine.close()
