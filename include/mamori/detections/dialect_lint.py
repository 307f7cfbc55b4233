"""Refuse SQL that parses on both engines but means something else on one of them, or reads the clock.

Detections run on Athena in AWS and on DuckDB everywhere else (tests, the embedded default, backtests). A
construct that gives different rows on the two would make a rule pass its tests and fail in production, so
the loader rejects it with the reason and the alternative. The list follows the differences verified for
this stack (docs/adr/0001-one-sql-dialect.md); constructs the dialect subclass already fixes (date_diff,
approx_distinct, json_extract_scalar on objects) are allowed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlglot import exp

if TYPE_CHECKING:
    from mamori.detections.loader import Detection

# Anonymous (not sqlglot-modelled) functions: name → why and what to use instead.
_REFUSED_FUNCTIONS: dict[str, str] = {
    "format_datetime": "not transpiled to DuckDB; use date_format(ts, '%Y-%m-%d')",
}


def dialect_problems(tree: exp.Expression) -> list[str]:
    """Human-readable reasons this Athena statement must not be a detection (empty = fine)."""
    problems = []
    for node in tree.walk():
        if isinstance(node, exp.CurrentTimestamp | exp.CurrentDate | exp.CurrentTime | exp.Localtimestamp):
            problems.append(
                f"{node.sql('athena')} reads the wall clock: a rule must be a function of its window "
                "({{ window() }}), or re-runs and backfills give different answers"
            )
        elif isinstance(node, exp.Anonymous) and node.name.lower() in _REFUSED_FUNCTIONS:
            problems.append(f"{node.name}(): {_REFUSED_FUNCTIONS[node.name.lower()]}")
        elif isinstance(node, exp.Unnest):
            alias = node.args.get("alias")
            columns = alias.args.get("columns") if alias is not None else None
            if columns and len(columns) > 1:
                problems.append(
                    "UNNEST of an array of rows into several columns fails on DuckDB; project the fields "
                    "with transform(...) first and UNNEST one column"
                )
        elif isinstance(node, exp.DateAdd) and _is_date_literal(node.this):
            problems.append(
                "date_add on a DATE returns a DATE on Athena but a TIMESTAMP on DuckDB; add to a TIMESTAMP "
                "or cast the result"
            )
    return problems


def _is_date_literal(node: exp.Expression | None) -> bool:
    return isinstance(node, exp.Cast) and node.to.is_type(exp.DataType.Type.DATE)


def binder_problems(detections: list[Detection]) -> dict[str, str]:
    """Detection id → why DuckDB cannot bind its rendered SQL (empty = every rule binds).

    sqlglot parses anything shaped like a function call, so a Trino-only function (`url_extract_host`)
    passes the parse and the lint above and fails only when DuckDB runs it. `EXPLAIN` on empty tables of
    every source's schema runs DuckDB's binder (names, types, functions) without reading data; one
    connection serves the whole catalog, so the catalog test stays fast.
    """
    import re
    from datetime import UTC, datetime

    import duckdb
    import pyarrow as pa

    from mamori.ddl import all_events_select
    from mamori.engines.dialect import athena_to_duckdb
    from mamori.sources import SOURCES
    from mamori.sources.base import PARTITION_KEYS

    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        for src in SOURCES.values():
            empty = src.schema.empty_table()
            for key in PARTITION_KEYS:
                empty = empty.append_column(key, pa.array([], pa.string()))
            con.register(f"_{src.table}_arrow", empty)
            con.execute(f"CREATE VIEW {src.table} AS SELECT * FROM _{src.table}_arrow")
        con.execute(
            "CREATE VIEW all_events AS "
            + athena_to_duckdb(all_events_select([s.table for s in SOURCES.values()]))
        )
        sample = datetime(2026, 1, 1, tzinfo=UTC)
        out: dict[str, str] = {}
        for det in detections:
            try:
                con.execute("EXPLAIN " + athena_to_duckdb(det.render(sample, sample.replace(hour=1))))
            except duckdb.Error as exc:
                why = str(exc).split("\n")[0]
                # DuckDB's LINE counts in the transpiled SQL; the function or column it names is in the file.
                name = re.search(r'with name "?(\w+)"?|column with name "?(\w+)"?|"(\w+)" not found', why)
                line = _line_of_word(det.path, next(g for g in name.groups() if g)) if name else None
                where = f"{det.path}:{line}" if line else str(det.path)
                out[det.id] = f"{where}: DuckDB cannot run this rule: {why}"
        return out
    finally:
        con.close()


def _line_of_word(path: Path, word: str) -> int | None:
    """The file line of the first whole-word use of `word` below the header."""
    import re

    text = path.read_text(encoding="utf-8")
    start = text.find("*/")
    for m in re.finditer(rf"\b{re.escape(word)}\b", text[start:] if start >= 0 else text, re.I):
        return text.count("\n", 0, (start if start >= 0 else 0) + m.start()) + 1
    return None
