"""The embedded engine: DuckDB views over the Parquet lake, named like the Athena tables.

Views read the hive layout with partition columns kept as strings (Athena projects `dt`/`hour` as strings;
DuckDB would otherwise auto-cast `dt=2026-11-01` to DATE and make the same SQL compare differently), so
partition filters in the window macro prune files on both engines.

A source whose events can be delivered twice (CloudTrail: two trails writing to one bucket) gets two views, as
on Athena: `<table>_delivered` over every row of the lake and `<table>` with one row per event
(mamori.lake.ddl.one_row_per_event_select), which is what detections, enrichments and `all_events` read.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Iterator
from contextlib import contextmanager

import duckdb
import pyarrow as pa

from mamori.config import Settings
from mamori.engines.dialect import athena_to_duckdb
from mamori.lake import Store, layout
from mamori.lake.ddl import all_events_select, one_row_per_event_select
from mamori.sources import SOURCES, SPECS
from mamori.sources.base import PARTITION_KEYS
from mamori.sources.spec import SourceSpec

log = logging.getLogger(__name__)

_BY_TABLE = {s.table: s for s in SPECS.values()}
_FILE, _ROW = "mamori_file", "mamori_row"  # read order of a delivered table's rows (internal view only)
_HIVE_TYPES = "{" + ", ".join(f"'{k}': 'VARCHAR'" for k in PARTITION_KEYS) + "}"


class DuckDBEngine:
    """DuckDB over the lake; one connection per engine, UTC session time zone."""

    name = "duckdb"

    def __init__(
        self,
        settings: Settings,
        threads: int | None = None,
        create_views: bool = True,
        tables: Collection[str] | None = None,
    ) -> None:
        """`tables`: the lake tables to open views for (None: all of them and `all_events`). Creating a view
        binds it, which lists its table and reads every file's footer (`union_by_name`): a detect chunk, whose
        rules read only their own source's table (tests/detections/test_scan_contract.py), opens just that."""
        self.con = duckdb.connect(config={"threads": threads} if threads else {})
        self.con.execute("SET TimeZone = 'UTC'")
        if not create_views:  # callers register their own tables (detection test cases)
            return
        lake = Store(settings.lake_url, settings.lake_conn_id)
        if lake.protocol != "file":
            # fsspec (with the Airflow connection's credentials) instead of DuckDB's httpfs: one credential path.
            self.con.register_filesystem(lake.fs)
        for spec in SPECS.values():
            if tables is None or spec.table in tables:
                self._create_view(lake, spec)
        if tables is None:
            self.con.execute(
                "CREATE OR REPLACE VIEW all_events AS "
                + athena_to_duckdb(all_events_select([s.table for s in SOURCES.values()]))
            )

    def _create_view(self, lake: Store, spec: SourceSpec) -> None:
        table, schema, name = spec.table, spec.schema, spec.delivered_table
        prefix = layout.curated_table(table)
        # One listing level (account=... directories), not a recursive walk of the whole table: this runs for
        # every table each time an engine opens, i.e. in every detection task.
        if lake.list_dirs(prefix):
            glob = lake.uri(f"{prefix}/**/*.parquet")
            # A view cannot take bind parameters; the glob is our own path, quoted as a literal all the same.
            read = (
                f"read_parquet({_literal(glob)}, hive_partitioning = true, hive_types = {_HIVE_TYPES}, "
                "union_by_name = true"
            )
            self.con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {read})")
            if spec.duplicate_delivery:
                # The same files with their read order (file, row), which the one-row-per-event view keeps.
                self.con.execute(
                    f"CREATE OR REPLACE VIEW {_ordered(name)} AS SELECT * EXCLUDE (filename, file_row_number), "
                    f"filename AS {_FILE}, file_row_number AS {_ROW} FROM {read}, filename = true, "
                    "file_row_number = true)"
                )
                self._one_row_per_event(spec, [*schema.names, *PARTITION_KEYS], (_FILE, _ROW))
        else:
            empty = schema.empty_table()
            for key in PARTITION_KEYS:
                empty = empty.append_column(key, pa.array([], pa.string()))
            self.register_table(table, empty)

    def _one_row_per_event(self, spec: SourceSpec, columns: list[str], order: tuple[str, ...]) -> None:
        dup = spec.duplicate_delivery
        if dup is None:
            return
        select = one_row_per_event_select(
            _ordered(spec.delivered_table), columns, dup.keys, dup.prefer, order
        )
        self.con.execute(f"CREATE OR REPLACE VIEW {spec.table} AS {athena_to_duckdb(select)}")

    def register_table(self, table: str, data: pa.Table) -> None:
        """Expose an Arrow table as `table`; it must carry the partition columns the lake would add.

        For a source whose events can be delivered twice the data is `<table>_delivered` and `table` the one
        row per event view over it, as over the lake, so detection cases see what a detect run sees."""
        missing = [k for k in PARTITION_KEYS if k not in data.column_names]
        if missing:
            raise ValueError(f"{table}: partition column(s) {missing} missing")
        spec = _BY_TABLE.get(table)
        if spec is None or spec.duplicate_delivery is None:
            self.con.register(f"_{table}_arrow", data)
            self.con.execute(f"CREATE OR REPLACE VIEW {table} AS SELECT * FROM _{table}_arrow")
            return
        name = spec.delivered_table
        ordered = data.append_column(_ROW, pa.array(range(data.num_rows), pa.int64()))
        self.con.register(f"_{name}_arrow", ordered)
        self.con.execute(f"CREATE OR REPLACE VIEW {_ordered(name)} AS SELECT * FROM _{name}_arrow")
        self.con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * EXCLUDE ({_ROW}) FROM _{name}_arrow")
        self._one_row_per_event(spec, data.column_names, (_ROW,))

    @contextmanager
    def shared_scan(self, table: str, where: str, columns: list[str] | None = None) -> Iterator[int]:
        """Materialise `table`'s rows matching `where` once, as a temporary table of the same name (only
        `columns` of them when given: every column the queries will name).

        DuckDB resolves an unqualified name in the temp schema first, so queries rendered for the lake view
        read the materialised rows instead, unchanged: each query's own window predicates still apply, and a
        predicate that selects a subset of `where` selects the same rows from either. On exit the temporary
        table is dropped and the name means the lake view again.
        """
        names = [table, *(columns or [])]
        if bad := [n for n in names if not _IDENTIFIER.fullmatch(n)]:
            raise ValueError(f"not an identifier: {bad}")  # our own schema's names, checked all the same
        projection = ", ".join(columns) if columns else "*"
        select = athena_to_duckdb(f"SELECT {projection} FROM {table} WHERE {where}")
        self.con.execute(f"CREATE TEMP TABLE {table} AS {select}")
        try:
            row = self.con.execute(f"SELECT count(*) FROM temp.{table}").fetchone()
            yield int(row[0]) if row else 0
        finally:
            self.con.execute(f"DROP TABLE IF EXISTS temp.{table}")

    def query(self, sql: str) -> pa.Table:
        """Transpile and run; the result is an Arrow table whatever the engine."""
        return self.con.execute(athena_to_duckdb(sql)).to_arrow_table()

    def close(self) -> None:
        self.con.close()


def _ordered(delivered: str) -> str:
    """The internal view of a delivered table with its rows' read order."""
    return f"_{delivered}_ordered"


_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
