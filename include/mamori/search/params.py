"""Typed parameters and how they reach SQL: never as text spliced into the query.

A template (a hunt body, the search form's SQL, a `mamori query` string) is rendered with `{{ param('x') }}`
producing a unique placeholder identifier; the result is parsed with sqlglot (Athena dialect), each
placeholder column is replaced by a literal *node* built from the validated value, and the tree is written
back. The value therefore never passes through the tokenizer: whatever quotes, comments, semicolons or
unicode it holds, it can only ever be one literal of one statement, and the generator does the escaping.
Checks after binding (exactly one statement, a query, no placeholder left over, e.g. one written inside a
string literal) make a template bug fail loudly instead of silently matching nothing.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import sqlglot
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from sqlglot import exp

ParamType = Literal["string", "ip", "int", "timestamp"]
PARAM_TYPES: tuple[str, ...] = ("string", "ip", "int", "timestamp")
MAX_STRING = 4096

# Templates are SQL, not HTML; sandboxed because `mamori query` renders whatever the user typed.
_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_INT = re.compile(r"^[+-]?\d{1,18}$")


class ParamError(ValueError):
    """A parameter value that does not fit its type, or a template that misuses param().

    For SQL that does not parse, `sql_line` is the line of the first error inside the rendered SQL and
    `detail` the parser's words without a position: a saved hunt turns them into a line of its own file.
    """

    def __init__(self, message: str, sql_line: int | None = None, detail: str | None = None) -> None:
        super().__init__(message)
        self.sql_line = sql_line
        self.detail = detail


@dataclass(frozen=True)
class Bound:
    """A validated value and its type; `node()` is the only way it becomes SQL."""

    type: str
    value: str | int | datetime

    def node(self) -> exp.Expression:
        if self.type == "int":
            assert isinstance(self.value, int)
            lit = exp.Literal.number(abs(self.value))
            return exp.Neg(this=lit) if self.value < 0 else lit
        if self.type == "timestamp":
            assert isinstance(self.value, datetime)
            # event_time is a zone-less UTC instant: compare with a zone-less UTC literal on both engines.
            text = self.value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
            return exp.Cast(this=exp.Literal.string(text), to=exp.DataType.build("TIMESTAMP"))
        return exp.Literal.string(str(self.value))


def coerce(type_: str, raw: object, name: str = "value") -> Bound:
    """Validate a raw (usually command-line) value against a parameter type; raises ParamError."""
    if type_ not in PARAM_TYPES:
        raise ParamError(f"{name}: unknown parameter type {type_!r} (one of {', '.join(PARAM_TYPES)})")
    if type_ == "int":
        if isinstance(raw, bool):
            raise ParamError(f"{name}: expected an integer, got a boolean")
        if isinstance(raw, int):
            return Bound("int", raw)
        if isinstance(raw, str) and _INT.match(raw.strip()):
            return Bound("int", int(raw.strip()))
        raise ParamError(f"{name}: {raw!r} is not an integer")
    if type_ == "timestamp":
        if isinstance(raw, datetime):
            t = raw
        elif isinstance(raw, str):
            try:
                t = datetime.fromisoformat(raw.strip())
            except ValueError:
                raise ParamError(f"{name}: {raw!r} is not an ISO 8601 timestamp") from None
        else:
            raise ParamError(f"{name}: {raw!r} is not a timestamp")
        return Bound("timestamp", t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC))
    if not isinstance(raw, str):
        raise ParamError(f"{name}: expected text, got {type(raw).__name__}")
    if type_ == "ip":
        try:
            return Bound("ip", str(ipaddress.ip_address(raw.strip())))
        except ValueError:
            raise ParamError(f"{name}: {raw!r} is not an IPv4/IPv6 address") from None
    if _CONTROL.search(raw):
        raise ParamError(f"{name}: control characters (newline, tab, NUL, ...) are not allowed")
    if len(raw) > MAX_STRING:
        raise ParamError(f"{name}: longer than {MAX_STRING} characters")
    return Bound("string", raw)


def _parse_quietly(sql: str) -> list[exp.Expr | None]:
    """Parse as Athena without sqlglot's own warning on stderr ("... contains unsupported syntax. Falling back
    to parsing as a 'Command'"): the checks below refuse such a statement with a message of their own."""
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        return sqlglot.parse(sql, read="athena")
    finally:
        logger.setLevel(level)


def _parse_error(exc: sqlglot.ParseError) -> ParamError:
    """sqlglot's first error as one line: its own message quotes the SQL over several lines with terminal
    colour codes around the offending token."""
    if not exc.errors:
        return ParamError(f"not valid Athena SQL: {' '.join(str(exc).split())[:300]}")
    e = exc.errors[0]
    # "Expected table name but got <Token token_type: TokenType.WHERE, text: WHERE, ...>" → "... got 'WHERE'"
    what = re.sub(r"<Token token_type: [^,]*, text: (.*?), line: .*?>", r"'\1'", str(e.get("description")))
    line = e.get("line")
    return ParamError(
        f"not valid Athena SQL: {what} (line {line}, column {e.get('col')})",
        sql_line=line if isinstance(line, int) else None,
        detail=what,
    )


def bind_sql(
    template: str,
    values: Mapping[str, Bound],
    window: Callable[[], str] | None = None,
    *,
    require_query: bool = True,
) -> str:
    """Render `template` (Jinja: `window()`, `param(name)`) and bind every param as a literal node.

    Returns one Athena statement. `window` is None when no range was given: a template that calls it then
    fails with a message saying so.
    """
    token = secrets.token_hex(4)
    placeholders: dict[str, Bound] = {}

    def param(name: str) -> str:
        if name not in values:
            raise ParamError(f"param({name!r}) is not a declared parameter ({', '.join(sorted(values))})")
        ph = f"mamori_p{token}_{len(placeholders)}_"  # the trailing _ keeps _1_ from matching _10_
        placeholders[ph] = values[name]
        return ph

    def no_window() -> str:
        raise ParamError("the SQL uses {{ window() }}: give a time range (--from/--to or --last)")

    rendered = _ENV.from_string(template).render(window=window or no_window, param=param)
    try:
        statements = [s for s in _parse_quietly(rendered) if s is not None]
    except sqlglot.ParseError as exc:
        raise _parse_error(exc) from exc
    if len(statements) != 1:
        raise ParamError(f"expected exactly one SQL statement, got {len(statements)}")
    tree = statements[0]
    if require_query and not isinstance(tree, exp.Query):
        raise ParamError(f"only queries (SELECT / WITH / UNION) run here, not {tree.key.upper()}")
    if not placeholders:
        return rendered.strip().rstrip(";").strip()
    for ph in placeholders:
        cols = [c for c in tree.find_all(exp.Column) if c.name == ph and not c.table]
        if len(cols) != 1 or cols[0].this.quoted or rendered.count(ph) != 1:
            raise ParamError("param() may only stand where a value goes (not inside quotes or as a name)")
        cols[0].replace(placeholders[ph].node())
    # Athena gets the SQL as written (sqlglot's re-rendering of a whole query is not always what Athena
    # accepts), with each placeholder swapped for its literal as sqlglot writes it; the result must parse to
    # exactly the tree with literal nodes built above, or nothing runs.
    sql = re.sub(
        rf"\bmamori_p{token}_\d+_\b", lambda m: placeholders[m[0]].node().sql(dialect="athena"), rendered
    ).strip()
    sql = sql.rstrip(";").strip()
    try:
        check = sqlglot.parse(sql, read="athena")
    except sqlglot.ParseError as exc:  # cannot happen for a literal in a value position; refuse if it does
        raise ParamError(f"binding produced unparsable SQL: {exc}") from exc
    if len(check) != 1 or check[0] != tree:
        raise ParamError("binding changed the statement's structure; refusing to run it")
    return sql
