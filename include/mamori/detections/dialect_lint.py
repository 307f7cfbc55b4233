"""Refuse SQL that parses on both engines but means something else on one of them, or reads the clock.

Detections run on Athena in AWS and on DuckDB everywhere else (tests, the embedded default, backtests). A
construct that gives different rows on the two would make a rule pass its tests and fail in production, so
the loader rejects it with the reason and the alternative. The list follows the differences verified for
this stack (docs/adr/0001-one-sql-dialect.md); constructs the dialect subclass already fixes (date_diff,
approx_distinct, json_extract_scalar on objects) are allowed.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlglot import exp

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


def fault_line(path: Path, message: str) -> int | None:
    """The .sql file line of the function or column an engine error names (its own LINE counts in the
    transpiled SQL, which the author never sees); None when the message names neither."""

    name = re.search(r'with name "?(\w+)"?|"(\w+)" not found|column "?(\w+)"?', message.split("\n")[0])
    return _line_of_word(path, next(g for g in name.groups() if g)) if name else None


def _line_of_word(path: Path, word: str) -> int | None:
    """The file line of the first whole-word use of `word` below the header."""

    text = path.read_text(encoding="utf-8")
    start = text.find("*/")
    for m in re.finditer(rf"\b{re.escape(word)}\b", text[start:] if start >= 0 else text, re.I):
        return text.count("\n", 0, (start if start >= 0 else 0) + m.start()) + 1
    return None
