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
OLD_INCIDENT = "a" + "0" * 31


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
    for table, rows in before.items():  # every row kept; deliveries only gain the new (empty) columns
        assert [tuple(r)[: len(rows[0]) if rows else 0] for r in after[table]] == [tuple(r) for r in rows], (
            table
        )
    # Tables added since (the incidents of 0004, the triage actions of 0005, the detect windows of 0006) start
    # empty: the next detect window groups the alerts and notes when it was evaluated.
    assert {t: rows for t, rows in after.items() if t not in old_tables} == {
        "incidents": [],
        "incident_alerts": [],
        "incident_merges": [],
        "incident_actions": [],
        "detect_windows": [],
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


def _release_0004_ledger(path: Path) -> str:
    """A ledger as release 0004 left it: the alerts and deliveries of the fixture, grouped into one incident."""
    url = _previous_release_ledger(path)
    engine = sa.create_engine(url)
    migrations.upgrade(engine, "0004")
    keys = ["379e4301a2148bad232aa11f5eec1c34", "7c0c8994784dff0b057e277e5cec163e"]
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO incidents VALUES (:i, 'open', 'high', 'high (highest of its alerts)', "
                "'[\"TA0005\"]', '[]', 2, '2026-11-01T10:05:00+00:00', '2026-11-01T10:40:00+00:00', "
                "'2026-11-01T11:00:00+00:00')"
            ),
            {"i": OLD_INCIDENT},
        )
        for k in keys:
            conn.execute(
                sa.text("INSERT INTO incident_alerts VALUES (:k, :i, '2026-11-01T11:00:00+00:00')"),
                {"k": k, "i": OLD_INCIDENT},
            )
    assert migrations.current(engine) == "0004"
    return url


def test_a_0004_ledger_gains_triage_keeps_its_incidents_and_resends_nothing(
    tmp_path, monkeypatch, output_connections
):
    """0005 adds the incident verdict and the append-only incident_actions: existing incidents stay as they
    were (open, no verdict), their alerts open, and dispatching after the upgrade sends only what was due."""
    url = _release_0004_ledger(tmp_path / "r0004.db")
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        before = {
            t: conn.execute(sa.text(f"SELECT * FROM {t} ORDER BY 1, 2")).all()
            for t in ("alerts", "alert_hits", "deliveries", "suppressed", "incidents", "incident_alerts")
        }

    ledger = Ledger(url)

    assert migrations.current(engine) == migrations.HEAD
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), META) == []
        for table, rows in before.items():
            after = conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY 1, 2")).all()
            assert [tuple(r)[: len(rows[0])] for r in after] == [tuple(r) for r in rows], table
        (inc,) = conn.execute(sa.text("SELECT status, verdict FROM incidents")).all()
        assert tuple(inc) == ("open", None)
        assert conn.execute(sa.text("SELECT count(*) FROM incident_actions")).scalar() == 0

    from mamori.alerts import incidents, triage

    (listed,) = incidents.list_incidents(ledger, open_only=True)
    assert listed.incident_id == OLD_INCIDENT and listed.verdict is None

    monkeypatch.setenv("MAMORI_LEDGER_URL", url)
    fake_github, fake_pagerduty, fake_slack = output_connections
    from mamori.config import load_settings

    assert detect.dispatch(load_settings())["delivered"] == 1  # the Slack message that had failed
    assert not [m for m, _ in fake_github.received() if m in ("POST", "PATCH")]
    assert fake_pagerduty.events == [] and len(fake_slack.messages) == 1

    # The migrated incident can be triaged at once.
    assert triage.close(ledger, listed.incident_id, "true-positive", "alice").alerts == 2


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
