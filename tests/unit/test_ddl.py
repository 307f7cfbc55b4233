"""sql/ddl/<table>.sql: partition projection over the lake layout, and the column comparison can fail (the comparison
itself, over every source, is tests/contracts/test_sources_contract.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from mamori.lake.ddl import hive_type, render_ddl
from mamori.sources import SOURCES, SPECS

SQL = Path(__file__).resolve().parents[2] / "sql"


def render(table: str) -> str:
    template = next((s.ddl_template for s in SPECS.values() if s.table == table), None)
    return render_ddl(
        SQL,
        table,
        database="mamori",
        lake_url="s3://lake/",
        accounts=["111111111111"],
        regions=["us-east-1", "eu-west-1"],
        projection_start="2026-01-01",
        template=template,
    )


def norm(type_sql: str) -> str:
    return exp.DataType.build(type_sql, dialect="hive").sql("hive")


@pytest.mark.parametrize("source", SOURCES.values(), ids=lambda s: s.name)
def test_ddl_projection_matches_the_lake_layout(source):
    ddl = render(source.table)
    assert "'projection.enabled' = 'true'" in ddl
    assert "'projection.region.values' = 'us-east-1,eu-west-1'" in ddl
    template = (
        f"s3://lake/curated/{source.table}/account=${{account}}/region=${{region}}/dt=${{dt}}/hour=${{hour}}"
    )
    assert template in ddl
    assert "LOCATION 's3://lake/curated/" + source.table + "/'" in ddl


def test_a_drifted_column_is_caught():
    """The comparison above is sensitive to a nested type change (the test can fail)."""
    import pyarrow as pa

    schema = SOURCES["cloudtrail"].schema
    drifted = schema.set(schema.get_field_index("related_ips"), pa.field("related_ips", pa.string()))
    tree = sqlglot.parse_one(render("cloudtrail"), read="athena")
    columns = [(c.name, c.args["kind"].sql("hive")) for c in tree.this.expressions]
    assert columns != [(f.name, norm(hive_type(f.type))) for f in drifted]


def test_all_events_view_is_one_athena_view_over_every_table():
    from mamori.lake.ddl import ALL_EVENTS_COLUMNS, render_all_events_view

    tables = [s.table for s in SOURCES.values()]
    tree = sqlglot.parse_one(render_all_events_view("mamori", tables), read="athena")
    assert isinstance(tree, exp.Create) and tree.args["kind"] == "VIEW"
    selects = list(tree.find_all(exp.Select))
    assert sorted(str(s.args["from_"].this.name) for s in selects) == sorted(tables)
    assert all([c.name for c in s.expressions] == list(ALL_EVENTS_COLUMNS) for s in selects)


def test_a_source_delivered_twice_is_a_table_of_every_copy_under_a_view_of_one_row_per_event():
    """Athena: `cloudtrail_delivered` is the external table over the lake folder curated/cloudtrail/ (every
    delivered record); `cloudtrail`, the name detections read, is a view keeping one row per event, created
    after its table; the view parses as Athena SQL and lists every column of the table."""
    from mamori.config import load_settings
    from mamori.engines.tables import table_statements

    s = load_settings(
        {
            "MAMORI_HOME": "/nonexistent",
            "MAMORI_LAKE_URL": "s3://lake",
            "MAMORI_ACCOUNTS": "111111111111",
            "MAMORI_REGIONS": "us-east-1",
        }
    )
    statements = dict(table_statements(s))
    names = [n for n, _ in table_statements(s)]
    for spec in (x for x in SPECS.values() if x.duplicate_delivery):
        ddl = statements[spec.delivered_table]
        assert f"EXISTS mamori.{spec.table}_delivered (" in ddl
        assert f"LOCATION 's3://lake/curated/{spec.table}/'" in ddl
        view = sqlglot.parse_one(statements[spec.table], read="athena")
        assert isinstance(view, exp.Create) and view.args["kind"] == "VIEW"
        outer = view.expression
        assert [c.alias_or_name for c in outer.expressions] == [
            *spec.schema.names,
            "account",
            "region",
            "dt",
            "hour",
        ]
        assert {t.name for t in view.find_all(exp.Table)} == {spec.table, spec.delivered_table}
        window = next(view.find_all(exp.Window))
        assert [p.sql() for p in window.args["partition_by"]][:5] == [
            "account",
            "region",
            "dt",
            "hour",
            "eventid",
        ]
        assert names.index(spec.delivered_table) < names.index(spec.table) < names.index("all_events")
    recreate = [n for n, _ in table_statements(s, recreate=True)]
    assert recreate.index("try drop table cloudtrail") < recreate.index("cloudtrail")
    assert "drop cloudtrail_delivered" in recreate
