"""Ledger upgrades keep history: a ledger written by the release before migrations is migrated in place, its
alerts and delivery state survive, and dispatching afterwards re-sends nothing that was delivered."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from mamori import detect
from mamori.alerts import migrations
from mamori.alerts.ledger import META, Ledger

FIXTURE = Path(__file__).parent / "fixtures" / "ledger_pre_migrations.sql"


def _previous_release_ledger(path: Path) -> str:
    con = sqlite3.connect(path)
    con.executescript(FIXTURE.read_text())
    con.close()
    return f"sqlite:///{path}"


def test_head_constant_matches_the_revisions_on_disk():
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations.HERE))
    assert ScriptDirectory.from_config(cfg).get_heads() == [migrations.HEAD]


def test_a_new_ledger_is_created_by_the_migrations_and_matches_the_model(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'new.db'}")
    assert migrations.current(ledger.engine) == migrations.HEAD
    with ledger.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), META) == []


def test_a_previous_release_ledger_is_migrated_and_nothing_delivered_is_resent(
    tmp_path, monkeypatch, output_connections
):
    url = _previous_release_ledger(tmp_path / "old.db")
    engine = sa.create_engine(url)
    assert migrations.current(engine) is None
    with engine.connect() as conn:
        old_tables = [t for t in META.tables if sa.inspect(conn).has_table(t)]
        before = {t: conn.execute(sa.text(f"SELECT * FROM {t} ORDER BY 1, 2")).all() for t in old_tables}

    ledger = Ledger(url)  # opening migrates

    assert migrations.current(engine) == migrations.HEAD
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), META) == []
        after = {t: conn.execute(sa.text(f"SELECT * FROM {t} ORDER BY 1, 2")).all() for t in META.tables}
    for table, rows in before.items():  # every row kept; deliveries only gain the two new (empty) columns
        assert [tuple(r)[: len(rows[0]) if rows else 0] for r in after[table]] == [tuple(r) for r in rows], (
            table
        )
    # Tables added since (the incidents of 0004) start empty: the next detect window groups the alerts.
    assert {t: rows for t, rows in after.items() if t not in old_tables} == {
        "incidents": [],
        "incident_alerts": [],
        "incident_merges": [],
    }
    assert len(ledger.alerts()) == 2 and sum(d["state"] == "delivered" for d in ledger.deliveries()) == 5

    monkeypatch.setenv("MAMORI_LEDGER_URL", url)
    fake_github, fake_pagerduty, fake_slack = output_connections
    from mamori.config import load_settings

    summary = detect.dispatch(load_settings())

    # Only the one delivery that had failed before the upgrade is sent; the five delivered are not re-sent.
    assert summary["delivered"] == 1
    assert not [m for m, _ in fake_github.received() if m in ("POST", "PATCH")]
    assert fake_pagerduty.events == []
    assert len(fake_slack.messages) == 1


def test_concurrent_opens_of_an_old_ledger_migrate_once(tmp_path):
    url = _previous_release_ledger(tmp_path / "old.db")
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            Ledger(url)
        except BaseException as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert migrations.current(sa.create_engine(url)) == migrations.HEAD


def test_cli_db_current_and_upgrade(tmp_path, monkeypatch, capsys):
    from mamori.cli import main

    url = _previous_release_ledger(tmp_path / "old.db")
    monkeypatch.setenv("MAMORI_LEDGER_URL", url)
    assert main(["db", "current"]) == 0
    assert capsys.readouterr().out.startswith("none")
    assert main(["db", "upgrade"]) == 0
    assert capsys.readouterr().out.strip() == f"ledger schema: none -> {migrations.HEAD}"
    assert main(["db", "current"]) == 0
    assert capsys.readouterr().out.strip() == migrations.HEAD
