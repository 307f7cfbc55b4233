"""Several rules of one source in one statement: what a detect window sends Athena instead of a query per rule.

Athena bills every query at least 10 MB scanned, and a 5-minute window of one source is usually far less, so
per rule the minimum is the bill. One statement per source and window pays it once:

    WITH mamori_src AS (SELECT * FROM <table> WHERE <window, widened by the longest before= reach>),
         mamori_r0_<cte> AS (...),            -- rule 0's own WITH queries, hoisted and renamed
         mamori_r0 AS (<rule 0's SELECT, reading mamori_src AS <table>>),
         ...
    SELECT '<rule id>' AS mamori_rule, <row as JSON text> AS mamori_values, <its column types> AS mamori_types
    FROM mamori_r0 UNION ALL ...

Each rule runs unchanged over the window rows: its table reference is pointed at `mamori_src` under the
table's own name as alias (so `cloudtrail.x` still resolves), which is rewritten on the sqlglot AST, never by
splicing text; its own window macros still filter. The rules' outputs differ in columns and types, so each
branch carries its row in one varchar column and the types beside it, decoded back to what the rule's own
query returns (`decode`).

Trino (Athena engine v3) semantics relied on, from trino.io's JSON and conversion docs:
- `CAST(ARRAY(varchar) AS JSON)` gives a JSON array whose SQL NULL elements are JSON `null`; `json_format`
  gives its text. TIMESTAMP (and DATE) cannot be cast to JSON in Trino (only BOOLEAN, the integer types,
  REAL, DOUBLE, DECIMAL, VARCHAR and ARRAY/MAP/ROW of them), so every value goes through `CAST(x AS VARCHAR)`
  first, which every scalar type supports (timestamp(3) → '2026-11-01 02:00:00.000', double → '1.5E0').
- `typeof(x)` names the value's type ('timestamp(3)', 'bigint', 'varchar', 'decimal(38,0)').
- A WITH query is inlined wherever it is referenced (Trino does not materialise it): the window's files are
  still read once per rule inside the statement, each read pruned by the rule's own partition filter. The
  saving is the per-query minimum and the request count, not bytes actually read.
An ARRAY, MAP or ROW output column cannot be cast to VARCHAR: that statement fails as a query fault and the
caller runs that source's rules one by one (no rule outputs one today).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import sqlglot
from sqlglot import exp

from mamori.detections.loader import Detection
from mamori.detections.render import window_predicate
from mamori.sources.base import PARTITION_KEYS

# Athena's limit on a query string is 262,144 bytes; a statement is split well before it.
ATHENA_QUERY_LIMIT = 262_144
SAFE_QUERY_BYTES = 200_000

SOURCE_CTE = "mamori_src"
RULE_COLUMN, VALUES_COLUMN, TYPES_COLUMN = "mamori_rule", "mamori_values", "mamori_types"


class CombinedDecodeError(ValueError):
    """A combined row came back in a form its rule's own query could not have returned (an unknown type)."""


@dataclass(frozen=True)
class RulePart:
    """One rule's place in a combined statement: its id, output column names, and its CTEs."""

    detection: Detection
    columns: tuple[str, ...]
    ctes: tuple[exp.CTE, ...]
    names: frozenset[str] | None  # every identifier it names (None: it reads `*` of the table)


@dataclass(frozen=True)
class Combined:
    """One statement for several rules of a source; `columns` maps each rule id to its output names."""

    sql: str
    columns: dict[str, tuple[str, ...]]
    detections: tuple[Detection, ...]


def part(det: Detection, table: str, index: int, wstart: datetime, wend: datetime) -> RulePart | None:
    """The rule as CTEs of a combined statement, or None when it cannot be combined safely and keeps its own
    query: a SELECT list whose output names are not all explicit (`*`, an unnamed expression, a repeated
    name: engines name those differently), nested WITH clauses, or a WITH query named like its table."""
    tree = sqlglot.parse_one(det.render(wstart, wend), read="athena")
    if not isinstance(tree, exp.Query):
        return None
    with_ = tree.args.get("with_")
    if any(w is not with_ for w in tree.find_all(exp.With)):
        return None
    names = _output_names(tree)
    if names is None:
        return None
    own = {c.alias_or_name for c in (with_.expressions if with_ else [])}
    if table in own or SOURCE_CTE in own:
        return None
    read = _names_read(tree, table, own)
    prefix = f"mamori_r{index}"
    renamed = {n: f"{prefix}_{n}" for n in own}
    for t in list(tree.find_all(exp.Table)):
        if t.args.get("db") or t.args.get("catalog"):
            continue
        if t.name in renamed:
            alias = t.alias or t.name
            t.set("this", exp.to_identifier(renamed[t.name]))
            t.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
        elif t.name == table:
            alias = t.alias or table
            t.set("this", exp.to_identifier(SOURCE_CTE))
            t.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
    ctes: list[exp.CTE] = []
    if with_ is not None:
        for c in with_.expressions:
            ctes.append(
                exp.CTE(
                    this=c.this.copy(), alias=exp.TableAlias(this=exp.to_identifier(renamed[c.alias_or_name]))
                )
            )
        tree.set("with_", None)
    ctes.append(exp.CTE(this=tree, alias=exp.TableAlias(this=exp.to_identifier(prefix))))
    return RulePart(det, names, tuple(ctes), read)


def _names_read(tree: exp.Query, table: str, ctes: set[str]) -> frozenset[str] | None:
    """As `Detection.names_read`, on the tree already parsed: the window's rows need only these columns."""
    for t in tree.find_all(exp.Table):
        select = t.find_ancestor(exp.Select)
        if t.name == table and t.name not in ctes and select is not None:
            for e in select.expressions:
                if isinstance(e, exp.Star) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star)):
                    return None
    return frozenset(i.name.lower() for i in tree.find_all(exp.Identifier))


def _output_names(tree: exp.Query) -> tuple[str, ...] | None:
    select = tree
    while isinstance(select, exp.SetOperation):
        select = select.this
    if not isinstance(select, exp.Select):
        return None
    names: list[str] = []
    for e in select.expressions:
        if isinstance(e, exp.Alias):
            names.append(e.alias)
        elif isinstance(e, exp.Column) and not isinstance(e.this, exp.Star):
            names.append(e.name)
        else:
            return None
    if len(set(names)) != len(names) or not all(names):
        return None
    return tuple(names)


def statement(
    parts: Sequence[RulePart],
    table: str,
    wstart: datetime,
    wend: datetime,
    reach: timedelta,
    schema: Sequence[str] | None = None,
) -> Combined:
    """The Athena statement evaluating `parts` over one read of `table`'s window rows (plus `reach` before):
    of `schema`'s columns only those a rule names, with the partition keys (every column without `schema`,
    or when a rule reads `*`). DuckDB materialises a WITH query read more than once, so a narrow one is
    cheaper there; Trino reads only the columns used either way."""
    projection = exp.select("*")
    names = [p.names for p in parts]
    if schema is not None and all(n is not None for n in names):
        wanted = frozenset().union(*(n for n in names if n is not None))
        projection = exp.select(*[c for c in schema if c in wanted], *PARTITION_KEYS)
    source = projection.from_(table).where(
        sqlglot.parse_one(window_predicate(wstart - reach, wend), read="athena")
    )
    ctes = [exp.CTE(this=source, alias=exp.TableAlias(this=exp.to_identifier(SOURCE_CTE)))]
    branches: list[exp.Select] = []
    for p in parts:
        # Not copied: a part's CTEs are only ever generated, and a split builds its statements one at a time
        # (deep copies of ~100 rule trees were most of a window's time on a loaded machine).
        ctes.extend(p.ctes)
        cols = [exp.column(n, quoted=True) for n in p.columns]
        text = [exp.cast(c.copy(), "VARCHAR") for c in cols]
        kinds = [cast(exp.Expression, exp.func("typeof", c.copy())) for c in cols]
        branches.append(
            exp.select(
                exp.alias_(exp.Literal.string(p.detection.id), RULE_COLUMN),
                exp.alias_(_json_text(text), VALUES_COLUMN),
                exp.alias_(_json_text(kinds), TYPES_COLUMN),
            ).from_(p.ctes[-1].alias_or_name)
        )
    query: exp.Query = branches[0]
    for b in branches[1:]:
        query = exp.Union(this=query, expression=b, distinct=False)  # exp.union copies its operands
    query.set("with_", exp.With(expressions=ctes))
    return Combined(
        query.sql(dialect="athena"),
        {p.detection.id: p.columns for p in parts},
        tuple(p.detection for p in parts),
    )


def _json_text(values: Sequence[exp.Expression]) -> exp.Expression:
    return exp.JSONFormat(this=exp.cast(exp.Array(expressions=list(values)), "JSON"))


def statements(
    parts: Sequence[RulePart],
    table: str,
    wstart: datetime,
    wend: datetime,
    reach: timedelta,
    limit: int = SAFE_QUERY_BYTES,
    schema: Sequence[str] | None = None,
) -> tuple[list[Combined], list[RulePart]]:
    """The combined statements for `parts`, each under `limit` bytes (halving a group that is over), and the
    parts that are over it even alone (they keep their own query)."""
    done: list[Combined] = []
    alone: list[RulePart] = []
    todo = [list(parts)]
    while todo:
        group = todo.pop(0)
        combined = statement(group, table, wstart, wend, reach, schema)
        if len(combined.sql.encode()) <= limit:
            done.append(combined)
        elif len(group) == 1:
            alone.append(group[0])
        else:
            half = len(group) // 2
            todo[:0] = [group[:half], group[half:]]
    return done, alone


def decode(combined: Combined, rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Each rule's rows as its own query returns them (column names and Python types), by rule id."""
    out: dict[str, list[dict[str, Any]]] = {i: [] for i in combined.columns}
    for row in rows:
        rule = row.get(RULE_COLUMN)
        if rule not in out:
            raise CombinedDecodeError(f"a row of no rule of the statement: {rule!r}")
        names = combined.columns[rule]
        try:
            values, kinds = json.loads(row[VALUES_COLUMN]), json.loads(row[TYPES_COLUMN])
            if len(values) != len(names) or len(kinds) != len(names):
                raise CombinedDecodeError(f"{rule}: {len(values)} values for {len(names)} columns")
            out[rule].append({n: _value(v, k) for n, v, k in zip(names, values, kinds, strict=True)})
        except (ValueError, TypeError, KeyError) as exc:  # JSONDecodeError and bad values are ValueErrors
            raise CombinedDecodeError(f"{rule}: {exc}") from exc
    return out


_INTEGERS = ("tinyint", "smallint", "integer", "int", "bigint", "hugeint", "ubigint", "uinteger", "usmallint")


def _value(text: str | None, kind: str) -> Any:
    """The value an engine returns for a column of type `kind` (Trino's or DuckDB's `typeof` name), from its
    VARCHAR cast."""
    if text is None:
        return None
    k = kind.lower()
    if k.startswith(("varchar", "char")) or k == "text":
        return text
    if k in _INTEGERS:
        return int(text)
    if k.startswith("decimal"):
        return Decimal(text)
    if k in ("double", "real", "float"):
        return float(text)
    if k == "boolean":
        return text == "true"
    if k == "date":
        return date.fromisoformat(text)
    if k.startswith("timestamp"):
        zoned = "with time zone" in k or k == "timestamptz"
        if text.endswith(" UTC"):
            text = text[: -len(" UTC")] + "+00:00"
        value = datetime.fromisoformat(text)
        return value if zoned else value.replace(tzinfo=None)
    raise CombinedDecodeError(f"no decoding for a column of type {kind}")
