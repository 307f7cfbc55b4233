"""The search form: IP / principal / account / event name / field text over every source, no SQL to write.

Each source table contributes one branch of a UNION ALL over the common columns (those of the `all_events`
view: event_time, source, partitions, account_id, related_*), plus a per-source event name and a one-line
detail so a result row reads on its own. Branches are used instead of the `all_events` view itself so that a
filter on a source-specific column (event name, `--contains field=text`) drops the sources that lack it, and
every branch carries the window predicate, so partition pruning is guaranteed on both engines.

On DuckDB the range is searched in whole-day chunks (1, 1, 2, 4, 7, 7, ... days, in result order), each
chunk's views reading only its files in the range's hours (see lakefiles), so a recent window never lists
other days, a limited search usually stops after one day, and a 30-day export streams chunk by chunk with
progress on stderr. On Athena it is one query (Athena parallelises), refused without a time range and sized
against the byte budget before it runs.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

import pyarrow as pa

from mamori.config import Settings
from mamori.detections.render import window_predicate
from mamori.engines.athena import AthenaEngine
from mamori.engines.dialect import athena_to_duckdb
from mamori.search.execute import (
    DEFAULT_BUDGET_BYTES,
    DuckLake,
    Progress,
    Results,
    RunStats,
    athena_guard,
    athena_stream,
    source_tables,
)
from mamori.search.lakefiles import Lake
from mamori.search.params import Bound, ParamError, bind_sql, coerce
from mamori.search.timerange import TimeRange
from mamori.sources import SPECS

# Per table, from the sources' field models (sources/<name>/spec.py): the "what happened" column (sources
# without one are skipped by --event-name) and one line of context.
EVENT_NAME: dict[str, str] = {s.table: s.fields.event_name for s in SPECS.values() if s.fields.event_name}
DETAIL: dict[str, str] = {s.table: s.fields.detail for s in SPECS.values() if s.fields.detail}

SEARCH_SCHEMA = pa.schema(
    [
        ("event_time", pa.timestamp("us")),
        ("source", pa.string()),
        ("account", pa.string()),
        ("region", pa.string()),
        ("account_id", pa.string()),
        ("event_name", pa.string()),
        ("principal", pa.string()),
        ("ips", pa.string()),
        ("detail", pa.string()),
    ]
)
_FIELD = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$")
_ACCOUNT = re.compile(r"^\d{12}$")


class SearchError(ValueError):
    """A search the form cannot express (unknown field or source, malformed value)."""


@dataclass(frozen=True)
class Filters:
    """Values within one filter are OR-ed, filters are AND-ed. All values are validated and bound."""

    ips: tuple[str, ...] = ()
    principals: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    event_names: tuple[str, ...] = ()
    contains: tuple[tuple[str, str], ...] = ()  # (field path, text): case-insensitive substring
    sources: tuple[str, ...] = ()  # restrict to these source tables


def parse_contains(items: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """`field=text` pairs from the command line."""
    out = []
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip() or not text:
            raise SearchError(f"--contains {item!r}: expected FIELD=TEXT (e.g. useragent=sqlmap)")
        out.append((name.strip().lower(), text))
    return tuple(out)


def _field_type(schema: pa.Schema, path: str) -> pa.DataType | None:
    parts = path.split(".")
    if parts[0] not in schema.names:
        return None
    t: pa.DataType = schema.field(parts[0]).type
    for p in parts[1:]:
        if not pa.types.is_struct(t) or t.get_field_index(p) < 0:
            return None
        t = t.field(p).type
    return t


def _scalar(t: pa.DataType) -> bool:
    return not (pa.types.is_struct(t) or pa.types.is_list(t) or pa.types.is_map(t))


def _quote(path: str) -> str:
    # Only names that exist in a source schema reach here (checked against _FIELD and the schema).
    return ".".join(f'"{p}"' for p in path.split("."))


@dataclass(frozen=True)
class Plan:
    """The validated search: tables to read and the SQL template with its bound values."""

    tables: tuple[str, ...]
    values: dict[str, Bound]
    filters: Filters

    def template(self, tables: Sequence[str], order: str, limit: int | None) -> str:
        f = self.filters
        branches = []
        schemas = source_tables()
        for t in tables:
            conds = ["{{ window() }}"]
            if f.ips:
                conds.append(
                    _any(f"contains(related_ips, {{{{ param('ip{i}') }}}})" for i in range(len(f.ips)))
                )
            if f.principals:
                conds.append(
                    _any(
                        f"contains(related_arns, {{{{ param('pr{i}') }}}}) OR "
                        f"contains(related_users, {{{{ param('pr{i}') }}}})"
                        for i in range(len(f.principals))
                    )
                )
            if f.accounts:
                conds.append(
                    _any(
                        f"account = {{{{ param('ac{i}') }}}} OR account_id = {{{{ param('ac{i}') }}}} OR "
                        f"contains(related_accounts, {{{{ param('ac{i}') }}}})"
                        for i in range(len(f.accounts))
                    )
                )
            if f.event_names:
                conds.append(
                    _any(f"{EVENT_NAME[t]} = {{{{ param('ev{i}') }}}}" for i in range(len(f.event_names)))
                )
            for i, (path, _) in enumerate(f.contains):
                ftype = _field_type(schemas[t], path)
                col = (
                    _quote(path)
                    if ftype is not None and pa.types.is_string(ftype)
                    else (f"CAST({_quote(path)} AS VARCHAR)")
                )
                conds.append(f"strpos(lower({col}), lower({{{{ param('tx{i}') }}}})) > 0")
            event_name = EVENT_NAME.get(t, "NULL")
            detail = DETAIL.get(t, "NULL")
            branches.append(
                "SELECT event_time, source, account, region, account_id, "
                f"CAST({event_name} AS VARCHAR) AS event_name, "
                "coalesce(element_at(related_arns, 1), element_at(related_users, 1)) AS principal, "
                "array_join(related_ips, ',') AS ips, "
                f"CAST({detail} AS VARCHAR) AS detail "
                f'FROM "{t}" WHERE ' + " AND ".join(conds)
            )
        direction = "DESC" if order == "desc" else "ASC"
        sql = (
            "SELECT * FROM (\n"
            + "\nUNION ALL\n".join(branches)
            + f"\n) ORDER BY event_time {direction}, source"
        )
        return sql + (f" LIMIT {int(limit)}" if limit is not None else "")

    def sql(self, rng: TimeRange, tables: Sequence[str], order: str, limit: int | None) -> str:
        """The Athena SQL for a (sub)range, values bound as literals."""

        return bind_sql(
            self.template(tables, order, limit), self.values, lambda: window_predicate(rng.start, rng.end)
        )


def _any(parts: Iterator[str] | Sequence[str]) -> str:
    items = list(parts)
    return "(" + " OR ".join(f"({p})" for p in items) + ")" if len(items) > 1 else f"({items[0]})"


def plan(filters: Filters) -> Plan:
    """Validate every value by its type and pick the tables that can match; raises SearchError."""
    schemas = source_tables()
    tables = list(schemas)
    if filters.sources:
        unknown = sorted(set(filters.sources) - set(schemas))
        if unknown:
            raise SearchError(f"unknown source(s) {unknown}; known: {', '.join(schemas)}")
        tables = [t for t in tables if t in filters.sources]
    values: dict[str, Bound] = {}
    try:
        for i, ip in enumerate(filters.ips):
            values[f"ip{i}"] = coerce("ip", ip, "--ip")
        for i, p in enumerate(filters.principals):
            values[f"pr{i}"] = coerce("string", p, "--principal")
        for i, a in enumerate(filters.accounts):
            if not _ACCOUNT.match(a.strip()):
                raise SearchError(f"--account {a!r}: an AWS account id is 12 digits")
            values[f"ac{i}"] = coerce("string", a.strip(), "--account")
        for i, e in enumerate(filters.event_names):
            values[f"ev{i}"] = coerce("string", e, "--event-name")
        for i, (_, text) in enumerate(filters.contains):
            values[f"tx{i}"] = coerce("string", text, "--contains")
    except ParamError as exc:
        raise SearchError(str(exc)) from None
    if filters.event_names:
        tables = [t for t in tables if t in EVENT_NAME]
    for path, _ in filters.contains:
        if not _FIELD.match(path):
            raise SearchError(
                f"--contains field {path!r} is not a column name (e.g. useragent, useridentity.arn)"
            )
        having = [t for t in tables if (ft := _field_type(schemas[t], path)) is not None and _scalar(ft)]
        if not having:
            raise SearchError(f"no searched source has a scalar column {path!r}")
        tables = having
    if not tables:
        raise SearchError("no source can match these filters")
    return Plan(tuple(tables), values, filters)


def run_search(
    settings: Settings,
    filters: Filters,
    rng: TimeRange | None,
    *,
    order: Literal["asc", "desc"] = "asc",
    limit: int | None = 1000,
    budget: int = DEFAULT_BUDGET_BYTES,
    force: bool = False,
    progress: Progress | None = None,
    batch_rows: int = 10_000,
    lake: Lake | None = None,
    dry_run: bool = False,
) -> Results:
    """Search the lake; the result streams (DuckDB: chunk by chunk, Athena: page by page).

    dry_run: validate, bind and (on Athena) estimate; stats.sql holds the whole-range statement.
    """
    p = plan(filters)
    stats = RunStats()
    if dry_run and rng is not None:
        stats.sql.append(p.sql(rng, p.tables, order, limit))
        if settings.engine == "athena":
            athena_guard(
                settings,
                stats.sql[0],
                rng,
                uses_window=True,
                budget=budget,
                force=True,
                stats=stats,
                progress=progress,
            )
        return Results(SEARCH_SCHEMA, iter(()), stats)
    if settings.engine == "athena":
        # Refused before any AWS call when the range is missing (athena_guard checks it first).
        sql = p.sql(rng, p.tables, order, limit) if rng is not None else ""
        athena_guard(
            settings, sql, rng, uses_window=True, budget=budget, force=force, stats=stats, progress=progress
        )

        res = athena_stream(AthenaEngine(settings), sql, stats)
        return Results(SEARCH_SCHEMA, (b.cast(SEARCH_SCHEMA) for b in res.batches), stats)
    if rng is None:
        raise SearchError("search needs a time range (--from/--to or --last)")
    return Results(
        SEARCH_SCHEMA,
        _duckdb_days(settings, p, rng, order, limit, stats, progress, batch_rows, lake),
        stats,
    )


def _duckdb_days(
    settings: Settings,
    p: Plan,
    rng: TimeRange,
    order: str,
    limit: int | None,
    stats: RunStats,
    progress: Progress | None,
    batch_rows: int,
    lake: Lake | None,
) -> Iterator[pa.RecordBatch]:
    started = time.perf_counter()
    duck = DuckLake(settings, lake)
    # One statement for the whole range, bound and transpiled once: each chunk's views hold only that
    # chunk's hour partitions, and a partition only holds events of its hour, so the range-wide predicate
    # selects exactly the chunk's share. Chunks run in result order; the limit is applied across them.
    athena_sql = p.sql(rng, p.tables, order, limit)
    stats.sql.append(athena_sql)
    native = athena_to_duckdb(athena_sql)
    chunks = rng.chunks(newest_first=order == "desc")
    try:
        for n, chunk in enumerate(chunks, 1):
            if limit is not None and stats.rows >= limit:
                break
            t0 = time.perf_counter()
            chunk_files = chunk_rows = 0
            for t in p.tables:
                files = duck.lake.files(t, chunk)
                duck.view_files(t, files)  # an empty list gives an empty view: the statement stays the same
                stats.add_files(files)
                chunk_files += len(files)
            stats.chunks += 1
            if chunk_files:
                for batch in duck.stream(native, batch_rows, transpiled=True):
                    if limit is not None:
                        batch = batch.slice(0, limit - stats.rows)
                    if batch.num_rows:
                        chunk_rows += batch.num_rows
                        stats.rows += batch.num_rows
                        yield batch.cast(SEARCH_SCHEMA)
                    if limit is not None and stats.rows >= limit:
                        break
            if progress and len(chunks) > 1:
                last_day = chunk.end - timedelta(microseconds=1)
                span = f"{chunk.start:%Y-%m-%d}" + (
                    f"..{last_day:%Y-%m-%d}" if last_day.date() > chunk.start.date() else ""
                )
                progress(
                    f"[{n}/{len(chunks)}] {span}: {chunk_rows:,} rows from {chunk_files:,} files "
                    f"in {time.perf_counter() - t0:.2f} s (total {stats.rows:,})"
                )
    finally:
        duck.close()
        stats.seconds = time.perf_counter() - started
