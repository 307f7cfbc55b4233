"""Values spliced into SQL as literals cannot escape the literal, on either engine."""

from __future__ import annotations

import duckdb
import pytest
import sqlglot

from mamori.engines.dialect import athena_to_duckdb
from mamori.search_literals import sql_string

HOSTILE = [
    "198.51.100.23",
    "x' OR '1'='1",
    "'; DROP TABLE cloudtrail; --",
    "\\' OR 1=1 --",
    "a''b",
    "ü\u202e",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_literal_round_trips_exactly_on_duckdb(value):
    sql = f"SELECT {sql_string(value)} AS v"
    tree = sqlglot.parse_one(sql, read="athena")
    assert isinstance(tree.selects[0].this, sqlglot.exp.Literal)  # one literal, nothing else parsed
    assert duckdb.sql(athena_to_duckdb(sql)).fetchone()[0] == value


@pytest.mark.parametrize("value", ["a\x00b", "a\x1bb"])
def test_control_characters_are_refused(value):
    with pytest.raises(ValueError, match="control"):
        sql_string(value)
