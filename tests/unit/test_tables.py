"""AWS mode's table maintenance: projection values follow configuration on tables that already exist.

`CREATE EXTERNAL TABLE IF NOT EXISTS` keeps an existing table as it is, so an account added to
MAMORI_ACCOUNTS (or a region, or a new lake URL) left every table's partition projection blind to its logs
until someone ran `mamori tables --recreate`: Athena answered with no rows and no error."""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from mamori.config import load_settings
from mamori.engines.tables import table_statements
from mamori.sources import SPECS

ACCOUNTS = "111111111111,222222222222,333333333333"


def _settings(tmp_path, accounts: str = ACCOUNTS):
    return load_settings(
        {
            "MAMORI_HOME": str(tmp_path),
            "MAMORI_ENGINE": "athena",
            "MAMORI_LAKE_URL": "s3://lake-bucket/lake",
            "MAMORI_ATHENA_OUTPUT": "s3://results-bucket/athena/",
            "MAMORI_ACCOUNTS": accounts,
            "MAMORI_REGIONS": "us-east-1,eu-west-1",
        }
    )


def _props(sql: str) -> dict[str, str]:
    tree = sqlglot.parse_one(sql, read="athena")
    return {p.name: p.args["value"].name for p in tree.find_all(exp.Property) if type(p) is exp.Property}


def test_every_table_gets_the_configured_projection_even_when_it_exists(tmp_path):
    stmts = dict(table_statements(_settings(tmp_path)))
    for src in SPECS.values():  # the table over the lake (`<table>_delivered` under a one-row-per-event view)
        alter = stmts[f"projection {src.delivered_table}"]
        assert alter.startswith(f"ALTER TABLE mamori.{src.delivered_table} SET TBLPROPERTIES (")
        set_props = _props(alter)
        created = _props(stmts[src.delivered_table])
        # Every projection property and the location template, exactly as the CREATE would have them.
        wanted = {
            k: v
            for k, v in created.items()
            if k.startswith("projection.") or k == "storage.location.template"
        }
        assert set_props == wanted, src.delivered_table
        assert set_props["projection.account.values"] == ACCOUNTS
        assert set_props["projection.region.values"] == "us-east-1,eu-west-1"
    names = [n for n, _ in table_statements(_settings(tmp_path))]
    for src in SPECS.values():  # after its CREATE, before the views that read it
        t = src.delivered_table
        assert names.index(t) < names.index(f"projection {t}") < names.index("all_events")
        if src.duplicate_delivery:
            assert names.index(f"projection {t}") < names.index(src.table) < names.index("all_events")


def test_adding_an_account_changes_the_statements_run_on_existing_tables(tmp_path):
    before = dict(table_statements(_settings(tmp_path, "111111111111")))
    after = dict(table_statements(_settings(tmp_path, "111111111111,444444444444")))
    assert "'111111111111,444444444444'" in after["projection cloudtrail_delivered"]
    assert before["projection cloudtrail_delivered"] != after["projection cloudtrail_delivered"]
