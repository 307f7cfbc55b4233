"""A combined statement's rows carry each value as VARCHAR text beside its type's name (Trino's `typeof`, or
DuckDB's when the same SQL runs there); decoding gives the Python value the rule's own query would have."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from mamori.detections import combined
from mamori.detections.loader import load_detection

REPO = Path(__file__).resolve().parents[2]


def _decode(names, values, kinds):
    c = combined.Combined("", {"r": tuple(names)}, ())
    row = {
        combined.RULE_COLUMN: "r",
        combined.VALUES_COLUMN: json.dumps(values),
        combined.TYPES_COLUMN: json.dumps(kinds),
    }
    return combined.decode(c, [row])["r"]


def test_trino_type_names_decode_to_the_values_a_rules_own_query_returns():
    names = ["t", "tz", "n", "i", "d", "x", "b", "s", "day", "none"]
    values = [
        "2026-11-01 02:15:07.123",
        "2026-11-01 02:15:07.000 UTC",
        "42",
        "7",
        "12",
        "1.5E0",
        "true",
        "a'b",
    ]
    values += ["2026-11-01", None]
    kinds = ["timestamp(3)", "timestamp(3) with time zone", "bigint", "integer", "decimal(38,0)", "double"]
    kinds += ["boolean", "varchar", "date", "varchar"]
    [row] = _decode(names, values, kinds)
    assert row == {
        "t": datetime(2026, 11, 1, 2, 15, 7, 123000),
        "tz": datetime(2026, 11, 1, 2, 15, 7, tzinfo=UTC),
        "n": 42,
        "i": 7,
        "d": Decimal(12),
        "x": 1.5,
        "b": True,
        "s": "a'b",
        "day": date(2026, 11, 1),
        "none": None,
    }
    assert type(row["n"]) is int and row["t"].tzinfo is None


def test_duckdb_type_names_decode_alike():
    [row] = _decode(
        ["t", "n", "d"], ["2026-11-01 02:15:07", "3", "5"], ["TIMESTAMP_MS", "BIGINT", "DECIMAL(38,0)"]
    )
    assert row == {"t": datetime(2026, 11, 1, 2, 15, 7), "n": 3, "d": Decimal(5)}


@pytest.mark.parametrize(
    ("values", "kinds"),
    [
        (["[1]"], ["array(integer)"]),
        (["x"], ["bigint"]),
        (["1", "2"], ["bigint"]),
        (["1"], ["bigint", "bigint"]),
    ],
)
def test_a_row_that_no_rules_own_query_could_return_is_a_decode_error(values, kinds):
    with pytest.raises(combined.CombinedDecodeError):
        _decode(["a"], values, kinds)


def test_a_rule_reads_the_window_rows_under_its_tables_name_and_its_own_ctes_are_renamed():
    det = load_detection(REPO / "sql" / "detections" / "vpcflow" / "vpcflow_port_scan.sql")
    start, end = datetime(2026, 11, 1, 2, tzinfo=UTC), datetime(2026, 11, 1, 3, tzinfo=UTC)
    part = combined.part(det, "vpcflow", 3, start, end)
    assert part is not None and "event_time" in part.columns
    sql = [c.sql(dialect="athena") for c in part.ctes]
    assert part.ctes[-1].alias == "mamori_r3" and all(c.alias.startswith("mamori_r3") for c in part.ctes)
    assert any("FROM mamori_src AS vpcflow" in s for s in sql)
    assert not any("FROM vpcflow" in s for s in sql)  # every read of the table is the window's rows
