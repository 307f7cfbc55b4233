"""Enrichment queries: entity values enter SQL only as literals, results land in the ticket inert, and they
are computed once per alert (re-dispatch renders the same ticket without querying again)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlglot

from mamori import detect, ingest
from mamori.alerts import enrichment as enrichment_mod
from mamori.alerts.enrichment import load_enrichments, render_enrichment
from mamori.alerts.ledger import Alert, Ledger
from mamori.alerts.render import enrichment_markdown
from mamori.detections.dedup import group_hits
from mamori.detections.loader import get_detection
from mamori.detections.runner import run_detection
from mamori.dev.generate import write_samples as generate
from mamori.engines import get_engine

REPO = Path(__file__).resolve().parents[2]
T = datetime(2026, 11, 1, 2, tzinfo=UTC)


@pytest.mark.parametrize("value", ["198.51.100.23", "x' OR '1'='1", "'); DROP TABLE cloudtrail; --"])
def test_entity_is_one_string_literal(value):
    enr = load_enrichments(REPO / "sql")["ip_activity_all_sources"]
    sql = render_enrichment(enr, value, T, T + timedelta(minutes=5))
    tree = sqlglot.parse_one(sql, read="athena")
    literals = [lit.this for lit in tree.find_all(sqlglot.exp.Literal) if lit.is_string]
    assert value in literals
    assert "dt = '2026-11-01'" in sql and "LIMIT 25" in sql
    assert not list(tree.find_all(sqlglot.exp.Drop))


def test_enrichment_tables_are_inert_and_bounded():
    hostile = "@org/team | [x](http://evil) <img src=x> \u202e" + "y" * 5000
    md = "\n".join(
        enrichment_markdown(
            [
                {
                    "id": "e",
                    "title": "T",
                    "entity": hostile,
                    "columns": ["c|1", "c2"],
                    "rows": [[hostile, 1]] * 30,
                }
            ]
        )
    )
    assert "\u202e" not in md
    for line in md.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            outside = re.sub(r"(`+)(?:(?!\1).)*\1", "", line)
            assert "@org" not in outside and "<img" not in outside and "](http" not in outside
    assert "10 more rows" in md
    assert len(md) < 40_000


@pytest.mark.slow
def test_dispatch_enriches_once_from_the_lake(settings, monkeypatch):
    start = datetime(2026, 11, 1, tzinfo=UTC)
    generate(start, 6, seed=7, sources=["cloudtrail", "vpcflow"])
    for name in ("cloudtrail", "vpcflow"):
        for h in range(7):
            ws = start + timedelta(hours=h)
            for b in ingest.plan_window(name, ws, ws + timedelta(hours=1), settings):
                ingest.convert_batch(b, settings)
            ingest.finalize_window(name, ws, ws + timedelta(hours=1), settings)
    det = get_detection(settings.sql_dir, "cloudtrail_root_activity")
    engine = get_engine(settings)
    hits = run_detection(det, engine, start, start + timedelta(hours=6))
    engine.close()
    assert hits
    ledger = Ledger(settings.ledger_url)
    ledger.record_window(det, start, start + timedelta(hours=6), group_hits(det, hits))

    calls = []
    real = enrichment_mod.run_enrichments
    monkeypatch.setattr("mamori.detect.run_enrichments", lambda *a, **k: calls.append(1) or real(*a, **k))
    detect.dispatch(settings)
    [alert] = ledger.alerts()
    assert isinstance(alert, Alert) and alert.enrichment
    by_id = {(r["id"], r["entity"]): r for r in alert.enrichment}
    ip_rows = by_id[("ip_activity_all_sources", "198.51.100.23")]["rows"]
    sources = {row[0] for row in ip_rows}
    assert {"cloudtrail", "vpcflow"} <= sources  # the attacker's scan and console login, ±2 h
    principal = by_id[("principal_activity", "arn:aws:iam::111111111111:root")]
    assert any(row[2] == "ConsoleLogin" for row in principal["rows"])

    ticket = next((Path(settings.outbox_url.removeprefix("file://")) / "tickets").rglob("*.md"))
    first = ticket.read_text()
    assert "### Related activity" in first and "`vpcflow`" in first
    ledger.record_window(det, start, start + timedelta(hours=6), group_hits(det, hits + hits[:1]))
    detect.dispatch(settings)  # a recurrence re-renders the ticket from the stored results
    assert len(calls) == 1
    assert "### Related activity" in ticket.read_text()
