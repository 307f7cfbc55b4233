"""Athena DDL for the lake's tables: render the templates in sql/ddl/ and derive Hive types from Arrow schemas.

The Parquet files and the Athena table must agree column for column, or Athena silently reads NULLs. The DDL
stays hand-written rather than generated from the source's schema: it is what users read and run on Athena,
with comments on where columns come from and AWS's own names; tests/contracts/test_sources_contract.py
compares it with every registered source's Arrow schema through `hive_type`, so it cannot drift.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
from jinja2 import Environment, StrictUndefined

# DDL, not HTML; every value rendered here comes from configuration, never from logs.
_ENV = Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)  # noqa: S701


def hive_type(t: pa.DataType) -> str:
    """The Athena/Hive column type Athena's Parquet reader maps to this Arrow type."""
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "STRING"
    if pa.types.is_timestamp(t):
        return "TIMESTAMP"
    if pa.types.is_int64(t):
        return "BIGINT"
    if pa.types.is_int32(t):
        return "INT"
    if pa.types.is_float64(t):
        return "DOUBLE"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_list(t):
        return f"ARRAY<{hive_type(t.value_type)}>"
    if pa.types.is_struct(t):
        return "STRUCT<" + ", ".join(f"{f.name}: {hive_type(f.type)}" for f in t) + ">"
    raise TypeError(f"no Athena type for {t}")


def render_ddl(
    sql_dir: Path,
    table: str,
    *,
    database: str,
    lake_url: str,
    accounts: Sequence[str],
    regions: Sequence[str],
    projection_start: str,
    template: str | None = None,
    name: str | None = None,
) -> str:
    """The CREATE EXTERNAL TABLE statement to run on Athena for one table (tables with the same columns, like
    cloudtrail and cloudtrail_insights, share one template). `table` names the lake folder; `name` the Athena
    table when it differs (`cloudtrail_delivered`, under the `cloudtrail` view that merges copies)."""
    text = (sql_dir / "ddl" / f"{template or table}.sql").read_text(encoding="utf-8")
    return _ENV.from_string(text).render(
        table=table,
        name=name or table,
        database=database,
        lake_url=lake_url.rstrip("/"),
        accounts=",".join(accounts),
        regions=",".join(regions),
        projection_start=projection_start,
    )


PARTITION_COLUMNS = ("account", "region", "dt", "hour")


def one_row_per_event_select(
    delivered: str,
    columns: Sequence[str],
    keys: Sequence[str],
    prefer: Sequence[str],
    order: Sequence[str] = (),
) -> str:
    """One Athena SELECT over `delivered` keeping one row per event where an event was delivered more than once
    (mamori.sources.spec.DuplicateDelivery says why and which columns).

    The window is partitioned by the partition columns first, so the window macro's dt/hour predicates on the
    view still prune files on both engines (Trino and DuckDB push a filter on a window's partition columns
    below it), and copies are only sought within one partition, where every copy of an event lands.

    `order`: columns of `delivered` (not output) the rows come back ordered by. A window returns rows in its own
    order (DuckDB's varies with the thread count), so the embedded engine orders them as the files are read
    (file name, row number): rules see rows in the order they would over the delivered table, and tied hits
    keep the same samples run after run. The engine pushes a rule's filters below this sort, so only matching
    rows are sorted.
    """
    if not keys:
        raise ValueError("no key columns")
    cols = ", ".join(columns)
    inner = ", ".join([*columns, *order])
    over = f"PARTITION BY {', '.join([*PARTITION_COLUMNS, *keys])} ORDER BY {', '.join([*(prefer or keys), *order])}"
    return (
        f"SELECT {cols} FROM (SELECT {inner}, row_number() OVER ({over}) AS mamori_copy FROM {delivered}) "
        f"WHERE mamori_copy = 1 OR {keys[0]} IS NULL" + (f" ORDER BY {', '.join(order)}" if order else "")
    )


def render_one_row_per_event_view(database: str, view: str, select: str) -> str:
    """CREATE OR REPLACE VIEW for Athena over a source's `<table>_delivered`."""
    return f"CREATE OR REPLACE VIEW {database}.{view} AS\n{select}"


ALL_EVENTS_COLUMNS: tuple[str, ...] = (
    "event_time",
    "source",
    "account_id",
    "related_ips",
    "related_users",
    "related_arns",
    "related_accounts",
    "account",
    "region",
    "dt",
    "hour",
)


def all_events_select(tables: Sequence[str]) -> str:
    """One Athena SELECT over every source's common columns, so a pivot on an IP or principal is one query.

    DuckDB runs it as a view (transpiled like any other SQL); on Athena it is the body of the
    `all_events` view. Partition columns are kept, so filters on dt/hour still prune each branch.
    """
    if not tables:
        raise ValueError("no tables")
    cols = ", ".join(ALL_EVENTS_COLUMNS)
    return "\nUNION ALL\n".join(f"SELECT {cols} FROM {t}" for t in tables)


def render_all_events_view(database: str, tables: Sequence[str]) -> str:
    """CREATE OR REPLACE VIEW for Athena."""
    return f"CREATE OR REPLACE VIEW {database}.all_events AS\n{all_events_select(tables)}"
