"""Bind every rule's rendered SQL in DuckDB at catalog-test time.

sqlglot parses anything shaped like a function call, so a Trino-only function (`url_extract_host`) passes the
parse and the dialect lint and fails only when DuckDB runs it. `EXPLAIN` over the engine's empty tables (a
DuckDB engine on a lake with no data registers every source's table and the `all_events` view) runs DuckDB's
binder (names, types, functions) without reading data; one connection serves the whole catalog.
"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb

from mamori.config import load_settings
from mamori.detections.dialect_lint import fault_line
from mamori.detections.loader import Detection
from mamori.engines.dialect import athena_to_duckdb
from mamori.engines.duckdb import DuckDBEngine


def binder_problems(detections: list[Detection]) -> dict[str, str]:
    """Detection id → why DuckDB cannot bind its rendered SQL (empty = every rule binds)."""
    engine = DuckDBEngine(load_settings({"MAMORI_HOME": "/nonexistent-mamori-binder-home"}), threads=1)
    sample = datetime(2026, 1, 1, tzinfo=UTC)
    out: dict[str, str] = {}
    try:
        for det in detections:
            try:
                engine.con.execute("EXPLAIN " + athena_to_duckdb(det.render(sample, sample.replace(hour=1))))
            except duckdb.Error as exc:
                why = str(exc).split("\n")[0]
                line = fault_line(det.path, why)
                where = f"{det.path}:{line}" if line else str(det.path)
                out[det.id] = f"{where}: DuckDB cannot run this rule: {why}"
    finally:
        engine.close()
    return out
