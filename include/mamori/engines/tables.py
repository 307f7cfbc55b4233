"""Athena tables for the lake, created from sql/ddl/ (AWS mode's setup step; the `maintain_tables` DAG).

Everything is idempotent: `CREATE DATABASE/EXTERNAL TABLE IF NOT EXISTS` and `CREATE OR REPLACE VIEW`, so the
DAG can run daily and after every deploy. Tables use partition projection (no crawler, no MSCK REPAIR), which
is why the accounts and regions whose logs land must be configured: they are the projection's enum values.
Because IF NOT EXISTS keeps an existing table as it is, each CREATE is followed by an `ALTER TABLE ... SET
TBLPROPERTIES` of the projection and location properties it renders: an account or region added to the
configuration reaches tables made before it on the next run, instead of leaving them blind to its logs (Athena
answers such a query with no rows and no error). A column change needs `recreate=True` (`mamori tables
--recreate`): dropping an external table deletes no data, and IF NOT EXISTS would otherwise keep the old
columns. Sources whose events can be delivered twice (CloudTrail) have two names: the external table
`<table>_delivered` with every delivered row, and the view `<table>` with one row per event that detections
read; a deployment whose `cloudtrail` is still the table of an earlier release needs `--recreate` once. On the
embedded default there is nothing to create:
DuckDB's views are built when an engine opens.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import sqlglot
from sqlglot import exp

from mamori.config import Settings, load_settings
from mamori.engines.athena import AthenaEngine
from mamori.lake.ddl import (
    one_row_per_event_select,
    render_all_events_view,
    render_ddl,
    render_one_row_per_event_view,
)
from mamori.sources import SPECS
from mamori.sources.base import PARTITION_KEYS

log = logging.getLogger(__name__)
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,254}$")
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
TRY = "try drop"  # a statement whose failure is logged, not raised (see table_statements)


def table_statements(settings: Settings, recreate: bool = False) -> list[tuple[str, str]]:
    """(name, SQL) in execution order. Values come from configuration, checked here because DDL takes no
    bind parameters."""
    s = settings
    problems = []
    if not _IDENT.match(s.athena_database):
        problems.append(f"MAMORI_ATHENA_DATABASE {s.athena_database!r} is not a lower-case identifier")
    if not s.lake_url.startswith("s3://"):
        problems.append(f"MAMORI_LAKE_URL must be s3:// for Athena, not {s.lake_url!r}")
    if not s.accounts or not all(_ACCOUNT.match(a) for a in s.accounts):
        problems.append("MAMORI_ACCOUNTS must list the 12-digit accounts whose logs land (projection enum)")
    if not s.regions or not all(_REGION.match(r) for r in s.regions):
        problems.append("MAMORI_REGIONS must list the regions whose logs land, e.g. us-east-1,eu-west-1")
    if "'" in s.lake_url or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", s.projection_start):
        problems.append("MAMORI_LAKE_URL must not contain quotes; MAMORI_PROJECTION_START must be YYYY-MM-DD")
    if problems:
        raise ValueError("; ".join(problems))
    db = s.athena_database
    out = [("database", f"CREATE DATABASE IF NOT EXISTS {db}")]
    for src in SPECS.values():
        dup = src.duplicate_delivery
        if recreate:
            if dup:
                # The name is a view over the delivered table now, and was a table before this release: one of
                # the two drops may refuse the other kind, so both are tried (maintain_tables).
                out.append((f"{TRY} view {src.table}", f"DROP VIEW IF EXISTS {db}.{src.table}"))
                out.append((f"{TRY} table {src.table}", f"DROP TABLE IF EXISTS {db}.{src.table}"))
            out.append((f"drop {src.delivered_table}", f"DROP TABLE IF EXISTS {db}.{src.delivered_table}"))
        ddl = render_ddl(
            s.sql_dir,
            src.table,
            database=db,
            lake_url=s.lake_url,
            accounts=s.accounts,
            regions=s.regions,
            projection_start=s.projection_start,
            template=src.ddl_template,
            name=src.delivered_table,
        )
        out.append((src.delivered_table, ddl))
        out.append(
            (f"projection {src.delivered_table}", projection_update(ddl, f"{db}.{src.delivered_table}"))
        )
        if dup:
            columns = [*src.schema.names, *PARTITION_KEYS]
            select = one_row_per_event_select(src.delivered_table, columns, dup.keys, dup.prefer)
            out.append((src.table, render_one_row_per_event_view(db, src.table, select)))
    out.append(("all_events", render_all_events_view(db, [src.table for src in SPECS.values()])))
    return out


def projection_update(create_sql: str, qualified: str) -> str:
    """`ALTER TABLE ... SET TBLPROPERTIES` with the projection and location properties of a rendered CREATE.

    Read from the statement itself (sqlglot's Athena parser), so a source's own partition keys need no list
    here; the values were validated above and are quoted again on the way out.
    """
    tree = sqlglot.parse_one(create_sql, read="athena")
    pairs = [
        (p.name, p.args["value"].name)
        for p in tree.find_all(exp.Property)
        if type(p) is exp.Property
        and (p.name.startswith("projection.") or p.name == "storage.location.template")
    ]
    if not pairs:
        raise ValueError(f"{qualified}: its DDL declares no partition projection")
    body = ",\n    ".join(f"{_quote(k)} = {_quote(v)}" for k, v in pairs)
    return f"ALTER TABLE {qualified} SET TBLPROPERTIES (\n    {body}\n)"


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def maintain_tables(settings: Settings | None = None, recreate: bool = False) -> dict[str, Any]:
    """Create (or recreate) the Athena database, tables and view; a no-op on the embedded engine."""
    s = settings or load_settings()
    if s.engine != "athena":
        log.info("engine %s: DuckDB views are created when an engine opens; nothing to do", s.engine)
        return {"engine": s.engine, "statements": 0}

    statements = table_statements(s, recreate)
    engine = AthenaEngine(s)
    try:
        for name, sql in statements:
            log.info("athena: %s", name)
            try:
                engine.query(sql)
            except Exception as exc:
                if not name.startswith(TRY):
                    raise
                log.warning("athena: %s refused (%s); the other kind's drop covers it", name, exc)
    finally:
        engine.close()
    return {"engine": "athena", "statements": len(statements), "tables": [n for n, _ in statements]}
