"""Run one bound Athena statement on the configured engine and stream the result as Arrow record batches.

DuckDB (embedded default): a connection of our own whose table views read either an explicit file list (the
search form, a few days at a time) or the whole table like the detection engine (query, hunts). Rows come back
with `fetch_record_batch`, so a long range never sits in memory as one table.

Athena: the SQL is sent as written. Athena has no dry run and EXPLAIN gives no byte estimate for tables
without statistics (Glue tables written by mamori have none), so the budget check sizes the query *before* it
runs by walking the lake partitions the window selects for every table it reads and adding up the object
sizes. That is an upper bound (Parquet lets Athena read only the referenced columns), cheap (one listing per
account/region/day) and deterministic, so a query over the budget is refused without spending anything.
After the run, the bytes Athena really scanned (GetQueryExecution Statistics.DataScannedInBytes, as the DB-API
cursor reports it) are reported next to the estimate.
"""

from __future__ import annotations

import decimal
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import orjson
import pyarrow as pa
import sqlglot
from sqlglot import exp

from mamori.config import Settings
from mamori.detections.render import window_predicate
from mamori.engines.athena import AthenaEngine
from mamori.engines.dialect import athena_to_duckdb
from mamori.search.lakefiles import Lake, LakeFile
from mamori.search.output import inert
from mamori.search.params import Bound, bind_sql
from mamori.search.timerange import TimeRange
from mamori.search_literals import sql_string
from mamori.sources import SOURCES

Progress = Callable[[str], None]
DEFAULT_BUDGET_BYTES = 10 * 1024**3
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.I)
BATCH_ROWS = 10_000


def parse_size(text: str) -> int:
    """`1000000`, `500M`, `10GB`, `1TiB` (binary multiples) → bytes; ValueError otherwise."""
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a size (e.g. 500M, 10G, 1T or a byte count)")
    power = "_kmgt".index(m[2].lower()) if m[2] else 0
    return int(float(m[1]) * 1024**power)


def configured_budget() -> int:
    """The Athena byte budget of a search or query without its own: MAMORI_QUERY_BUDGET_BYTES, else 10 GiB.
    The command line and the view's search page both start from it."""
    from mamori.config import query_budget

    env = query_budget()
    return parse_size(env) if env else DEFAULT_BUDGET_BYTES


class Refused(RuntimeError):
    """The run would be unbounded or over budget; the message says how to proceed."""


class QueryError(RuntimeError):
    """The engine refused or failed the SQL (unknown function, table or column, a bad cast, a file outside
    the lake): the message is one line for the terminal, the engine's own exception is the __cause__."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line  # the line of a saved hunt's file the error names, when it can be told


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
MAX_ERROR = 500


def one_line(exc: BaseException) -> str:
    """The engine's message without its SQL excerpt and caret (DuckDB's `LINE 1: ...`), on one line.

    It can quote a value from the lake (a failed cast names the string), so control and bidi characters are
    shown escaped, as in the terminal table.
    """

    kept = []
    for line in _ANSI.sub("", str(exc)).splitlines():
        if line.startswith("LINE "):
            break
        if line.strip():
            kept.append(line.strip())
    text = inert(" ".join(kept)) or type(exc).__name__
    if "disabled by configuration" in text:
        text += " (queries read only the lake's tables: see docs/search.md, 'What a query can read')"
    return text if len(text) <= MAX_ERROR else text[:MAX_ERROR] + "…"


@dataclass
class RunStats:
    """What a run touched; search prints it, the benchmark and tests assert on it."""

    files: int = 0
    file_bytes: int = 0
    partitions: int = 0
    rows: int = 0
    chunks: int = 0
    estimated_bytes: int | None = None  # Athena: lake bytes under the partitions the window selects
    scanned_bytes: int | None = None  # Athena: Statistics.DataScannedInBytes after the run
    sql: list[str] = field(default_factory=list)  # every statement sent, in order
    seconds: float = 0.0

    def add_files(self, files: Sequence[LakeFile]) -> None:
        self.files += len(files)
        self.file_bytes += sum(f.size for f in files)
        self.partitions += len({f.partition for f in files})


@dataclass
class Results:
    """A result stream: the schema is known before the first row (an empty result still has columns)."""

    schema: pa.Schema
    batches: Iterator[pa.RecordBatch]
    stats: RunStats


def source_tables() -> dict[str, pa.Schema]:
    """Lake table → Arrow schema (without partition columns) of every registered source."""

    return {s.table: s.schema for s in SOURCES.values()}


_HIVE_TYPES = "{'account': 'VARCHAR', 'region': 'VARCHAR', 'dt': 'VARCHAR', 'hour': 'VARCHAR'}"


class DuckLake:
    """A DuckDB connection over the lake whose table views the caller points at files or whole tables.

    Views carry the partition columns as strings, like the detection engine's, so the same SQL (window
    predicate on dt/hour) means the same thing here, in the detection engine and on Athena.
    """

    name = "duckdb"

    def __init__(self, settings: Settings, lake: Lake | None = None, threads: int | None = None) -> None:
        import duckdb

        self.lake = lake or Lake(settings)
        self.con = duckdb.connect(config={"threads": threads} if threads else {})
        self.con.execute("SET TimeZone = 'UTC'")
        # Creating a view binds read_parquet, which reads every file's footer (union_by_name); the query then
        # reads them again. The metadata cache makes the second read free (a third of a 30-day search).
        self.con.execute("SET parquet_metadata_cache = true")
        self.con.execute("SET enable_progress_bar = false")  # stderr belongs to mamori's own progress lines
        fs = self.lake.fs
        if fs is not None:  # s3:// lake: read through fsspec with the Airflow connection's credentials
            self.con.register_filesystem(fs)
        self._sandbox()
        self._schemas = source_tables()

    def _sandbox(self) -> None:
        """Let SQL open files only under the lake's `curated/` prefix, and lock the configuration.

        `mamori query` runs whatever the user typed, and DuckDB's table functions (read_text, read_csv,
        read_parquet, glob, a quoted path in FROM) would open any file the process can read: a `.env`, the
        Airflow config, the ledger, cloud credentials; on an S3 lake, any object the connection may read.
        Statement checks cannot list every such function, so the engine itself refuses: external access
        off except the tables' prefix (DuckDB normalises `..` before the check), extension loading off with
        it, and the configuration locked so no later statement can switch it back on. Views created after
        this still read the lake, since every table file lives under that prefix.
        """
        root = self.lake.tables_root()
        self.con.execute(f"SET allowed_directories = [{sql_string(root)}]")
        self.con.execute("SET enable_external_access = false")
        self.con.execute("SET lock_configuration = true")

    def _parquet_view(self, table: str, paths: str) -> None:
        # A view takes no bind parameters; paths are the lake's own, quoted as literals all the same.
        self.con.execute(
            f'CREATE OR REPLACE TEMP VIEW "{table}" AS SELECT * FROM read_parquet({paths}, '
            f"hive_partitioning = true, hive_types = {_HIVE_TYPES}, union_by_name = true)"
        )

    def view_files(self, table: str, files: Sequence[LakeFile]) -> None:
        """`table` reads exactly these files (an empty list gives an empty view with the table's columns)."""
        if not files:
            self.view_empty(table)
            return
        self._parquet_view(table, "[" + ", ".join(sql_string(f.path) for f in files) + "]")

    def view_table(self, table: str) -> None:
        """`table` reads every file of the table, as the detection engine does (pruned by dt/hour filters)."""
        glob = self.lake.table_glob(table)
        if glob is None:
            self.view_empty(table)
        else:
            self._parquet_view(table, sql_string(glob))

    def view_empty(self, table: str) -> None:
        empty = self._schemas[table].empty_table()
        for key in ("account", "region", "dt", "hour"):
            empty = empty.append_column(key, pa.array([], pa.string()))
        self.con.register(f"_{table}_empty", empty)
        self.con.execute(f'CREATE OR REPLACE TEMP VIEW "{table}" AS SELECT * FROM "_{table}_empty"')

    def view_all_tables(self) -> None:
        """Every source table over the whole lake, plus `all_events`, as the detection engine exposes them."""
        # mamori.lake loads Airflow's ObjectStoragePath (seconds); a search over explicit files never needs it
        from mamori.lake.ddl import all_events_select

        for table in self._schemas:
            self.view_table(table)
        self.con.execute(
            "CREATE OR REPLACE TEMP VIEW all_events AS "
            + athena_to_duckdb(all_events_select(list(self._schemas)))
        )

    def stream(
        self, sql: str, batch_rows: int = BATCH_ROWS, *, transpiled: bool = False
    ) -> pa.RecordBatchReader:
        """A reader over one Athena statement's result (or a DuckDB one, already transpiled)."""
        import duckdb

        try:
            native = sql if transpiled else athena_to_duckdb(sql)
            reader: pa.RecordBatchReader = self.con.execute(native).fetch_record_batch(batch_rows)
        except (duckdb.Error, sqlglot.errors.SqlglotError) as exc:
            raise QueryError(one_line(exc)) from exc
        return reader

    def close(self) -> None:
        self.con.close()


# -- Athena ------------------------------------------------------------------------------------------------

_ATHENA_TYPES: dict[str, pa.DataType] = {
    "boolean": pa.bool_(),
    "tinyint": pa.int64(),
    "smallint": pa.int64(),
    "integer": pa.int64(),
    "int": pa.int64(),
    "bigint": pa.int64(),
    "float": pa.float64(),
    "real": pa.float64(),
    "double": pa.float64(),
    "timestamp": pa.timestamp("us"),
    "timestamp with time zone": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
}


def athena_type(type_code: str | None) -> pa.DataType:
    """Arrow type for a DB-API type code; decimals, arrays, maps and rows become text (JSON where nested)."""
    return _ATHENA_TYPES.get((type_code or "varchar").lower(), pa.string())


def _text(v: Any) -> str | None:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, decimal.Decimal | date | datetime):
        return str(v)
    return orjson.dumps(v, default=str).decode()


def rows_to_batch(rows: Sequence[Sequence[Any]], schema: pa.Schema) -> pa.RecordBatch:
    cols = []
    for i, f in enumerate(schema):
        values = [r[i] for r in rows]
        cols.append(pa.array([_text(v) for v in values] if pa.types.is_string(f.type) else values, f.type))
    return pa.RecordBatch.from_arrays(cols, schema=schema)


def athena_stream(engine: Any, sql: str, stats: RunStats, batch_rows: int = 1000) -> Results:
    """Execute on Athena and page through the result (GetQueryResults pages) as record batches."""
    from pyathena.error import Error as AthenaError

    # Search needs the cursor itself (not AthenaEngine.query) for paging and the scanned-bytes statistic.
    cur = engine.cursor()
    try:
        cur.execute(sql)
    except AthenaError as exc:  # Athena refused or failed the query: the user's SQL, not a crash
        cur.close()
        raise QueryError(one_line(exc)) from exc
    except Exception:
        cur.close()
        raise
    stats.sql.append(sql)
    stats.scanned_bytes = getattr(cur, "data_scanned_in_bytes", None)
    schema = pa.schema([(d[0], athena_type(d[1])) for d in cur.description or []])

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            while rows := cur.fetchmany(batch_rows):
                stats.rows += len(rows)
                yield rows_to_batch(rows, schema)
        except AthenaError as exc:
            raise QueryError(one_line(exc)) from exc
        finally:
            cur.close()
            engine.close()

    return Results(schema, batches(), stats)


def referenced_tables(sql: str) -> tuple[set[str], set[str]]:
    """(lake tables the statement reads, other names it reads); `all_events` stands for every source table."""
    tree = sqlglot.parse_one(sql, read="athena")
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    known = source_tables()
    lake, other = set(), set()
    for t in tree.find_all(exp.Table):
        name = t.name.lower()
        if not name or name in ctes:
            continue
        if name == "all_events":
            lake |= set(known)
        elif name in known:
            lake.add(name)
        else:
            other.add(".".join(p for p in (t.db, t.name) if p))
    return lake, other


def estimate_scan(lake: Lake, tables: set[str], rng: TimeRange, stats: RunStats) -> int:
    """Upper bound of the bytes Athena reads: object sizes under the partitions the range selects."""
    for table in sorted(tables):
        stats.add_files(lake.files(table, rng))
    stats.estimated_bytes = stats.file_bytes
    return stats.file_bytes


def human_bytes(n: int | None) -> str:
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{n} B"


def athena_guard(
    settings: Settings,
    sql: str,
    rng: TimeRange | None,
    *,
    uses_window: bool,
    budget: int,
    force: bool,
    stats: RunStats,
    progress: Progress | None,
) -> None:
    """Refuse an Athena run that is unbounded in time or estimated over the byte budget (unless forced)."""
    if rng is None:
        raise Refused("Athena bills by bytes scanned: give a time range (--from/--to or --last)")
    if not uses_window:
        if not force:
            raise Refused(
                "the SQL does not use {{ window() }}, so nothing limits the partitions Athena reads; "
                "add `WHERE {{ window() }}` or pass --force"
            )
        if progress:
            progress("no {{ window() }} in the SQL: scan size not estimated (--force)")
        return
    tables, other = referenced_tables(sql)
    estimate = estimate_scan(Lake(settings), tables, rng, stats)
    if progress:
        note = f"; not estimated: {', '.join(sorted(other))}" if other else ""
        progress(
            f"estimated scan ≤ {human_bytes(estimate)} ({stats.files} objects in {stats.partitions} "
            f"partitions of {', '.join(sorted(tables)) or 'no lake table'}){note}; budget {human_bytes(budget)}"
        )
    if estimate > budget and not force:
        raise Refused(
            f"estimated scan {human_bytes(estimate)} is over the budget of {human_bytes(budget)} "
            "(--max-bytes / MAMORI_QUERY_BUDGET_BYTES): narrow the range or pass --force"
        )


def run_sql(
    settings: Settings,
    template: str,
    rng: TimeRange | None,
    params: dict[str, Bound] | None = None,
    *,
    budget: int = DEFAULT_BUDGET_BYTES,
    force: bool = False,
    progress: Progress | None = None,
    batch_rows: int = BATCH_ROWS,
    dry_run: bool = False,
) -> Results:
    """Bind and run one Athena-dialect query (the `mamori query` and `mamori hunt` path).

    dry_run: bind and (on Athena) estimate, run nothing; stats.sql holds the statement.
    """

    used: list[bool] = []

    def window() -> str:
        assert rng is not None
        used.append(True)
        return window_predicate(rng.start, rng.end)

    sql = bind_sql(template, params or {}, window if rng is not None else None)
    stats = RunStats()
    if dry_run:
        stats.sql.append(sql)
        if settings.engine == "athena":
            athena_guard(
                settings,
                sql,
                rng,
                uses_window=bool(used),
                budget=budget,
                force=True,
                stats=stats,
                progress=progress,
            )
        return Results(pa.schema([]), iter(()), stats)
    if settings.engine == "athena":
        athena_guard(
            settings,
            sql,
            rng,
            uses_window=bool(used),
            budget=budget,
            force=force,
            stats=stats,
            progress=progress,
        )

        return athena_stream(AthenaEngine(settings), sql, stats)

    started = time.perf_counter()
    duck = DuckLake(settings)
    try:
        duck.view_all_tables()
        reader = duck.stream(sql, batch_rows)
    except Exception:
        duck.close()
        raise
    stats.sql.append(sql)

    def batches() -> Iterator[pa.RecordBatch]:
        import duckdb

        try:
            for b in reader:
                stats.rows += b.num_rows
                yield b
        except (duckdb.Error, pa.ArrowException) as exc:  # raised while reading, e.g. a cast that fails
            raise QueryError(one_line(exc)) from exc
        finally:
            duck.close()
            stats.seconds = time.perf_counter() - started

    return Results(reader.schema, batches(), stats)
