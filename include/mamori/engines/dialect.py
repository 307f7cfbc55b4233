"""Athena (Trino) SQL → DuckDB SQL, correcting the places where a plain transpile gives different answers.

Detections are written once, for Athena. sqlglot's DuckDB output is right for almost every construct; the
overrides below are the ones where the query runs on both engines but returns different rows (see
docs/adr/0001-one-sql-dialect.md). A test pins each one against its Trino meaning.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.generator import Generator


def _date_diff(gen: Generator, e: exp.DateDiff) -> str:
    # Trino counts whole units elapsed; DuckDB's date_diff counts boundaries crossed. DuckDB's date_sub has
    # Trino's meaning (date_sub('hour', 10:59, 11:00) = 0, date_diff would say 1).
    unit = (e.unit.name if e.unit else "day").lower()
    return f"DATE_SUB('{unit}', {gen.sql(e, 'expression')}, {gen.sql(e, 'this')})"


def _approx_distinct(gen: Generator, e: exp.ApproxDistinct) -> str:
    # DuckDB's HLL is visibly inexact at the small counts thresholds use ("≥ 10 distinct ports"); exact count
    # is what a rule author expects from a test case, and Trino's estimate is exact at those sizes.
    return f"COUNT(DISTINCT {gen.sql(e, 'this')})"


def _json_extract_scalar(gen: Generator, e: exp.JSONExtractScalar) -> str:
    # Trino returns NULL when the path points at an object or array; DuckDB's ->> returns its JSON text,
    # which would make `json_extract_scalar(p, '$.x') IS NOT NULL` true for objects on DuckDB only.
    this, path = gen.sql(e, "this"), gen.sql(e, "expression")
    return (
        f"CASE WHEN json_type({this}, {path}) IN ('OBJECT', 'ARRAY') THEN NULL "
        f"ELSE json_extract_string({this}, {path}) END"
    )


class MamoriDuckDB(DuckDB):
    """DuckDB as sqlglot writes it, with Trino semantics kept where they differ."""

    class Generator(DuckDB.Generator):  # type: ignore[misc,valid-type]  # sqlglot assigns it dynamically
        TRANSFORMS = {  # noqa: RUF012 - sqlglot's extension point is this class attribute
            **DuckDB.Generator.TRANSFORMS,
            exp.DateDiff: _date_diff,
            exp.ApproxDistinct: _approx_distinct,
            exp.JSONExtractScalar: _json_extract_scalar,
        }


def athena_to_duckdb(sql: str) -> str:
    """Transpile one Athena statement; raises sqlglot.ParseError on SQL Athena itself would not parse."""
    statements = sqlglot.transpile(
        sql, read="athena", write=MamoriDuckDB, unsupported_level=sqlglot.ErrorLevel.RAISE
    )
    if len(statements) != 1:
        raise ValueError(f"expected exactly one SQL statement, got {len(statements)}")
    return statements[0]
