"""Shared by the detection and pruning sections: what DuckDB read for one query, and the window macro without
its partition filter (the same-run baseline both sections compare against)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any


def files_and_rows(con: Any, sql: str, out: Path) -> tuple[int, int]:
    """(files read, rows scanned) of one query, from DuckDB's JSON profile (its byte counter stays 0 for
    local files, so files and rows are the cost measure)."""
    con.execute("PRAGMA enable_profiling = 'json'")
    con.execute(f"PRAGMA profiling_output = '{out}'")
    try:
        con.execute(sql).fetchall()
    finally:
        con.execute("PRAGMA disable_profiling")
    prof = json.loads(out.read_text())
    files = 0

    def walk(node: dict[str, Any]) -> None:
        nonlocal files
        files += int((node.get("extra_info") or {}).get("Total Files Read", 0) or 0)
        for child in node.get("children", []):
            walk(child)

    walk(prof)
    return files, int(prof.get("cumulative_rows_scanned", 0))


@contextmanager
def no_pruning() -> Iterator[None]:
    """Bench-only: the window macro without its dt/hour partition filter (event-time range only)."""
    from mamori.detections import render

    original = render.window_predicate

    def event_time_only(start: datetime, end: datetime) -> str:
        full = original(start, end)
        return "(" + full[full.index("event_time >=") :]

    render.window_predicate = event_time_only
    try:
        yield
    finally:
        render.window_predicate = original
