"""SQL literals for values that come from users or logs.

Neither Athena (through the DB-API) nor transpiled DuckDB SQL takes bind parameters uniformly, so values are
rendered as literals here and nowhere else: a string literal doubles single quotes and refuses characters
that have no business in one (NUL, other control characters), which is the whole of Trino's string-literal
syntax, so no value can end the literal early.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def sql_string(value: str) -> str:
    """'value' as an Athena/Trino (and DuckDB) string literal."""
    if not isinstance(value, str):
        raise TypeError(f"expected str, got {type(value).__name__}")
    if _CONTROL.search(value):
        raise ValueError("control characters are not allowed in SQL string values")
    return "'" + value.replace("'", "''") + "'"
