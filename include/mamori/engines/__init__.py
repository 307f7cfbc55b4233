"""One engine interface over the embedded default (DuckDB on the local/S3 lake) and Amazon Athena."""

from __future__ import annotations

from collections.abc import Collection
from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable

import pyarrow as pa

from mamori.config import Settings, load_settings


class Engine(Protocol):
    """Runs Athena-dialect SQL over the lake's tables and returns an Arrow table."""

    name: str

    def query(self, sql: str) -> pa.Table:
        """Execute one Athena-dialect SELECT."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


@runtime_checkable
class SharedScans(Protocol):
    """An engine that can hold one scan of a table's recent rows for several queries (DuckDB does). Athena
    cannot hold one between queries; there a source's rules are sent as one combined statement instead
    (`mamori.detections.combined`), so its 10 MB minimum per query is paid once per source and window."""

    def shared_scan(
        self, table: str, where: str, columns: list[str] | None = None
    ) -> AbstractContextManager[int]:
        """While the context is open, `table` in queries means only its rows matching the Athena-dialect
        predicate `where` (and only `columns` of them, when given), read from the lake once; the context's
        value is how many rows that is."""
        ...


# Athena error types that mean "this SQL is wrong", not "the service is unwell" (those are retried instead).
_ATHENA_SQL_ERRORS = (
    "SYNTAX_ERROR",
    "COLUMN_NOT_FOUND",
    "FUNCTION_NOT_FOUND",
    "TYPE_MISMATCH",
    "INVALID_FUNCTION_ARGUMENT",
    "AMBIGUOUS_NAME",
    "MISSING_ATTRIBUTE",
    "NOT_SUPPORTED",
    "DIVISION_BY_ZERO",
    "INVALID_CAST_ARGUMENT",
)


def is_query_fault(exc: BaseException) -> bool:
    """True when a query failed because of its own SQL (a broken rule), so retrying cannot help.

    A detect run isolates such a rule and reports it; anything else (an engine or service outage, a lake
    that cannot be read) propagates, so Airflow retries the task as a whole.
    """
    import sqlglot

    if isinstance(exc, sqlglot.errors.SqlglotError):
        return True
    try:
        import duckdb
    except ImportError:  # pragma: no cover - duckdb is a hard dependency of the embedded default
        duckdb = None  # type: ignore[assignment]
    if duckdb is not None and isinstance(
        exc,
        duckdb.ParserException
        | duckdb.BinderException
        | duckdb.CatalogException
        | duckdb.ConversionException
        | duckdb.InvalidInputException
        | duckdb.NotImplementedException
        | duckdb.OutOfRangeException,
    ):
        return True
    if type(exc).__module__.startswith("pyathena"):
        return any(code in str(exc) for code in _ATHENA_SQL_ERRORS)
    return False


def get_engine(settings: Settings | None = None, tables: Collection[str] | None = None) -> Engine:
    """The engine the settings select; imported lazily so DuckDB users never load the AWS stack.

    `tables`: the lake tables the caller will read (None: every table and `all_events`). Athena's tables
    exist whatever is asked; the embedded engine builds views only for these, since each view it opens reads
    the footer of every Parquet file of its table (a detect chunk reads one source's table)."""
    s = settings or load_settings()
    if s.engine == "athena":
        from mamori.engines.athena import AthenaEngine

        return AthenaEngine(s)
    from mamori.engines.duckdb import DuckDBEngine

    return DuckDBEngine(s, tables=tables)
